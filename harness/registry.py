"""Models registered by name as lazy ``"module:attr"`` targets, open to users' own models.

Nothing here imports torch or scikit-learn: a target is imported only when a model is built, so
``fma-harness --help`` stays fast. A target is a factory; what it returns depends on the input
the model consumes:

- ``consumes = "features"`` (the default): ``factory(random_state=..., **params)`` returns a
  scikit-learn style estimator (``fit``, ``predict_proba``, ``classes_``) fitted on a feature
  table of shape (n_tracks, n_features), MFCC-140 by default;
- ``consumes = "logmel"``: ``factory(*, n_classes, n_mels, preset, **model_params)`` returns a
  ``torch.nn.Module`` mapping log-mel chunks (batch, 1, n_mels, frames) to logits (batch,
  n_classes); the harness trains it with its one training loop;
- ``consumes = "embeddings"``: ``factory(random_state=..., **params)`` returns a scikit-learn
  style estimator fitted on clip-level representations of frozen pretrained networks (a table
  with columns (source, representation, feature), :mod:`harness.pretrained.tables`); the
  factory's ``pretrained`` lists the (source, representation) pairs it reads by default, and
  ``[params.NAME] candidates`` overrides them. ``fit`` may take ``X_val=, y_val=``.

Three ways to register a model, all resolved by :func:`get_entry`:

1. the built-in table :data:`BUILTIN_MODELS` below;
2. a Python entry point of the group ``fma_harness.models`` in the user's package, whose name is
   the model name and whose value is the factory's ``"module:attr"``;
3. a ``"module:attr"`` name given directly (``--models mfcc-logreg,my_pkg.tagger:build_model``);
4. ``hf:PATH_OR_ID``: a Hugging Face audio model (a folder written by ``save_pretrained``, or a
   hub id already downloaded) as a frozen embedder under the ``musicnn-probe`` probe
   (:func:`hf_entry`; the optional extra ``fma-harness[hf]`` installs transformers).

A factory declares its input with an attribute ``consumes`` (``"features"`` when absent) and may
carry ``training_defaults``, a dict of :class:`harness.training.estimator.NeuralClassifier`
settings (log-mel models) or factory keyword arguments (feature models) that the default run
uses; a run's ``[params.NAME]`` wins over them.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from harness.errors import ParameterError

FEATURES = "features"  # the model consumes a feature table (n_tracks, n_features)
LOGMEL = "logmel"  # the model consumes log-mel spectrograms (n_tracks, n_mels, frames)
EMBEDDINGS = "embeddings"  # the model consumes pretrained embeddings (n_tracks, n_columns)
CONSUMES = (FEATURES, LOGMEL, EMBEDDINGS)
MODELS_ENTRY_POINT_GROUP = "fma_harness.models"
#: ``hf:PATH_OR_ID`` names a Hugging Face model, a pretrained source and a probe on it.
HF_PREFIX = "hf:"
#: The clip-level representations of a Hugging Face source (:mod:`harness.pretrained.hf`): the
#: last hidden state, and the mean of every hidden state, each averaged over time.
HF_REPRESENTATIONS = ("hidden_last", "hidden_mean")


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its name, factory target, the input it consumes, a summary."""

    name: str
    target: str
    consumes: str
    summary: str
    defaults: tuple[tuple[str, Any], ...] = ()  # factory keyword arguments this entry implies

    @property
    def is_neural(self) -> bool:
        """True when the harness trains it with its torch loop (log-mel input)."""
        return self.consumes == LOGMEL


