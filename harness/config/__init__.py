"""The configuration of a run: one schema for the command line, ``run.toml`` and Python.

Modules: :mod:`~harness.config.schema` (:class:`RunConfig`: every field, its type and bounds,
its help and the texts of its errors), :mod:`~harness.config.validation` (the schema checked by
pydantic, a failure as one line, ``run.toml`` read), :mod:`~harness.config.preflight` (the
checks that look at the world), :mod:`~harness.config.model_settings` (the device, and each
model's ``[params.NAME]`` against what its factory accepts and can build) and
:mod:`~harness.config.run_config` (the public face: ``check_config``, ``load_config``).
"""
