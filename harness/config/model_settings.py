"""What a run's device and models are checked for before any work: the device string, and each
model's ``[params.NAME]`` against what its factory accepts and can build."""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from harness.errors import HarnessError, ParameterError
from harness.registry import ModelEntry, load_target

DEVICE_HELP = "auto, cpu, cuda or cuda:N"
# settings a run gives a neural estimator itself, and the option that sets each
RUN_SETTINGS = {
    "random_state": "--seed",
    "device": "--device",
    "ddp": "--ddp",
    "checkpoint_dir": "--cache-dir",
    "model": "--models",
}


def check_device(device: str) -> None:
    """``auto``, ``cpu``, or a device torch can parse and this machine has (CUDA, MPS)."""
    if device in ("auto", "cpu"):
        return
    import torch  # only for an explicit device: `--help` and CPU runs need not wait for it

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda", "mps"):
        raise ParameterError(f"--device {device!r}: not a device; expected {DEVICE_HELP}")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        raise ParameterError(
            f"--device {device}: CUDA is not available on this machine ({why}); "
            "use --device cpu or --device auto"
        )
    if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
        raise ParameterError(
            f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"numbered from 0; pass --device cuda:N with N below that, or --device cuda"
        )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ParameterError(f"--device {device}: MPS is not available; use --device cpu")


def accepted_settings(entry: ModelEntry) -> set[str] | None:
    """The keys ``[params.NAME]`` may set: NeuralClassifier's parameters for a log-mel model,
    the factory's keyword parameters for a feature-table one; None when it takes ``**kwargs``."""
    if entry.is_neural:
        from harness.training.estimator import NeuralClassifier  # imports torch

        target: Any = NeuralClassifier
    else:
        target = load_target(entry.target)
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):  # no signature to read: the factory decides
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_settings(entry: ModelEntry, params: dict[str, Any]) -> None:
    """Every key of ``[params.NAME]`` is a setting of the model that the run does not set."""
    name = entry.name
    run_set = RUN_SETTINGS if entry.is_neural else {"random_state": "--seed"}
    accepted = accepted_settings(entry)
    for key in params:
        if key in run_set:
            raise ParameterError(
                f"[params.{name}] {key}: set by the run itself; remove it from [params.{name}] "
                f"and use {run_set[key]}"
            )
        if accepted is not None and key not in accepted:
            known = sorted(accepted - set(run_set))
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"[params.{name}] {key}: not a setting of {name}.{hint} Expected one of: "
                f"{', '.join(known)}; fix or remove it in run.toml"
            )
    if accepted is None and not entry.is_neural:
        check_factory_accepts(entry, params)


def check_neural_settings(entry: ModelEntry, params: dict[str, Any], *, preset: str) -> None:
    """The values of a neural model's ``[params.NAME]``: whole epochs and batch size, and a
    network its settings can build (its preset, ``model_params``, pools for the run's mel
    bands), before any data work; an untrained network is cheap to build."""
    from harness.features.config import LogMelConfig
    from harness.registry import neural_settings
    from harness.training.estimator import NeuralClassifier

    name = entry.name
    for key in ("epochs", "batch_size"):
        value = params.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParameterError(
                f"[params.{name}] {key} = {value!r}: expected a whole number "
                "of 1 or more; fix it in run.toml"
            )
    settings = neural_settings(entry, preset=preset, params=params, quick=False)
    try:
        estimator = NeuralClassifier(model=name, **settings)
        estimator.build_module(n_classes=2, n_mels=LogMelConfig().n_mels)
    except (HarnessError, TypeError, ValueError) as exc:
        problem = str(exc).rstrip(".")
        raise ParameterError(f"[params.{name}]: {problem}; fix it in run.toml") from None


def check_factory_accepts(entry: ModelEntry, params: dict[str, Any]) -> None:
    """Build a feature-table model's estimator (cheap, nothing is fitted) so that a key its
    ``**kwargs`` pass on to an estimator that does not take it fails now, not after the data
    work."""
    try:
        load_target(entry.target)(random_state=0, **params)
    except TypeError as exc:
        raise ParameterError(
            f"[params.{entry.name}]: a setting is not accepted ({exc}); fix or remove it in "
            "run.toml (see the docstring of the model's factory)"
        ) from None
