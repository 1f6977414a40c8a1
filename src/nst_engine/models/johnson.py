"""Johnson, Alahi & Fei-Fei 2016's transformer network, optionally with conditional instance norm.

"Perceptual Losses for Real-Time Style Transfer and Super-Resolution" (ECCV 2016), with the
refinements of pytorch/examples' ``fast_neural_style``: instance normalisation (Ulyanov et al.
2016) and nearest-neighbour upsampling followed by a convolution instead of transposed
convolutions (Odena et al. 2016, no checkerboard artefacts). Parameter names follow that
example's ``TransformerNet`` so its ``.pth`` files load as they are; like it, the network works
on 0..255 values inside, which :class:`TransformerNet` scales to and from [0, 1].

With ``styles > 1`` each instance norm holds one (gamma, beta) pair per style: conditional
instance normalisation (Dumoulin, Shlens & Kudlur 2017, "A Learned Representation for
Artistic Style"), where one network learns several styles and mixing the pairs blends them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ImageError, OptionError
from .base import Model

__all__ = ["TransformerNet", "johnson", "examples_layout"]

#: pytorch/examples' network maps 0..255 images to 0..255 images.
_SCALE = 255.0
#: The 9×9 convolutions pad 4 pixels by reflection, which needs at least 5.
_MIN_SIDE = 5


class _ConvLayer(nn.Module):
    """Reflection padding then a convolution, as pytorch/examples' ``ConvLayer`` (same keys)."""

    def __init__(self, channels_in: int, channels_out: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(channels_in, channels_out, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class _UpsampleConvLayer(_ConvLayer):
    """Nearest upsampling to the size of the matching encoder level, then a convolution.

    pytorch/examples upsamples by 2, which for sizes not divisible by 4 ends a pixel or two
    larger than the input; upsampling to the encoder's own size keeps odd sizes and equals ×2
    whenever ×2 fits.
    """

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:  # type: ignore[override]
        return super().forward(F.interpolate(x, size=size, mode="nearest"))


class _InstanceNorm(nn.Module):
    """Instance norm with one (gamma, beta) pair per style, picked or mixed per call.

    One style keeps ``InstanceNorm2d(affine=True)``'s ``weight``/``bias`` of shape ``C``;
    several store ``styles×C`` (Dumoulin et al. 2017's conditional instance norm).
    """

    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        shape = (channels,) if styles == 1 else (styles, channels)
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor, mix: torch.Tensor | None) -> torch.Tensor:
        if self.weight.ndim == 1:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=1e-5)
        gamma, beta = mix @ self.weight, mix @ self.bias  # mix: styles or N×styles
        if gamma.ndim == 1:
            gamma, beta = gamma.unsqueeze(0), beta.unsqueeze(0)
        return F.instance_norm(x, eps=1e-5) * gamma[:, :, None, None] + beta[:, :, None, None]


class _ResidualBlock(nn.Module):
    """Two 3×3 convolutions around a skip connection (He et al. 2016), as pytorch/examples'."""

    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.conv1 = _ConvLayer(channels, channels, 3, 1)
        self.in1 = _InstanceNorm(channels, styles)
        self.conv2 = _ConvLayer(channels, channels, 3, 1)
        self.in2 = _InstanceNorm(channels, styles)

    def forward(self, x: torch.Tensor, mix: torch.Tensor | None) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(x), mix))
        return x + self.in2(self.conv2(y), mix)


