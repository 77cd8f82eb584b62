"""The pretrained musicnn models (Pons & Serra 2019, "musicnn: pre-trained convolutional neural
networks for music audio tagging") ported to PyTorch, their weights read from the TensorFlow
checkpoints the ``musicnn`` wheel (0.1.0, ISC licence) ships.

Modules: :mod:`~models.musicnn.tensor_bundle` (a reader of TensorFlow's tensor-bundle
checkpoint format that runs no code), :mod:`~models.musicnn.musicnn_net` (the musicnn
architecture), :mod:`~models.musicnn.vgg_net` (the VGG-style baseline of the same package),
:mod:`~models.musicnn.layers` (what both share: TensorFlow's batch normalisation, the output),
:mod:`~models.musicnn.weights` (finding, checking, converting and caching the checkpoints),
:mod:`~models.musicnn.tags` (the 50 tags of each training set).
"""
