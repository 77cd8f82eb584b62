"""The review page: listen to a run's suspects, decide, and export ``label_fixes.csv``.

``fma-harness review RUN_DIR`` (or ``--root DATA_DIR``) writes ``review/index.html``, a page
that works from the file system: one card per suspect, sorted by how sure its check is, with
the clip's excerpt, a log-mel picture, the label, a model's top-3, the evidence and the
track's artist / album / split; the decisions (keep, relabel, drop, duplicate-of) are saved in
the browser and exported for ``--label-fixes`` (:mod:`harness.data.label_fixes`).

Modules:

- ``cards.py``: the suspects of the checks and of a model's predictions as :class:`Card` records;
- ``excerpts.py``: the audio excerpts (OGG/Vorbis) and log-mel pictures written beside the page;
- ``page.py``: the HTML (``page.css`` and ``page.js``, package data, inlined);
- ``build.py``: a run's (or a dataset's) cards, facts and excerpts into the page.
"""
