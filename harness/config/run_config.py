"""Every option of a run, read from the command line, a ``run.toml`` or Python, and checked
before any work starts: the public face of :mod:`harness.config`.

:class:`RunConfig` is the one schema (:mod:`~harness.config.schema`); :func:`check_config`
checks a configuration against it (pydantic, :mod:`~harness.config.validation`) and then against
the world (:mod:`~harness.config.preflight`); :func:`load_config` builds one from a ``run.toml``
and keyword values, as the ``run`` and ``train`` commands do.
"""

from __future__ import annotations

from harness.config.preflight import check_writable, model_entry, preflight
from harness.config.schema import FEATURE_SOURCES, PRESETS, SEED_LIMIT, RunConfig
from harness.config.validation import (
    check_seed,
    load_config,
    load_config_file,
    validate_config,
)

__all__ = [
    "FEATURE_SOURCES",
    "PRESETS",
    "SEED_LIMIT",
    "RunConfig",
    "check_config",
    "check_seed",
    "check_writable",
    "load_config",
    "load_config_file",
    "model_entry",
]


def check_config(config: RunConfig) -> None:
    """Refuse an inconsistent configuration before any work is done.

    Each problem is one :class:`~harness.errors.ParameterError` line naming the option, the
    value, what was expected and what to do: first every field against the schema (the seed
    and seeds, the models, the presets, every type), then the world (the run folder, the models
    and every key of their ``[params.NAME]``, the dataset root, the test folder and its answer
    key, the output folders and the device). Nothing is generated, decoded, trained or written
    before this.
    """
    validate_config(config)
    preflight(config)
