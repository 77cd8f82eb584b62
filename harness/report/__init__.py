"""Rendering check results: :mod:`~harness.report.markdown` (``report.md``, and the run report's
assembly) and :mod:`~harness.report.html` (one self-contained ``report.html``)."""
