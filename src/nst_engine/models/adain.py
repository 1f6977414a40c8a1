"""Huang & Belongie 2017's arbitrary style transfer by adaptive instance normalisation (AdaIN).

"Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization" (ICCV 2017): a
fixed VGG-19 encoder up to relu4_1, whose content features take the style features' channel
means and standard deviations, and a trained decoder back to an image. Any style image works
at call time; ``alpha`` blends the re-normalised features with the content's own.

The encoder and decoder are ``nn.Sequential`` with naoto0804/pytorch-AdaIN's exact layouts, so
its ``vgg_normalised.pth`` (the first 31 layers are used) and ``decoder.pth`` load as they are.
"""

from __future__ import annotations

from typing import Annotated, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ImageError, OptionError
from .base import Model

__all__ = ["AdaIN", "adain", "encoder_layout", "adaptive_instance_norm", "ENCODER_LAYERS"]

#: Layers of pytorch-AdaIN's ``vgg_normalised`` up to relu4_1: its ``vgg[:31]``.
ENCODER_LAYERS = 31
#: Three poolings (ceil mode) leave 2 pixels, the least reflection padding takes, from 9.
_MIN_SIDE = 9


def _conv(channels_in: int, channels_out: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(channels_in, channels_out, (3, 3)), nn.ReLU()]


def _pool() -> nn.Module:
    return nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)


def _up() -> nn.Module:
    return nn.Upsample(scale_factor=2, mode="nearest")


def _encoder() -> nn.Sequential:
    """VGG-19 to relu4_1 behind a 1×1 convolution that folds in the input normalisation."""
    return nn.Sequential(
        nn.Conv2d(3, 3, (1, 1)),
        *_conv(3, 64), *_conv(64, 64), _pool(),
        *_conv(64, 128), *_conv(128, 128), _pool(),
        *_conv(128, 256), *_conv(256, 256), *_conv(256, 256), *_conv(256, 256), _pool(),
        *_conv(256, 512),
    )


def _decoder() -> nn.Sequential:
    """The encoder mirrored, nearest upsampling in place of pooling; no final ReLU."""
    layers = [
        *_conv(512, 256), _up(),
        *_conv(256, 256), *_conv(256, 256), *_conv(256, 256), *_conv(256, 128), _up(),
        *_conv(128, 128), *_conv(128, 64), _up(),
        *_conv(64, 64), *_conv(64, 3),
    ]
    return nn.Sequential(*layers[:-1])


def _mean_std(features: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation, with pytorch-AdaIN's unbiased variance + eps."""
    flat = features.flatten(2)
    return flat.mean(dim=2)[..., None, None], (flat.var(dim=2) + eps).sqrt()[..., None, None]


def adaptive_instance_norm(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Give ``content``'s channels ``style``'s means and standard deviations (Huang & Belongie 2017, eq. 8)."""
    content_mean, content_std = _mean_std(content)
    style_mean, style_std = _mean_std(style)
    return (content - content_mean) / content_std * style_std + style_mean


class AdaIN(Model):
    """Arbitrary style transfer: encoder to relu4_1, AdaIN, decoder; the encoder stays frozen.

    Parameters
    ----------
    alpha
        Stylisation strength: 0 decodes the content's own features, 1 the fully re-normalised
        ones (Huang & Belongie 2017, eq. 11).
    """

    name = "adain"
    needs_style = True
    call_options = ("alpha",)

    def __init__(self, *, alpha: float = 1.0) -> None:
        _check_alpha(alpha)
        super().__init__(alpha=float(alpha))
        self.alpha = float(alpha)
        self.encoder = _encoder().requires_grad_(False)
        self.decoder = _decoder()

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Size]]:
        """relu4_1 features and the sizes before each pooling (the decoder upsamples back to them)."""
        if min(image.shape[-2:]) < _MIN_SIDE:
            raise ImageError(f"model 'adain' needs images of at least {_MIN_SIDE}×{_MIN_SIDE} pixels, not "
                             f"{image.shape[-2]}×{image.shape[-1]}: its relu4_1 features, an eighth of the "
                             "size, need two pixels each way for reflection padding")
        sizes = []
        for layer in self.encoder:
            if isinstance(layer, nn.MaxPool2d):
                sizes.append(image.shape[-2:])
            image = layer(image)
        return image, sizes

    def decode(self, features: torch.Tensor, sizes: list[torch.Size]) -> torch.Tensor:
        """Features back to an image of the encoder's input size (odd sizes included)."""
        sizes = list(sizes)
        for layer in self.decoder:
            features = F.interpolate(features, size=sizes.pop(), mode="nearest") if isinstance(layer, nn.Upsample) \
                else layer(features)
        return features

    def forward(self, image: torch.Tensor, *, style: torch.Tensor | None = None,
                alpha: float | None = None) -> torch.Tensor:
        """Stylise ``N×3×H×W`` content with ``style`` (``1×3×h×w`` or ``N×3×h×w``), both in [0, 1]."""
        self.check_call(style, {})
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        content, sizes = self.encode(image)
        style_features, _ = self.encode(style)
        mixed = adaptive_instance_norm(content, style_features.expand(content.shape[0], -1, -1, -1))
        return self.decode(alpha * mixed + (1 - alpha) * content, sizes)


def _check_alpha(alpha: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise OptionError(f"model 'adain': alpha must be within [0, 1], not {alpha}", option="alpha")
    return float(alpha)


def adain(
    *,
    alpha: Annotated[float, {"min": 0.0, "max": 1.0, "tooltip": "stylisation strength: 0 content, 1 full style"}] = 1.0,
    decoder: Annotated[str | None, {"tooltip": "a model saved by save_model, or pytorch-AdaIN's decoder.pth"}] = None,
    encoder: Annotated[str | None, {"tooltip": "pytorch-AdaIN's vgg_normalised.pth (with a decoder.pth, or "
                                    "alone to train a decoder)"}] = None,
    sha256: Annotated[str | None, {"tooltip": "expected SHA-256 (or a prefix of >= 8 hex digits) of decoder"}] = None,
    encoder_sha256: Annotated[str | None, {"tooltip": "expected SHA-256 (or prefix) of encoder"}] = None,
    seed: Annotated[int, {"tooltip": "seeds the untrained initialisation of what no file gives"}] = 0,
) -> AdaIN:
    """Huang & Belongie 2017's arbitrary style transfer (AdaIN); untrained unless files are given."""
    from .loading import load_encoder, load_model  # here: loading imports this module

    if decoder is not None:
        return load_model(decoder, sha256=sha256, name="adain", encoder=encoder, encoder_sha256=encoder_sha256,
                          alpha=alpha)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AdaIN(alpha=alpha)
    if encoder is not None:
        load_encoder(model, encoder, sha256=encoder_sha256)
    return model


def encoder_layout(state: dict[str, Any]) -> dict[str, Any]:
    """pytorch-AdaIN's ``vgg_normalised.pth`` state dict cut to :class:`AdaIN`'s encoder (relu4_1)."""
    return {k: v for k, v in state.items() if not (k.split(".", 1)[0].isdigit() and int(k.split(".", 1)[0]) >= ENCODER_LAYERS)}
