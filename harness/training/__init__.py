"""Neural training: the estimator behind fit/predict_proba, the fit loop and its parts.

Modules: :mod:`~harness.training.estimator` (:class:`NeuralClassifier`),
:mod:`~harness.training.fit_loop` (the epoch loop), :mod:`~harness.training.steps` (one epoch's
optimiser steps, prediction, losses), :mod:`~harness.training.loaders` (training and evaluation
DataLoaders), :mod:`~harness.training.chunks` (crops and evaluation chunks of log-mel arrays),
:mod:`~harness.training.checkpoint` (atomic checkpoints), :mod:`~harness.training.runtime`
(device, mixed precision, seeding), :mod:`~harness.training.distributed` (DDP),
:mod:`~harness.training.progress` and :mod:`~harness.training.sanity` (model sanity checks).

This package's ``__init__`` imports nothing, so importing a submodule that needs no torch stays
cheap.
"""