BUILTIN_MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("uniform", "baselines.reference:make_uniform", FEATURES, "1/C for every class"),
    ModelEntry("prior", "baselines.reference:make_prior", FEATURES, "training class frequencies"),
    ModelEntry(
        "mfcc-logreg",
        "baselines.logistic:make_logreg",
        FEATURES,
        "StandardScaler + LogisticRegression (FMA paper)",
    ),
    ModelEntry("svm", "baselines.svm:make_svm", FEATURES, "StandardScaler + RBF SVC"),
    ModelEntry("knn", "baselines.knn:make_knn", FEATURES, "StandardScaler + k-NN"),
    ModelEntry("mlp", "baselines.mlp:make_mlp", FEATURES, "StandardScaler + MLP (100 units)"),
    ModelEntry("cnn", "models.cnn:build_cnn", LOGMEL, "fully convolutional (Choi 2016)"),
    ModelEntry("crnn", "models.crnn:build_crnn", LOGMEL, "conv + GRU (Choi 2017)"),
    ModelEntry(
        "short-chunk",
        "models.short_chunk:build_short_chunk",
        LOGMEL,
        "7-layer CNN on 3.7 s chunks (Won 2020)",
    ),
    ModelEntry(
        "musicnn-probe",
        "baselines.probe:make_probe",
        EMBEDDINGS,
        "logistic probe on frozen musicnn embeddings (Pons 2019)",
    ),
    ModelEntry(
        "musicnn-zeroshot",
        "baselines.zeroshot:make_zeroshot",
        EMBEDDINGS,
        "musicnn's MSD tags mapped to genres, no training",
    ),
    ModelEntry(
        "musicnn-finetune",
        "models.musicnn.finetune:build_musicnn_finetune",
        LOGMEL,
        "pretrained musicnn trained end to end, new head",
    ),
)
# Built-ins left out of the default run (``--models`` names them): fine-tuning the pretrained
# network costs minutes per epoch on a CPU.
OPT_IN_MODELS = ("musicnn-finetune",)
# Reference rows: predict without looking at the input, reported as they are, never calibrated.
REFERENCE_MODELS = ("uniform", "prior")


def load_target(target: str) -> Callable:
    """Import ``"package.module:attr"`` and return the attribute (one line on failure)."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ParameterError(f"'{target}' is not a 'package.module:attr' target")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ParameterError(
            f"'{target}': module {exc.name} not found; install the package that provides it "
            "or put it on PYTHONPATH"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ParameterError(f"'{target}': module {module_name} has no attribute {attr}") from None


def entry_from_target(target: str, *, name: str | None = None) -> ModelEntry:
    """A registry entry for a user's factory: imports it to read ``consumes`` and its summary."""
    factory = load_target(target)
    consumes = getattr(factory, "consumes", FEATURES)
    if consumes not in CONSUMES:
        raise ParameterError(
            f"'{target}': consumes = {consumes!r}; expected one of {', '.join(CONSUMES)}"
        )
    doc = (getattr(factory, "__doc__", None) or "").strip()
    summary = doc.splitlines()[0] if doc else target
    return ModelEntry(name or target, target, consumes, summary)


@cache
def entry_point_targets(group: str) -> dict[str, str]:
    """name -> ``"module:attr"`` of the entry points installed packages register in ``group``
    (models here, checks in :mod:`harness.checks.registry`); read once per group."""
    return {point.name: point.value for point in metadata.entry_points(group=group)}


def refresh_entry_points() -> None:
    """Forget the entry points read so far (after installing a package in a live session)."""
    importlib.invalidate_caches()
    entry_point_targets.cache_clear()


def model_entries(*, broken: dict[str, str] | None = None) -> dict[str, ModelEntry]:
    """Every model known by name: the built-ins, then the entry points of installed packages.

    An entry-point model is imported here to learn what it consumes; a built-in is not. One
    that cannot be (a missing module, a bad ``consumes``) raises, or, with a ``broken`` dict,
    goes there as name -> problem while the others are listed.
    """
    entries = {entry.name: entry for entry in BUILTIN_MODELS}
    for name in entry_point_targets(MODELS_ENTRY_POINT_GROUP):
        try:
            entries[name] = _entry_point_model(name)
        except ParameterError as exc:
            if broken is None:
                raise
            broken[name] = str(exc)
    return entries


def _entry_point_model(name: str) -> ModelEntry:
    """The entry of the installed entry point ``name``; its problems name it and its group."""
    target = entry_point_targets(MODELS_ENTRY_POINT_GROUP)[name]
    where = f"entry point {MODELS_ENTRY_POINT_GROUP}:{name} ({target})"
    if name in {entry.name for entry in BUILTIN_MODELS}:
        raise ParameterError(
            f"{where} reuses the name of a built-in model; rename it in its package's entry points"
        )
    try:
        return entry_from_target(target, name=name)
    except ParameterError as exc:
        raise ParameterError(
            f"{where}: {exc}; fix or uninstall the package that registers it"
        ) from None


