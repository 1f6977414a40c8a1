"""Johnson et al.'s transformer network: pytorch/examples' layout and outputs, sizes, CIN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from models_reference import TransformerNet as ExamplesNet
from models_reference import randomized, visible

from nst_engine import create_model
from nst_engine.errors import ImageError, OptionError
from nst_engine.models import TransformerNet


@pytest.fixture(scope="module")
def two_styles() -> TransformerNet:
    """A CIN network whose two styles have different random (gamma, beta)."""
    model = randomized(TransformerNet(styles=2)).eval()
    visible(model.deconv3.conv2d, gain=50.0, offset=127.5)  # 0..255 units
    return model


def test_the_parameters_are_named_and_shaped_as_pytorch_examples():
    ours = {k: tuple(v.shape) for k, v in TransformerNet().state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ExamplesNet().state_dict().items()}
    assert ours == theirs


def test_it_computes_pytorch_examples_network_on_unit_images():
    reference = randomized(ExamplesNet()).eval()
    ours = TransformerNet().eval()
    ours.load_state_dict(reference.state_dict())
    image = torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(image * 255) / 255
        got = ours(image)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(127, 93), (33, 31), (5, 6), (64, 48)])
def test_the_input_size_is_kept(shape):
    image = np.random.default_rng(0).random((*shape, 3), dtype=np.float32)
    out = create_model("johnson").apply(image)
    assert out.shape == (*shape, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_images_too_small_for_the_padding_are_refused_by_size():
    with pytest.raises(ImageError, match="at least 5×5"):
        create_model("johnson").apply(np.zeros((4, 9, 3)))


def test_gray_rgba_and_uint8_images_are_read_like_the_engine():
    model = create_model("johnson")
    rgb = np.random.default_rng(1).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((20, 24), 7, np.uint8)])
    expected = model.apply(rgb.astype(np.float32) / 255)
    assert np.array_equal(model.apply(rgb), expected) and np.array_equal(model.apply(rgba), expected)
    assert model.apply(rgb[..., 0]).shape == (20, 24, 3)


def test_two_styles_give_two_outputs_and_a_mix_lies_between(two_styles):
    image = np.random.default_rng(2).random((32, 32, 3), dtype=np.float32)
    first, second = (two_styles.apply(image, style_index=i) for i in (0, 1))
    half = two_styles.apply(image, style_mix=(1, 1))  # normalised to (0.5, 0.5)
    apart = np.abs(first - second).mean()
    assert apart > 1e-3
    assert np.abs(half - first).mean() < apart and np.abs(half - second).mean() < apart
    assert np.array_equal(two_styles.apply(image, style_mix=(1, 0)), first)
    assert np.array_equal(two_styles.apply(image), first)  # the default: style_index 0


def test_the_model_default_style_comes_from_its_options(two_styles):
    model = TransformerNet(styles=2, style_mix=(0.0, 1.0))
    model.load_state_dict(two_styles.state_dict())
    image = np.random.default_rng(3).random((24, 24, 3), dtype=np.float32)
    assert np.array_equal(model.apply(image), two_styles.apply(image, style_index=1))


def test_a_batch_takes_one_mix_per_image(two_styles):
    batch = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        together = two_styles(batch, style_mix=torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        alone = [two_styles(batch[i:i + 1], style_index=i) for i in range(2)]
    torch.testing.assert_close(together, torch.cat(alone))


@pytest.mark.parametrize("options, option", [
    ({"style_index": 2}, "style_index"),
    ({"style_mix": (1.0, 0.0, 0.0)}, "style_mix"),
    ({"style_mix": (-1.0, 2.0)}, "style_mix"),
    ({"style_mix": 0.5}, "style_mix"),
])
def test_bad_style_choices_are_refused_naming_the_option(two_styles, options, option):
    with pytest.raises(OptionError, match=option) as refused:
        two_styles.apply(np.zeros((8, 8, 3)), **options)
    assert refused.value.option == option


def test_a_style_image_or_an_unknown_call_option_is_refused():
    model = create_model("johnson")
    with pytest.raises(OptionError, match="takes no style image"):
        model.apply(np.zeros((8, 8, 3)), style=np.zeros((8, 8, 3)))
    with pytest.raises(OptionError, match="no call option 'alpha'"):
        model.apply(np.zeros((8, 8, 3)), alpha=0.5)


def test_a_trainer_gets_gradients_from_a_batch():
    model = create_model("johnson", styles=2)
    out = model(torch.rand(2, 3, 20, 20), style_index=1)
    out.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.in1.weight.grad[0].abs().sum() == 0 < model.in1.weight.grad[1].abs().sum()


def test_the_seed_makes_the_untrained_network_reproducible():
    one, two, other = (create_model("johnson", seed=s).state_dict() for s in (0, 0, 1))
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert not torch.equal(one["conv1.conv2d.weight"], other["conv1.conv2d.weight"])
