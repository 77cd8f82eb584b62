"""Tests for models/: parameter counts per preset, shapes, overrides, input normalisation."""

from __future__ import annotations

import math

import pytest
import torch

from harness.errors import ParameterError
from models.blocks import FeatureMapDropout, n_parameters
from models.cnn import build_cnn
from models.crnn import build_crnn
from models.short_chunk import build_short_chunk

torch.set_num_threads(1)

# Exact trainable-parameter counts for n_mels=96, n_classes=16 (computed by hand in the note:
# e.g. crnn paper = conv 369_664 + BN 896 + input BN 192 + GRU 15_552 + 6_336 + head 528).
EXPECTED = {
    ("cnn", "paper"): 17_296_464,
    ("cnn", "compact"): 62_832,
    ("crnn", "paper"): 393_168,
    ("crnn", "compact"): 148_592,  # GRU input 4 rows x 64 channels = 256
    # conv 3_394_432 + conv BN 3_840 + input BN 192 + dense 262_656 + BN 1_024 + head 8_208
    ("short-chunk", "paper"): 3_670_096,
    ("short-chunk", "compact"): 59_328,
}
BUILDERS = {"cnn": build_cnn, "crnn": build_crnn, "short-chunk": build_short_chunk}


@pytest.mark.parametrize(("model", "preset"), sorted(EXPECTED))
def test_parameter_count_per_preset(model, preset):
    module = BUILDERS[model](n_classes=16, n_mels=96, preset=preset)
    assert n_parameters(module) == EXPECTED[(model, preset)]


def test_crnn_paper_is_about_0_4m_parameters():
    n = n_parameters(build_crnn(n_classes=16, n_mels=96, preset="paper"))
    assert abs(n - 400_000) / 400_000 < 0.05  # Choi et al. 2017 report ~0.4 M


def test_crnn_paper_gru_counts_by_hand():
    module = build_crnn(n_classes=16, n_mels=96, preset="paper")
    gru = sum(p.numel() for p in module.gru.parameters())
    assert gru == 3 * (128 * 32 + 32 * 32 + 2 * 32) + 3 * (32 * 32 + 32 * 32 + 2 * 32)
    assert module.gru.input_size == 128  # frequency fully collapsed: 96 / (2*3*4*4) = 1


@pytest.mark.parametrize("builder", [build_cnn, build_crnn])
@pytest.mark.parametrize("frames", [64, 130])
def test_output_shape_3d_and_4d(builder, frames):
    module = builder(n_classes=5, n_mels=96).eval()
    x = torch.randn(3, 96, frames)
    with torch.no_grad():
        a, b = module(x), module(x.unsqueeze(1))
    assert a.shape == (3, 5)
    torch.testing.assert_close(a, b)


def test_paper_presets_collapse_published_input_shape():
    x = torch.empty(2, 1, 96, 1366, device="meta")
    cnn = build_cnn(n_classes=10, n_mels=96, preset="paper").to("meta")
    assert cnn.features(x).shape == (2, 2048, 1, 1)  # FCN-4: 96x1366 -> 1x1
    crnn = build_crnn(n_classes=10, n_mels=96, preset="paper").to("meta")
    assert crnn.features(x).shape == (2, 128, 1, 14)  # 14 GRU steps, frequency collapsed


def test_overrides_and_errors():
    small = build_cnn(n_classes=4, n_mels=32, channels=[4, 8], pools=[[2, 2], [2, 2]])
    assert small.config.channels == (4, 8) and len(small.features) == 2
    assert build_crnn(n_classes=4, n_mels=96, gru_hidden=7).gru.hidden_size == 7
    for summary in ("mean", "last"):
        for both_ways in (False, True):
            crnn = build_crnn(n_classes=4, n_mels=96, summary=summary, bidirectional=both_ways)
            assert crnn.eval()(torch.randn(2, 96, 64)).shape == (2, 4)
            assert crnn.head.in_features == 64 * (2 if both_ways else 1)
    with pytest.raises(ParameterError, match="summary"):
        build_crnn(n_classes=4, n_mels=96, summary="max")
    with pytest.raises(ParameterError, match="Unknown cnn setting"):
        build_cnn(n_classes=4, n_mels=32, kernel=5)
    with pytest.raises(ParameterError, match="preset"):
        build_crnn(n_classes=4, n_mels=32, preset="huge")
    with pytest.raises(ParameterError, match="same"):
        build_cnn(n_classes=4, n_mels=32, channels=(4, 8, 8))
    with pytest.raises(ParameterError, match="mel"):
        build_cnn(n_classes=4, n_mels=32)(torch.randn(2, 40, 64))
    with pytest.raises(ParameterError, match="at least 64"):
        build_cnn(n_classes=4, n_mels=32)(torch.randn(2, 32, 63))
    with pytest.raises(ParameterError, match="96 mel bands"):
        build_crnn(n_classes=4, n_mels=40, preset="paper")
    with pytest.raises(ParameterError, match="24 mel bands"):
        build_crnn(n_classes=4, n_mels=16)