def get_entry(name: str) -> ModelEntry:
    """The entry for a registered name or a ``"module:attr"`` target; unknown names raise with
    the closest known names. Only the entry point asked for is imported: another package's
    broken one does not stop this one."""
    builtin = {entry.name: entry for entry in BUILTIN_MODELS}
    if name in builtin:
        return builtin[name]
    if name.startswith(HF_PREFIX):
        return hf_entry(name)
    if ":" in name:
        return entry_from_target(name)
    registered = entry_point_targets(MODELS_ENTRY_POINT_GROUP)
    if name in registered:
        return _entry_point_model(name)
    entries = [*builtin, *registered]
    close = difflib.get_close_matches(name, entries, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ParameterError(
        f"Unknown model '{name}'.{hint} Known: {', '.join(entries)} "
        "(or a 'package.module:factory' target)."
    )


def hf_entry(name: str) -> ModelEntry:
    """The probe on a Hugging Face model's embeddings: ``musicnn-probe``'s estimator choosing
    between :data:`HF_REPRESENTATIONS` of source ``name`` on validation."""
    if not name[len(HF_PREFIX) :].strip():
        raise ParameterError(
            f"model '{name}' names no Hugging Face model; expected hf:PATH_OR_ID, e.g. "
            "hf:./my-wav2vec2 (a folder written by save_pretrained)"
        )
    candidates = tuple((name, representation) for representation in HF_REPRESENTATIONS)
    probe = next(entry for entry in BUILTIN_MODELS if entry.name == "musicnn-probe")
    return ModelEntry(
        name,
        probe.target,
        EMBEDDINGS,
        f"logistic probe on frozen {name[len(HF_PREFIX) :]} embeddings (Hugging Face)",
        defaults=(("candidates", candidates),),
    )


def names() -> list[str]:
    """The models of the default run, in leaderboard order: every built-in but
    :data:`OPT_IN_MODELS`."""
    return [entry.name for entry in BUILTIN_MODELS if entry.name not in OPT_IN_MODELS]


def training_defaults(entry: ModelEntry, *, preset: str = "full") -> dict[str, Any]:
    """The settings a run trains ``entry`` with: its factory's ``training_defaults`` (the
    thorough schedule, preset "full"), updated with its ``fast_defaults`` for the "fast" and
    "quick" presets (a factory without them trains the same under every preset), and the
    entry's own ``defaults`` over them."""
    factory = load_target(entry.target)
    settings = dict(getattr(factory, "training_defaults", None) or {})
    if preset != "full":
        settings.update(getattr(factory, "fast_defaults", None) or {})
    return {**settings, **dict(entry.defaults)}


def spectrogram_set(entry: ModelEntry) -> str | None:
    """The cached spectrograms a log-mel model reads: its factory's ``feature_set``
    (``musicnn-mel`` for the fine-tuned musicnn), else the run's ``logmel``; None for a model
    that reads no spectrogram."""
    if not entry.is_neural:
        return None
    return getattr(load_target(entry.target), "feature_set", LOGMEL)


def pretrained_inputs(entry: ModelEntry, params: dict | None = None) -> list[tuple[str, str]]:
    """The (source, representation) pairs an embeddings model reads: ``params["candidates"]``
    when given (run.toml lists of two strings), else the entry's ``defaults`` (an ``hf:`` entry),
    else its factory's ``pretrained``."""
    if entry.consumes != EMBEDDINGS:
        return []
    listed = (params or {}).get("candidates", dict(entry.defaults).get("candidates"))
    if listed is None:
        listed = getattr(load_target(entry.target), "pretrained", ())
    pairs = []
    for pair in listed:
        if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(p, str) for p in pair):
            raise ParameterError(
                f"[params.{entry.name}] candidates: {pair!r} is not a [source, representation] "
                'pair; e.g. candidates = [["musicnn-msd", "penultimate"]]'
            )
        pairs.append((pair[0], pair[1]))
    return pairs


QUICK_EPOCHS = 2  # --quick: a smoke run


def neural_settings(entry: ModelEntry, *, preset: str, params: dict, quick: bool) -> dict:
    """The settings a run trains a neural model with: its factory's training defaults for
    ``preset`` (:data:`QUICK_EPOCHS` epochs when ``quick``), and the run's ``params`` over them,
    as the README promises (``[params.cnn] epochs = 3`` trains 3 epochs under --quick too)."""
    quick_epochs = {"epochs": QUICK_EPOCHS} if quick else {}
    return {**training_defaults(entry, preset=preset), **quick_epochs, **params}