class TransformerNet(Model):
    """Johnson et al. 2016's image transformation network: 3 downsampling convolutions (9×9
    stride 1, 3×3 stride 2 twice), 5 residual blocks, 2 upsample-then-convolve layers and a 9×9
    output convolution, instance-normalised; the input's size is kept, odd sizes included.

    Parameters
    ----------
    styles
        Styles the network holds: more than one gives conditional instance norm (Dumoulin et
        al. 2017), one (gamma, beta) pair per style in every norm.
    style_index
        The style used when a call does not say.
    style_mix
        Weights over the styles (normalised to sum 1) mixing their (gamma, beta): a blend of
        styles; takes precedence over ``style_index``.
    """

    name = "johnson"
    call_options = ("style_index", "style_mix")

    def __init__(self, *, styles: int = 1, style_index: int = 0, style_mix: Sequence[float] | None = None) -> None:
        if styles < 1:
            raise OptionError(f"model 'johnson' needs styles >= 1, not {styles}", option="styles")
        style_mix = None if style_mix is None else tuple(float(w) for w in style_mix)
        super().__init__(styles=styles, style_index=style_index, style_mix=style_mix)
        self.styles = styles
        self.style_index, self.style_mix = style_index, style_mix
        self._mix(style_index, style_mix)  # refuse bad defaults now, not at the first call
        self.conv1 = _ConvLayer(3, 32, 9, 1)
        self.in1 = _InstanceNorm(32, styles)
        self.conv2 = _ConvLayer(32, 64, 3, 2)
        self.in2 = _InstanceNorm(64, styles)
        self.conv3 = _ConvLayer(64, 128, 3, 2)
        self.in3 = _InstanceNorm(128, styles)
        for i in range(1, 6):
            self.add_module(f"res{i}", _ResidualBlock(128, styles))
        self.deconv1 = _UpsampleConvLayer(128, 64, 3, 1)
        self.in4 = _InstanceNorm(64, styles)
        self.deconv2 = _UpsampleConvLayer(64, 32, 3, 1)
        self.in5 = _InstanceNorm(32, styles)
        self.deconv3 = _ConvLayer(32, 3, 9, 1)

    def _mix(self, style_index: int | None, style_mix: Sequence[float] | torch.Tensor | None) -> torch.Tensor | None:
        """The weights over the styles (``styles`` or ``N×styles``), or ``None`` for one style."""
        if style_mix is None and style_index is None:
            style_index, style_mix = self.style_index, self.style_mix
        if style_mix is not None:
            mix = torch.as_tensor(style_mix, dtype=torch.float32)
            if mix.ndim not in (1, 2) or mix.shape[-1] != self.styles or bool((mix < 0).any()) \
                    or not bool((mix.sum(-1) > 0).all()):
                raise OptionError(f"model 'johnson': style_mix needs {self.styles} non-negative weights "
                                  f"with a positive sum, not {style_mix!r}", option="style_mix")
            return None if self.styles == 1 else mix / mix.sum(-1, keepdim=True)
        if not 0 <= style_index < self.styles:
            raise OptionError(f"model 'johnson': style_index must be in 0..{self.styles - 1}, not {style_index}",
                              option="style_index")
        return None if self.styles == 1 else F.one_hot(torch.tensor(style_index), self.styles).float()

    def forward(self, image: torch.Tensor, *, style: torch.Tensor | None = None, style_index: int | None = None,
                style_mix: Sequence[float] | torch.Tensor | None = None) -> torch.Tensor:
        """Stylise ``N×3×H×W`` in [0, 1]; ``style_mix`` may be ``N×styles`` (one mix per image)."""
        self.check_call(style, {})
        if min(image.shape[-2:]) < _MIN_SIDE:
            raise ImageError(f"model 'johnson' needs images of at least {_MIN_SIDE}×{_MIN_SIDE} pixels (its 9×9 "
                             f"convolutions pad by reflection), not {image.shape[-2]}×{image.shape[-1]}")
        mix = self._mix(style_index, style_mix)
        if mix is not None:
            mix = mix.to(device=self.in1.weight.device, dtype=self.in1.weight.dtype)
        y = F.relu(self.in1(self.conv1(image * _SCALE), mix))
        level1 = y.shape[-2:]
        y = F.relu(self.in2(self.conv2(y), mix))
        level2 = y.shape[-2:]
        y = F.relu(self.in3(self.conv3(y), mix))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y, mix)
        y = F.relu(self.in4(self.deconv1(y, tuple(level2)), mix))
        y = F.relu(self.in5(self.deconv2(y, tuple(level1)), mix))
        return self.deconv3(y) / _SCALE


def johnson(
    *,
    styles: Annotated[int | None, {"min": 1, "max": 64, "tooltip": "styles in one network (>1: conditional "
                                   "instance norm); default: the weights' own, else 1"}] = None,
    style_index: Annotated[int | None, {"min": 0, "tooltip": "the style to apply, from 0; default: the model's own"}] = None,
    style_mix: Annotated[tuple[float, ...] | None, {"tooltip": "weights over the styles, blending them"}] = None,
    weights: Annotated[str | None, {"tooltip": "a model saved by save_model, or a pytorch/examples .pth"}] = None,
    sha256: Annotated[str | None, {"tooltip": "expected SHA-256 (or a prefix of >= 8 hex digits) of weights"}] = None,
    seed: Annotated[int, {"tooltip": "seeds the untrained initialisation when no weights are given"}] = 0,
) -> TransformerNet:
    """Johnson et al. 2016's fast style transfer network; untrained unless ``weights`` is given."""
    given = {k: v for k, v in (("styles", styles), ("style_index", style_index), ("style_mix", style_mix))
             if v is not None}
    if weights is not None:
        from .loading import load_model  # here: loading imports this module

        return load_model(weights, sha256=sha256, name="johnson", **given)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransformerNet(**given)


_RUNNING_STATS = re.compile(r"in\d+\.running_(mean|var)$")


def examples_layout(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options and clean state dict of a pytorch/examples ``TransformerNet`` file.

    Files saved by torch < 0.4 hold instance-norm ``running_mean``/``running_var`` that the
    network never used; they are dropped, as pytorch/examples' ``neural_style.py`` does.
    """
    clean = {k: v for k, v in state.items() if not _RUNNING_STATS.search(k)}
    weight = clean.get("in1.weight")
    styles = int(weight.shape[0]) if isinstance(weight, torch.Tensor) and weight.ndim == 2 else 1
    return {"styles": styles}, clean
