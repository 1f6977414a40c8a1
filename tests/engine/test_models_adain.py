"""AdaIN: pytorch-AdaIN's layouts and outputs, odd sizes, alpha, the style image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from models_reference import (
    adain_decoder,
    adain_style_transfer,
    adain_vgg,
    randomized,
    visible,
)

from nst_engine import create_model
from nst_engine.errors import ImageError, OptionError
from nst_engine.models import AdaIN


@pytest.fixture(scope="module")
def published() -> tuple[torch.nn.Sequential, torch.nn.Sequential]:
    """pytorch-AdaIN's whole vgg_normalised and its decoder, randomly initialised."""
    decoder = randomized(adain_decoder(), seed=1).eval()
    visible(decoder[28], gain=0.25, offset=0.1)
    return randomized(adain_vgg(), seed=0).eval(), decoder


@pytest.fixture(scope="module")
def model(published) -> AdaIN:
    vgg, decoder = published
    net = AdaIN().eval()
    net.encoder.load_state_dict({k: v for k, v in vgg.state_dict().items() if int(k.split(".")[0]) < 31})
    net.decoder.load_state_dict(decoder.state_dict())
    return net


def test_the_layouts_are_pytorch_adains(published):
    vgg, decoder = published
    ours = AdaIN()
    assert {k: v.shape for k, v in ours.decoder.state_dict().items()} == \
        {k: v.shape for k, v in decoder.state_dict().items()}
    assert {k: v.shape for k, v in ours.encoder.state_dict().items()} == \
        {k: v.shape for k, v in torch.nn.Sequential(*list(vgg.children())[:31]).state_dict().items()}
    assert next(iter(ours.encoder.state_dict().values())).shape == (3, 3, 1, 1)  # the 1×1 input conv


@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_it_computes_pytorch_adains_style_transfer(published, model, alpha):
    vgg, decoder = published
    generator = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 32, 40, generator=generator), torch.rand(1, 3, 24, 32, generator=generator)
    with torch.no_grad():
        expected = adain_style_transfer(torch.nn.Sequential(*list(vgg.children())[:31]), decoder, content, style, alpha)
        got = model(content, style=style, alpha=alpha)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(37, 29), (9, 11), (40, 48)])
def test_the_content_size_is_kept(model, shape):
    rng = np.random.default_rng(0)
    out = model.apply(rng.random((*shape, 3), dtype=np.float32), style=rng.random((21, 17, 3), dtype=np.float32))
    assert out.shape == (*shape, 3) and out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0


def test_alpha_moves_between_the_content_and_the_style(model):
    rng = np.random.default_rng(1)
    content, style = rng.random((32, 32, 3), dtype=np.float32), rng.random((32, 32, 3), dtype=np.float32) ** 4
    none, half, full = (model.apply(content, style=style, alpha=a) for a in (0.0, 0.5, 1.0))
    assert np.abs(none - full).mean() > 1e-4
    assert np.abs(half - none).mean() < np.abs(full - none).mean()
    assert np.array_equal(model.apply(content, style=style), full)  # the model's own alpha: 1


def test_the_style_image_is_required_and_alpha_bounded(model):
    image = np.zeros((16, 16, 3))
    with pytest.raises(OptionError, match="needs a style image"):
        model.apply(image)
    with pytest.raises(OptionError, match="alpha"):
        model.apply(image, style=image, alpha=1.5)
    with pytest.raises(OptionError, match="alpha"):
        create_model("adain", alpha=-0.1)


def test_images_too_small_for_a_feature_statistic_are_refused(model):
    with pytest.raises(ImageError, match="at least 9×9"):
        model.apply(np.zeros((8, 8, 3)), style=np.zeros((16, 16, 3)))


def test_only_the_decoder_trains():
    model = create_model("adain")
    assert not any(p.requires_grad for p in model.encoder.parameters())
    out = model(torch.rand(2, 3, 16, 16), style=torch.rand(1, 3, 16, 16))
    out.mean().backward()
    assert all(p.grad is not None for p in model.decoder.parameters())