def test_short_chunk_takes_3_7_s_chunks_and_collapses_them():
    module = build_short_chunk(n_classes=5, n_mels=96).eval()
    assert module.chunk_frames == 160  # 3.7 s at 22,050 Hz, hop 512
    x = torch.empty(2, 1, 96, 160, device="meta")
    paper = build_short_chunk(n_classes=5, n_mels=96, preset="paper").to("meta")
    assert paper.features(x).shape == (2, 512, 1, 1)
    with torch.no_grad():
        assert module(torch.randn(3, 96, 300)).shape == (3, 5)  # longer: global max over time
    with pytest.raises(ParameterError, match="at least 128"):
        module(torch.randn(2, 96, 127))
    with pytest.raises(ParameterError, match="chunk_frames=100"):
        build_short_chunk(n_classes=5, n_mels=96, chunk_frames=100)
    with pytest.raises(ParameterError, match="activation"):
        from models.blocks import ConvBlock

        ConvBlock(1, 2, pool=(2, 2), activation="gelu")


@pytest.mark.parametrize("builder", [build_cnn, build_crnn, build_short_chunk])
def test_loss_at_init_is_ln_c(builder):
    torch.manual_seed(0)
    module = builder(n_classes=16, n_mels=96).train()
    with torch.no_grad():  # dB-like scale: the input norm handles it
        logits = module(torch.randn(16, 96, 128) * 20 - 40)
    loss = torch.nn.functional.cross_entropy(logits, torch.arange(16))
    assert abs(float(loss) - math.log(16)) < 0.05


def test_frequency_norm_removes_per_band_offsets():
    """Train-mode batch norm over mel bins: adding a constant per band changes nothing."""
    torch.manual_seed(0)
    module = build_cnn(n_classes=3, n_mels=24, dropout=0.0).train()
    x = torch.randn(4, 24, 64)
    offset = torch.linspace(-30, 10, 24).view(1, 24, 1)
    torch.testing.assert_close(module(x), module(x + offset), atol=1e-4, rtol=1e-4)
    plain = build_cnn(n_classes=3, n_mels=24, dropout=0.0, input_norm=False).train()
    assert not torch.allclose(plain(x), plain(x + offset), atol=1e-3)


def test_feature_map_dropout_drops_p_of_the_elements_and_keeps_the_mean():
    torch.manual_seed(0)
    layer = FeatureMapDropout(0.1)
    x = torch.ones(64, 16, 24, 32).contiguous(memory_format=torch.channels_last)
    y = layer.train()(x)
    dropped = float((y == 0).float().mean())
    assert abs(dropped - 0.1) < 0.005  # 26/256 = 0.1016 of 786k elements
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(layer.eval()(x), x)
    torch.manual_seed(1)
    first = FeatureMapDropout(0.3).train()(x)
    torch.manual_seed(1)
    assert torch.equal(FeatureMapDropout(0.3).train()(x), first)  # the seed fixes the mask
    with pytest.raises(ParameterError, match="dropout must be in"):
        FeatureMapDropout(1.0)


def test_crnn_recurrence_runs_in_float32_under_bfloat16_autocast():
    net = build_crnn(n_classes=4, n_mels=96).eval()
    seen = []
    net.gru.register_forward_pre_hook(lambda _module, args: seen.append(args[0].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = net(torch.randn(2, 96, 64))
    assert seen == [torch.float32]
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()


@pytest.mark.parametrize(("model", "n_first"), [("cnn", 4), ("crnn", 4), ("short-chunk", 3)])
def test_compact_blocks_pool_before_norm_and_activation_paper_blocks_after(model, n_first):
    def orders(preset):
        module = BUILDERS[model](n_classes=8, n_mels=96, preset=preset)
        return [tuple(type(layer).__name__ for layer in block)[:4] for block in module.features]

    act = "ReLU" if model == "short-chunk" else "ELU"
    first, last = (
        ("Conv2d", "MaxPool2d", "BatchNorm2d", act),
        ("Conv2d", "BatchNorm2d", act, "MaxPool2d"),
    )
    compact, paper = orders("compact"), orders("paper")
    assert compact == [first] * n_first + [last] * (len(compact) - n_first)
    assert paper == [last] * len(paper)


def test_pool_first_is_a_number_of_blocks():
    for bad in (True, -1, 1.5):
        with pytest.raises(ParameterError, match="pool_first=.* whole number of conv blocks"):
            build_cnn(n_classes=8, n_mels=96, pool_first=bad)
    same = build_cnn(n_classes=8, n_mels=96, pool_first=9)  # more than there are: all of them
    assert all(type(block[1]).__name__ == "MaxPool2d" for block in same.features)
