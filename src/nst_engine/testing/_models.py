"""``check_model``: the contract of ``register_models``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import _attempt, _bind, _entry, _expect, _label

# Odd and unequal on purpose: networks that downsample by 4 or 8 must still keep the size.
_IMAGE_HW, _STYLE_HW = (29, 23), (20, 26)


def check_model(model: str | Callable[..., Any], /, **options: Any) -> None:
    """Check a feed-forward model against the contract of ``register_models``.

    The factory returns an :class:`~nst_engine.models.Model` named as registered; ``apply``
    keeps an odd input size, returns float32 ``H×W×3`` in [0, 1], reads uint8 as float / 255,
    and is deterministic in eval mode (and leaves the mode as it was); ``forward`` keeps a
    batch's shape and passes gradients to the trainable parameters; ``factory(**options)``
    rebuilds the architecture and the state dict round-trips (equal outputs after loading);
    ``describe()`` is JSON-friendly.

    Parameters
    ----------
    model
        A registered name (``"johnson"``) or the factory a plugin registers.
    **options
        Options to build it with (default: the schema's defaults).
    """
    import json

    import torch

    from ..models import Model

    entry = _entry("models", model)
    label = _label(entry)
    bound = _bind(entry, options)
    net = _attempt(label, "built with " + (f"options {bound}" if bound else "its defaults"), entry.factory, **bound)
    _expect(isinstance(net, Model), label, f"built a {type(net).__name__}: subclass nst_engine.models.Model")
    if not entry.plugin.startswith("("):
        _expect(net.name == entry.name, label, f"is named {net.name!r}: set the class attribute name to "
                f"{entry.name!r}, the name it is registered under (save_model records it)")
    generator = np.random.default_rng(0)
    image = generator.random((*_IMAGE_HW, 3), dtype=np.float32)
    extra = {"style": generator.random((*_STYLE_HW, 3), dtype=np.float32)} if net.needs_style else {}
    net.train()
    out = _attempt(label, f"applied to a {_IMAGE_HW[0]}×{_IMAGE_HW[1]} image", net.apply, image, **extra)
    _expect(isinstance(out, np.ndarray) and out.shape == (*_IMAGE_HW, 3), label,
            f"returned {getattr(out, 'shape', out)!r} for a {_IMAGE_HW[0]}×{_IMAGE_HW[1]} image: keep the input's "
            "size (upsample to the encoder's sizes, or pad and crop)")
    _expect(out.dtype == np.float32 and bool(np.isfinite(out).all()) and 0 <= out.min() and out.max() <= 1, label,
            f"returned {out.dtype} in [{np.nanmin(out)}, {np.nanmax(out)}]: return float32 in [0, 1]")
    _expect(net.training, label, "left training mode after apply(): restore the mode it was in")
    net.eval()
    again = net.apply(image.copy(), **extra)
    _expect(np.array_equal(out, again), label, "gave different results for equal images in eval mode: "
            "seed any randomness, or turn it off in eval mode")
    as_uint8 = net.apply(np.rint(image * 255).astype(np.uint8), **extra)
    _expect(bool(np.abs(as_uint8 - net.apply(np.rint(image * 255) / np.float32(255), **extra)).max() <= 1e-5),
            label, "read a uint8 image differently from the same values as floats: use Model.apply's conversion")

    batch = torch.rand(2, 3, *_IMAGE_HW, generator=torch.Generator().manual_seed(0))
    style = {"style": torch.rand(1, 3, *_STYLE_HW, generator=torch.Generator().manual_seed(1))} if net.needs_style else {}
    net.train()
    result = _attempt(label, "forwarding a 2×3×H×W batch", net, batch, **style)
    _expect(isinstance(result, torch.Tensor) and result.shape == batch.shape, label,
            f"forwarded {tuple(batch.shape)} to {getattr(result, 'shape', result)!r}: keep the batch's shape")
    trainable = [p for p in net.parameters() if p.requires_grad]
    if trainable:
        result.square().mean().backward()
        _expect(all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in trainable), label,
                "gives no finite gradient to some trainable parameters: a trainer could not fit them "
                "(freeze what is fixed with requires_grad_(False))")
    net.eval()

    twin = _attempt(label, f"rebuilt from its options {net.options}", entry.factory, **net.options)
    _expect(isinstance(twin, Model), label, "could not be rebuilt as a Model from factory(**model.options)")
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(1.0)
    _attempt(label, "loading its own state dict into a model rebuilt from its options", twin.load_state_dict,
             net.state_dict())
    twin.eval()
    _expect(np.array_equal(twin.apply(image, **extra), again), label,
            "gives other results once its state dict is loaded into factory(**model.options): "
            "keep every learnt value in parameters or buffers, and every architecture choice in options")
    description = _attempt(label, "describing itself", net.describe)
    _attempt(label, "serialising describe() as JSON", json.dumps, description)
