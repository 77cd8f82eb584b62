"""The run checks: what a run folder says about its models (stage ``"run"``).

Modules: :mod:`~harness.checks.runs.failures`, :mod:`~harness.checks.runs.model_sanity`,
:mod:`~harness.checks.runs.results`, :mod:`~harness.checks.runs.seeds`,
:mod:`~harness.checks.runs.tagging`, :mod:`~harness.checks.runs.artists`,
:mod:`~harness.checks.runs.style_map` (its figure in :mod:`~harness.checks.runs.style_figures`),
:mod:`~harness.checks.runs.embedding_duplicates`, :mod:`~harness.checks.runs.robustness` (its
figure in :mod:`~harness.checks.runs.robustness_figures`), :mod:`~harness.checks.runs.preparation`
and :mod:`~harness.checks.runs.timing`.
"""
