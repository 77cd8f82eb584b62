"""The musicnn checkpoints' TensorFlow variables as the ports' torch state dicts.

``tf.compat.v1.layers`` names each layer by its type and creation order (``conv2d``,
``conv2d_1``, ...; ``batch_normalization``, ``batch_normalization_1``, ...), except the vgg
convolutions, named ``1CNN`` ... ``5CNN`` in the original. The tables below pair each torch
module of :class:`~models.musicnn.musicnn_net.MusiCNN` and
:class:`~models.musicnn.vgg_net.MusicnnVGG` with its TensorFlow scope, in the original's order
of creation. Layouts: a conv2d kernel is ``[h, w, in, out]`` in TensorFlow, ``[out, in, h, w]``
in torch; a dense kernel ``[in, out]`` against ``[out, in]``. The optimiser's slots (``Adam``,
``Adam_1``, ``beta1_power``, ``beta2_power``) are not part of the network.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness.errors import DataError
from models.musicnn.musicnn_net import MusiCNN
from models.musicnn.vgg_net import MusicnnVGG

#: torch batch-norm buffer or parameter -> TensorFlow variable of the same scope.
BATCH_NORM_NAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}
OPTIMISER_VARIABLES = ("beta1_power", "beta2_power")


def _bn(i: int) -> str:
    return "batch_normalization" + (f"_{i}" if i else "")


def _conv(i: int) -> str:
    return "conv2d" + (f"_{i}" if i else "")


#: torch module path -> TensorFlow scope, musicnn: input norm, 2 timbral and 3 temporal
#: convolutions (each with its norm), 3 mid-end convolutions, the pooled norm, 2 dense.
MUSICNN_SCOPES: dict[str, str] = {
    "input_bn": _bn(0),
    **{f"timbral.{i}": _conv(i) for i in range(2)},
    **{f"timbral_bn.{i}": _bn(1 + i) for i in range(2)},
    **{f"temporal.{i}": _conv(2 + i) for i in range(3)},
    **{f"temporal_bn.{i}": _bn(3 + i) for i in range(3)},
    **{f"midend.{i}": _conv(5 + i) for i in range(3)},
    **{f"midend_bn.{i}": _bn(6 + i) for i in range(3)},
    "pool_bn": _bn(9),
    "dense": "dense",
    "dense_bn": _bn(10),
    "output": "dense_1",
}
#: The same for the vgg: input norm, 5 convolution blocks, the output layer.
VGG_SCOPES: dict[str, str] = {
    "input_bn": _bn(0),
    **{f"convs.{i}": f"{i + 1}CNN" for i in range(5)},
    **{f"norms.{i}": _bn(1 + i) for i in range(5)},
    "output": "dense",
}


def scopes_of(network: nn.Module) -> dict[str, str]:
    """The module -> TensorFlow scope table of ``network``'s architecture."""
    if isinstance(network, MusiCNN):
        return MUSICNN_SCOPES
    if isinstance(network, MusicnnVGG):
        return VGG_SCOPES
    raise TypeError(f"no checkpoint layout for {type(network).__name__}")


def tf_variable_names(network: nn.Module) -> dict[str, tuple[str, str]]:
    """Each state-dict key of ``network`` that a checkpoint sets -> (TensorFlow variable,
    layout: ``"conv"``, ``"dense"`` or ``"same"``)."""
    names = {}
    for path, scope in scopes_of(network).items():
        module = network.get_submodule(path)
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            for ours, theirs in BATCH_NORM_NAMES.items():
                names[f"{path}.{ours}"] = (f"{scope}/{theirs}", "same")
        else:
            layout = "conv" if isinstance(module, nn.Conv2d) else "dense"
            names[f"{path}.weight"] = (f"{scope}/kernel", layout)
            names[f"{path}.bias"] = (f"{scope}/bias", "same")
    return names


def convert_checkpoint(
    network: nn.Module, tensors: dict[str, np.ndarray], *, source: str
) -> dict[str, torch.Tensor]:
    """The state dict of ``network`` holding a checkpoint's weights.

    Parameters
    ----------
    network : MusiCNN or MusicnnVGG
        Gives the architecture (and the batch norms' untouched ``num_batches_tracked``).
    tensors : dict
        TensorFlow variable name -> array, as :func:`~models.musicnn.tensor_bundle.
        read_tensor_bundle` returns them.
    source : str
        The checkpoint's path, named in errors.

    Raises
    ------
    DataError
        A variable missing, of the wrong shape, or left over (one the port has no place for).
    """
    state = network.state_dict()
    used = set()
    for key, (name, layout) in tf_variable_names(network).items():
        if name not in tensors:
            raise DataError(f"{source}: no variable {name!r}; not a {type(network).__name__}")
        value = np.asarray(tensors[name], dtype=np.float32)
        if layout == "conv":
            value = value.transpose(3, 2, 0, 1)
        elif layout == "dense":
            value = value.T
        if value.shape != tuple(state[key].shape):
            raise DataError(
                f"{source}: variable {name!r} has shape {tensors[name].shape}, expected one "
                f"that gives {tuple(state[key].shape)} in {type(network).__name__}"
            )
        state[key] = torch.from_numpy(np.array(value, order="C"))  # a writable copy
        used.add(name)
    unused = sorted(name for name in tensors if name not in used and not _optimiser(name))
    if unused:
        raise DataError(
            f"{source}: variables {', '.join(unused[:5])} have no place in "
            f"{type(network).__name__}; not a checkpoint of this architecture"
        )
    return state


def _optimiser(name: str) -> bool:
    """Whether ``name`` is Adam's state rather than the network's."""
    return name in OPTIMISER_VARIABLES or name.endswith(("/Adam", "/Adam_1"))
