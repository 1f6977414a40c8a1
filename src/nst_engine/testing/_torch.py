"""``check_loss``, ``check_backbone``, ``check_optimizer``: the torch-side contracts."""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from ..references import CONTENT, STYLE, STYLE_AT_CONTENT, style_ref
from ._common import _TENSOR_HW, _attempt, _bind, _entry, _expect, _label
from ._tiling import check_geometry, check_tiled_loss


def _backbone(backbone: Any) -> Any:
    from ..plugins import create_backbone

    return create_backbone(backbone) if isinstance(backbone, str) else backbone


def check_loss(loss: str | Callable[..., Any], /, *, backbone: Any = "random-multiscale",
               guides: Mapping[str, int] | None = None, **options: Any) -> None:
    """Check a loss term against the contract of ``register_losses``.

    Its ``role`` is content, style or image; ``resolve_layers`` names layers of the backbone;
    ``prepare`` works under ``no_grad``; the value is a finite 0-dim tensor; it vanishes when
    the image is the reference (content and style roles, all references the same image);
    its gradient with respect to the image is finite and nonzero; a style term takes a mask;
    a ``tileable`` loss gives the same value and gradient from its tiles' sums.

    Parameters
    ----------
    loss
        A registered name (``"gram"``) or the factory (often a class) a plugin registers.
    backbone
        A registered backbone name or a built backbone to check against.
    guides
        The guides the loss reads (:mod:`nst_engine.guides`), by name, with their channels:
        3 for an image, 1 for a weight map; the check makes random ones.
    **options
        The loss's options (default: the schema's defaults).
    """
    import torch

    from ..objective import ReferenceImages

    entry = _entry("losses", loss)
    label = _label(entry)
    bound = _bind(entry, options)
    term = _attempt(label, "built with " + (f"options {bound}" if bound else "its defaults"), entry.factory, **bound)
    role = getattr(term, "role", None)
    _expect(role in ("content", "style", "image"), label, f"has role {role!r}: set role to 'content', 'style' or 'image'")
    net = _backbone(backbone)
    layers = tuple(_attempt(label, "resolving its layers", term.resolve_layers, net))
    _expect(all(isinstance(n, str) and n in net.layer_names for n in layers), label,
            f"resolved layers {layers} that {type(net).__name__} does not have (its layers: {net.layer_names})")
    generator = torch.Generator().manual_seed(0)
    content, style, image = (torch.rand(1, 3, *_TENSOR_HW, generator=generator) for _ in range(3))

    def value(term: Any, at: torch.Tensor, images: dict) -> torch.Tensor:
        with torch.no_grad():
            target = _attempt(label, "preparing its target under torch.no_grad()", term.prepare,
                              ReferenceImages(net, images))
        features = net(at, layers) if layers else {}
        out = _attempt(label, "evaluating it", term, at, features, target)
        _expect(isinstance(out, torch.Tensor) and out.ndim == 0 and out.is_floating_point(), label,
                f"returned {out!r}: return a 0-dim float tensor (e.g. end with .mean() or .sum())")
        _expect(bool(torch.isfinite(out)), label, f"returned {out.item()}: the value must be finite")
        return out

    distinct = {CONTENT: content, STYLE: style, style_ref(0): style, STYLE_AT_CONTENT: style}
    distinct.update({name: torch.rand(1, channels, *_TENSOR_HW, generator=generator)
                     for name, channels in (guides or {}).items()})
    pixels = image.clone().requires_grad_(True)
    far = value(term, pixels, distinct)
    _expect(far.requires_grad, label, "returned a value without a gradient: compute it from the image or its features")
    far.backward()
    grad = pixels.grad
    _expect(grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0), label,
            "has no finite, nonzero gradient with respect to the image: the optimizer cannot use it")
    if role in ("content", "style"):
        near, far = value(term, content, dict.fromkeys(distinct, content)).item(), far.item()
        _expect(near <= 1e-4 * far + 1e-7, label, f"is {near:.3g} when the image is its reference "
                f"({far:.3g} on another image): a {role} loss must vanish at its target")
    if role == "style":  # as the pipeline runs it with several style images and a mask
        copied = copy.copy(term)
        copied.reference, copied.mask = style_ref(0), torch.zeros(1, 1, *_TENSOR_HW)
        copied.mask[..., : _TENSOR_HW[1] // 2] = 1.0
        value(copied, image, distinct)
    if getattr(term, "tileable", False):
        check_tiled_loss(label, term, net, distinct)


# -- backbones -------------------------------------------------------------------------------
def _close(a: Any, b: Any) -> bool:
    """Equal up to float reordering: deep layers reach tens, so the tolerance is relative."""
    return bool((a - b).abs().max() <= 1e-5 * (1 + a.abs().max()))


def check_backbone(backbone: str | Callable[..., Any], /, **options: Any) -> None:
    """Check a backbone against the contract of ``register_backbones``.

    The factory returns a frozen :class:`~nst_engine.backbones.Backbone` (the pipeline uses it
    as returned); ``layer_names`` is non-empty and holds the default content and style layers;
    ``check_layers`` refuses unknown names with ``ValueError``; ``forward`` returns exactly the
    requested layers as finite 4-D tensors for a small image in [0, 1], deterministically;
    the gradient reaches the input; ``truncate`` keeps what is asked; channels-last works; a
    declared ``tile_geometry`` covers what each layer's features really depend on.

    Parameters
    ----------
    backbone
        A registered name (``"vgg19"``) or the factory a plugin registers.
    **options
        Options to build it with, e.g. ``weights="random"`` to skip a download.
    """
    import torch

    from ..backbones import Backbone

    entry = _entry("backbones", backbone)
    label = _label(entry)
    bound = _bind(entry, options)
    net = _attempt(label, "built with " + (f"options {bound}" if bound else "its defaults"), entry.factory, **bound)
    _expect(isinstance(net, Backbone), label, f"built a {type(net).__name__}: subclass nst_engine.backbones.Backbone")
    names = tuple(net.layer_names)
    _expect(bool(names) and len(set(names)) == len(names) and all(isinstance(n, str) for n in names), label,
            f"has layer_names {names!r}: name each layer once, shallow to deep")
    for role in ("content", "style"):
        defaults = tuple(getattr(net, f"{role}_layers"))
        _expect(bool(defaults) and set(defaults) <= set(names), label,
                f"has {role}_layers {defaults!r}: give at least one, each one of layer_names")
    _expect(not any(p.requires_grad for p in net.parameters()), label,
            "came back with trainable parameters: end __init__ with self.freeze(); the pipeline does not")
    _expect(net.freeze() is net and not net.training and not any(p.requires_grad for p in net.parameters()),
            label, "is not frozen by freeze(): return self in eval mode with requires_grad_(False)")
    try:
        net.check_layers(["no-such-layer"])
    except ValueError:
        pass
    else:
        raise AssertionError(f"{label} accepted an unknown layer in check_layers: raise ValueError naming it")

    wanted = net.check_layers(set(net.content_layers) | set(net.style_layers))
    image = torch.rand(1, 3, *_TENSOR_HW, generator=torch.Generator().manual_seed(0))
    out = _attempt(label, f"computing {wanted} of a 1×3×{_TENSOR_HW[0]}×{_TENSOR_HW[1]} image", net, image, wanted)
    _expect(isinstance(out, dict) and set(out) == set(wanted), label,
            f"returned layers {sorted(out) if isinstance(out, dict) else out!r} for {list(wanted)}: "
            "return a dict with exactly the requested layers")
    for name, value in out.items():
        _expect(isinstance(value, torch.Tensor) and value.ndim == 4 and value.shape[0] == 1, label,
                f"returned {getattr(value, 'shape', value)!r} for layer {name!r}: return N×C×H×W tensors")
        _expect(bool(torch.isfinite(value).all()), label, f"returned NaN or Inf at layer {name!r}")
    again = net(image.clone(), wanted)
    _expect(all(torch.equal(out[n], again[n]) for n in wanted), label, "gave different features for equal images")
    pixels = image.clone().requires_grad_(True)
    total = sum(v.square().mean() for v in net(pixels, wanted).values())
    if total.requires_grad:
        total.backward()
    grad = pixels.grad
    _expect(grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0), label,
            "passes no finite, nonzero gradient back to the input image: style transfer needs it "
            "(do not detach the features or compute them under no_grad)")
    check_geometry(label, net, wanted)
    keep = net.check_layers({net.content_layers[0], net.style_layers[0]})
    cut = _attempt(label, f"truncating to {keep}", net.truncate, keep)
    _expect(isinstance(cut, Backbone), label, "truncate() returned something else than a Backbone: return self")
    kept = cut(image, keep)
    _expect(set(kept) == set(keep) and all(_close(kept[n], out[n]) for n in keep), label,
            f"changed layers {keep} when truncated to them: keep everything up to the deepest one asked")
    cut.to(memory_format=torch.channels_last)  # last: it converts the backbone in place
    nhwc = _attempt(label, "run in channels_last", cut, image.contiguous(memory_format=torch.channels_last), keep)
    _expect(all(_close(nhwc[n], out[n]) for n in keep), label,
            "gave different features in channels_last memory format (the pipeline runs it that way)")


