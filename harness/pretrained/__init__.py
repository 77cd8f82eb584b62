"""Pretrained audio networks as frozen embedders: their sources, the embeddings they give every
clip, and the clip-level tables the probes and checks read.

Modules: :mod:`~harness.pretrained.sources` (the pretrained networks known by name, as
registry strings: the harness imports no model module), :mod:`~harness.pretrained.patches`
(a clip's spectrogram cut into the network's patches), :mod:`~harness.pretrained.embedder`
(a loaded network run in batches on CPU or GPU), :mod:`~harness.pretrained.store` (the
crash-safe, resumable cache of every clip's patch embeddings), :mod:`~harness.pretrained.tables`
(clip-level representations: patch mean / max, the taggram).
"""
