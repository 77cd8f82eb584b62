"""The synthetic FMA generator: :mod:`~harness.data.synth.generate` (:class:`SynthConfig`,
:func:`generate`), the catalogue (:mod:`~harness.data.synth.metadata`), the music
(:mod:`~harness.data.synth.music`, genre recipes in :mod:`~harness.data.synth.recipes`) and
the planted faults (:mod:`~harness.data.synth.faults`)."""
