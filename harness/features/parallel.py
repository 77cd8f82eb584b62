"""Execute clip tasks: sequentially, on joblib's loky processes, or on dask.distributed.

The dask path goes through joblib's dask backend, so the same :func:`run_tasks` call serves a
laptop and a cluster: ``scheduler="local"`` starts a LocalCluster (one single-threaded worker
process per core), any other string is a scheduler address such as ``"tcp://head:8786"``. The
workers must see the audio files and the cache directory at the same paths (a shared
filesystem), since they write their results there and return only status rows.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

from harness import log
from harness.errors import ParameterError


@contextlib.contextmanager
def _backend(scheduler: str | None, n_jobs: int) -> Iterator[None]:
    """joblib's default (loky) backend, or its dask backend on ``scheduler``."""
    if scheduler is None:
        yield
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ParameterError(
            "--scheduler needs dask.distributed; install it with pip install 'fma-harness[dist]'"
        ) from exc
    from joblib import parallel_config

    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            n_workers = n_jobs if n_jobs > 0 else max(1, os.cpu_count() or 1)
            cluster = stack.enter_context(
                LocalCluster(n_workers=n_workers, threads_per_worker=1, dashboard_address=None)
            )
            stack.enter_context(Client(cluster))
        else:
            stack.enter_context(Client(scheduler, timeout="30s"))
        stack.enter_context(parallel_config(backend="dask", wait_for_workers_timeout=60))
        yield


LINE_EVERY_SECONDS = 30.0  # longest silence of the line log


def _progress_lines(total: int) -> Callable[[], None]:
    """``advance()`` printing a line (done, rate, time left) at most every 30 s and at the end."""
    started = last = time.perf_counter()
    done = 0

    def advance() -> None:
        nonlocal done, last
        done += 1
        now = time.perf_counter()
        if now - last < LINE_EVERY_SECONDS and done < total:
            return
        rate = done / max(now - started, 1e-9)
        left = f", ~{(total - done) / rate:.0f} s left" if done < total else ""
        log.info(f"  features: {done}/{total} clips, {rate:.1f} clips/s{left}")
        last = now

    return advance


@contextlib.contextmanager
def _progress_bar(show: bool | None, total: int) -> Iterator:
    """``advance()`` for a rich progress bar (clips/s, ETA) when ``show``, for log lines when
    ``show`` is None (not a terminal), or doing nothing when False."""
    if show is None and total:
        yield _progress_lines(total)
        return
    if not show or total == 0:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} clips/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("features", total=total, rate="  -.-")

        def advance() -> None:
            bar.advance(task)
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:5.1f}" if speed else "  -.-")

        yield advance


def run_tasks(
    fn: Callable, tasks: list, *, n_jobs: int, scheduler: str | None, progress: bool | None
) -> list[dict]:
    """``[fn(task) for task in tasks]`` in parallel, in completion order, with a progress bar.

    Parameters
    ----------
    fn : callable
        Picklable by reference (a module-level function).
    tasks : list
    n_jobs : int
        Workers; 1 (and no scheduler) runs in this process, -1 uses every core / dask worker.
    scheduler : str or None
        None for loky, "local" for a LocalCluster, or a dask scheduler address.
    progress : bool or None
        Show a rich progress bar (clips/s, ETA); None shows it when stderr is a terminal and
        prints a line at most every 30 s otherwise; False prints nothing.
    """
    if not tasks:
        return []
    if progress is None and log.is_quiet():
        progress = False
    show = (True if sys.stderr.isatty() else None) if progress is None else bool(progress)
    rows = []
    with _progress_bar(show, len(tasks)) as advance:
        if n_jobs == 1 and scheduler is None:
            results = map(fn, tasks)
        else:
            from joblib import Parallel, delayed

            stack = contextlib.ExitStack()
            stack.enter_context(_backend(scheduler, n_jobs))
            runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            results = _closing(runner(delayed(fn)(t) for t in tasks), stack)
        for row in results:
            rows.append(row)
            advance()
    return rows


def _closing(results, stack: contextlib.ExitStack) -> Iterator:
    with stack:
        yield from results
