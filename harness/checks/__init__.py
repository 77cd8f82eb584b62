"""The debugging checklist: every check's result with a verdict, its evidence and what to do.

Modules: :mod:`~harness.checks.base` (:class:`CheckResult` and shared helpers),
:mod:`~harness.checks.registry` (the one registry ``check``, ``run`` and ``report`` iterate),
:mod:`~harness.checks.runner` (the data stage), :mod:`~harness.checks.figures` (the report's
figures), :mod:`~harness.checks.truth` (a report scored against the synthetic set's planted
faults); the families in :mod:`harness.checks.data` and :mod:`harness.checks.runs`.
"""
