"""The schema checked by pydantic, and its one translation of a failure into the project's
one-line :class:`~harness.errors.ParameterError`; ``run.toml`` read into the same schema.

pydantic is imported here, when a configuration is checked, never by ``--help``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from harness.config.schema import FIELDS, PATH_FIELDS, After, RunConfig, combination_rules
from harness.errors import ParameterError


@cache
def _validator(rules: bool = True) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(Annotated[RunConfig, After(combination_rules)] if rules else RunConfig)


def validate_config(
    config: RunConfig, *, sources: Mapping[str, Path] | None = None, rules: bool = True
) -> None:
    """Check every field of ``config`` against the schema (types, bounds, choices, and with
    ``rules`` the rules across fields); the first problem is one ParameterError line.
    ``sources`` maps the fields read from a file to that file, which the line then names
    (``run.toml: out = 5: ...``)."""
    from pydantic import ValidationError

    try:
        _validator(rules).validate_python(config)
    except ValidationError as exc:
        raise one_line(exc, config, sources or {}) from None


def one_line(exc: Any, config: RunConfig, sources: Mapping[str, Path]) -> ParameterError:
    """The first error of a pydantic ``ValidationError`` as the line the user reads: the option
    (or ``FILE: key =``), its value, what was expected (the field's texts in the schema) and
    what to do. A rule that raised its own ParameterError gives that line."""
    error = exc.errors()[0]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ParameterError):
        return cause
    if not error["loc"]:  # not a RunConfig at all
        return ParameterError(f"{config!r}: expected a RunConfig ({error['msg']})")
    name, *inner = error["loc"]
    about, value = FIELDS[name], getattr(config, name)
    if name in sources:
        label, shown = f"{sources[name]}: {name} =", repr(value)
    else:
        label = about["label"] or name
        listed = isinstance(value, list | tuple) and label.startswith("--")
        shown = ",".join(map(str, value)) if listed else repr(value)  # as typed: --seeds 0,x
    if inner and about["item"]:
        what = f": {error['input']!r} is not {about['item']}"
    elif error["type"] == "literal_error":
        what = f" is not one of {about['expected']}"
    else:
        what = f": expected {about['expected']}"
    hint = f"; {about['hint']}" if about["hint"] else ""
    return ParameterError(f"{label} {shown}{what}{hint}")


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a ``run.toml`` into RunConfig keyword arguments (unknown keys are an error; the
    values are checked with the rest of the configuration, see :func:`load_config`)."""
    try:
        raw = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ParameterError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not valid TOML ({exc})") from exc
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise ParameterError(
            f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}"
        )
    return {k: (Path(v) if k in PATH_FIELDS and isinstance(v, str) else v) for k, v in raw.items()}


def load_config(config_file: Path | None = None, /, **values: Any) -> RunConfig:
    """The RunConfig of ``config_file`` (a run.toml, optional) with ``values`` over it,
    checked against the schema. The file's own values are checked first, each named by the
    file (even one that ``values`` replaces: a wrong file is refused, not half used)."""
    from_file = load_config_file(config_file) if config_file else {}
    if from_file:
        sources = dict.fromkeys(from_file, Path(config_file))
        validate_config(RunConfig(**from_file), sources=sources, rules=False)
    config = RunConfig(**(from_file | values))
    validate_config(config)
    return config


def check_seed(seed: Any) -> None:
    """A seed is a whole number with 0 <= seed < 2**32 (what numpy and torch accept)."""
    check_field("seed", seed)


def check_field(name: str, value: Any) -> None:
    """One run option against the schema, the others at their defaults: a command's option of
    the same name (``--n-jobs``, ``--min-duration``) is checked by the same bounds and gives
    the same one line as ``run``'s."""
    validate_config(RunConfig(**{name: value}))
