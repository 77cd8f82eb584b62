"""The pretrained networks the harness can embed with, known by name.

Each source is a musicnn checkpoint shipped inside the ``musicnn`` wheel (0.1.0, ISC licence;
Pons & Serra 2019) and ported to PyTorch in :mod:`models.musicnn`. The harness names the port
only through ``"module:attr"`` strings, as it names every model.

===============  ==============  ====================================================  =====
source           checkpoint      trained on                                            tags
===============  ==============  ====================================================  =====
``musicnn-msd``  MSD_musicnn     Million Song Dataset, top-50 Last.fm tags             50
``musicnn-mtt``  MTT_musicnn     MagnaTagATune, top-50 tags                            50
``vgg-msd``      MSD_vgg         Million Song Dataset (a VGG-style baseline)           50
``vgg-mtt``      MTT_vgg         MagnaTagATune (a VGG-style baseline)                  50
===============  ==============  ====================================================  =====

Layers offered per patch of 187 frames (3 s): musicnn: ``taggram`` (the 50 tag
probabilities), ``penultimate`` (200, the dense layer before the tags), ``mean_pool`` and
``max_pool`` (753 each, the temporal pooling of the mid-end's feature maps); vgg:
``taggram`` and ``pool5`` (the last pooled feature map, flattened).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ParameterError
from harness.registry import HF_PREFIX, HF_REPRESENTATIONS

#: ``load(checkpoint, cache_dir=...)`` returns the eval-mode torch module of a checkpoint.
LOADER = "models.musicnn.weights:load_pretrained"
#: ``check(checkpoint)`` raises one line when a checkpoint is missing or altered.
CHECKER = "models.musicnn.weights:checkpoint_files"


@dataclass(frozen=True)
class PretrainedSource:
    """One pretrained network: its name here, its checkpoint and what it offers."""

    name: str
    checkpoint: str  # a musicnn checkpoint, or an hf: source's path or hub id
    tags_target: str  # "module:attr" of its tag names, in output order ("" for none)
    layers: tuple[str, ...]
    summary: str
    kind: str = "spectrogram"  # its input: musicnn spectrogram patches, or "waveform" windows


MUSICNN_LAYERS = ("taggram", "penultimate", "mean_pool", "max_pool")
VGG_LAYERS = ("taggram", "pool5")

SOURCES: dict[str, PretrainedSource] = {
    source.name: source
    for source in (
        PretrainedSource(
            "musicnn-msd",
            "MSD_musicnn",
            "models.musicnn.tags:MSD_TAGS",
            MUSICNN_LAYERS,
            "musicnn trained on the Million Song Dataset's top-50 tags",
        ),
        PretrainedSource(
            "musicnn-mtt",
            "MTT_musicnn",
            "models.musicnn.tags:MTT_TAGS",
            MUSICNN_LAYERS,
            "musicnn trained on MagnaTagATune's top-50 tags",
        ),
        PretrainedSource(
            "vgg-msd",
            "MSD_vgg",
            "models.musicnn.tags:MSD_TAGS",
            VGG_LAYERS,
            "VGG-style CNN trained on the Million Song Dataset's top-50 tags",
        ),
        PretrainedSource(
            "vgg-mtt",
            "MTT_vgg",
            "models.musicnn.tags:MTT_TAGS",
            VGG_LAYERS,
            "VGG-style CNN trained on MagnaTagATune's top-50 tags",
        ),
    )
}


def get_source(name: str) -> PretrainedSource:
    """The source called ``name`` (or an ``hf:PATH_OR_ID`` one, :mod:`harness.pretrained.hf`);
    an unknown name is one line listing the known ones."""
    if is_hf_source(name):
        return hf_source(name)
    try:
        return SOURCES[name]
    except KeyError:
        raise ParameterError(
            f"unknown pretrained source {name!r}; expected one of {', '.join(SOURCES)} "
            "or hf:PATH_OR_ID (a Hugging Face audio model)"
        ) from None


def is_hf_source(name: str) -> bool:
    """True for an ``hf:PATH_OR_ID`` source name."""
    return str(name).startswith(HF_PREFIX)


def hf_source(name: str) -> PretrainedSource:
    """The source ``hf:PATH_OR_ID``: its layers are :data:`HF_REPRESENTATIONS`, no tags."""
    where = name[len(HF_PREFIX) :].strip()
    if not where:
        raise ParameterError(f"{name!r} names no Hugging Face model; expected hf:PATH_OR_ID")
    return PretrainedSource(
        name, where, "", HF_REPRESENTATIONS, f"Hugging Face model {where}", kind="waveform"
    )


def check_installed(source: PretrainedSource) -> None:
    """The source's checkpoint is installed and unaltered (one line saying what to install);
    an ``hf:`` source is checked when it is loaded."""
    from harness.registry import load_target

    if source.kind == "waveform":
        return
    load_target(CHECKER)(source.checkpoint)


def source_tags(source: PretrainedSource) -> list[str]:
    """The tag names of ``source``'s taggram columns, in order (none for an ``hf:`` source)."""
    from harness.registry import load_target

    if not source.tags_target:
        return []
    return list(load_target(source.tags_target))