# -- optimizers ------------------------------------------------------------------------------
def check_optimizer(optimizer: str | Callable[..., Any], /, **options: Any) -> None:
    """Check an optimizer against the contract of ``register_optimizers``.

    It builds over one image-like tensor with the schema's defaults (given or left out), and
    ``step(closure)``, called once per iteration as the pipeline does, at least halves a
    quadratic in 100 steps and keeps the tensor finite.

    Parameters
    ----------
    optimizer
        A registered name (``"adam"``) or the factory a plugin registers.
    **options
        Options to build it with (default: the schema's defaults).
    """
    import torch

    from ..errors import OptionError

    entry = _entry("optimizers", optimizer)
    label = _label(entry)
    try:
        bound = entry.bind(options)
        explicit = entry.bind({**entry.defaults(), **options})
    except OptionError as exc:
        raise AssertionError(f"{label}: {exc}: each option's default must pass its own schema") from None
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 4, 4, generator=generator)
    curvature = 0.25 + 0.75 * torch.rand(1, 3, 4, 4, generator=generator)
    _attempt(label, f"built over [tensor] with options {explicit}", entry.factory,
             [torch.zeros(1, 3, 4, 4, requires_grad=True)], **explicit)
    image = torch.zeros(1, 3, 4, 4, requires_grad=True)
    opt = _attempt(label, "built over [tensor]", entry.factory, [image], **bound)
    _expect(callable(getattr(opt, "step", None)) and callable(getattr(opt, "zero_grad", None)), label,
            f"built a {type(opt).__name__} without step() and zero_grad(): return a torch.optim.Optimizer")

    def loss() -> torch.Tensor:
        return (curvature * (image - target).square()).sum()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    with torch.no_grad():
        start = loss().item()
    for step in range(100):
        _attempt(label, f"calling step(closure) (step {step})", opt.step, closure)
        _expect(bool(torch.isfinite(image).all()), label, f"made the parameters NaN or Inf at step {step}")
    with torch.no_grad():
        end = loss().item()
    _expect(end <= 0.5 * start, label, f"took a simple quadratic from {start:.4g} to {end:.4g} in 100 steps of "
            f"step(closure) with options {bound}: it should at least halve it")
