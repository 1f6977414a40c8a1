"""Testing kit for plugin authors, shipped as a pytest plugin (the ``pytest11`` entry point).

Installing napari-nst makes two fixtures available in every pytest run:

- ``nst_host``: an isolated :class:`~nst_engine.plugins.PluginHost` (built-ins only: no
  entry points, ``NST_LOAD_PLUGINS`` / ``NST_DISABLE_PLUGINS`` ignored), installed as the
  process-wide host for one test, so ``nst_engine.create_*``, ``color_transfer`` and the
  ``nst`` command all see it;
- ``nst_register``: ``nst_register(plugin, name=..., version=...)`` adds a plugin module (or
  any object with hook implementations) to that host for one test.

And one-line conformance checks, each raising ``AssertionError`` with what to fix:
:func:`check_color_transfer`, :func:`check_loss`, :func:`check_backbone` and
:func:`check_optimizer`. Each takes a registered name or the callable a plugin registers.

pytest imports this module in every run of every project that has napari-nst installed, so
importing it costs only the package's light core (numpy, pluggy): torch and the rest of the
engine are imported when a fixture or a check is used.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    import numpy as np

    from .plugins import PluginHost, PluginRecord
    from .registry import Entry

__all__ = ["nst_host", "nst_register", "check_color_transfer", "check_loss", "check_backbone", "check_optimizer"]

# Small on purpose: every check runs in well under a second, even on VGG-19.
_SOURCE_HW, _REFERENCE_HW, _TENSOR_HW = (12, 16), (10, 14), (32, 32)
_SELF_TOLERANCE = 0.02


@pytest.fixture
def nst_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginHost]:
    """A plugin host with the built-ins only, installed process-wide for this test."""
    from .catalog import set_host
    from .plugins import PluginHost

    monkeypatch.delenv("NST_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("NST_DISABLE_PLUGINS", raising=False)
    host = PluginHost(entry_points=False)
    previous = set_host(host)
    try:
        yield host
    finally:
        set_host(previous)


@pytest.fixture
def nst_register(nst_host: PluginHost) -> Iterator[Callable[..., PluginRecord]]:
    """``nst_register(plugin, *, name=None, version=None, strict=True)``: add a plugin for one test.

    ``strict`` fails the test at once when the plugin is refused or one of its ``register``
    calls is (the host would only record the error, as ``nst plugins`` shows it); pass
    ``strict=False`` to test how a broken plugin is reported.
    """
    added: list[str] = []

    def register(plugin: Any, *, name: str | None = None, version: str | None = None,
                 strict: bool = True) -> PluginRecord:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        record = nst_host.add_plugin(plugin, name=name, version=version)
        added.append(name)
        nst_host.plugins()  # runs the register hooks, which is where most mistakes show
        if strict and record.errors:
            raise AssertionError(f"plugin {name} was not registered cleanly: " + "; ".join(record.errors))
        return record

    yield register
    for name in reversed(added):
        nst_host.remove_plugin(name)


# -- shared helpers --------------------------------------------------------------------------
def _entry(kind: str, target: Any) -> Entry:
    """The registry entry of a registered name, or an unregistered callable checked as one."""
    from .errors import OptionError, UnknownEntryError
    from .registry import kind_label, make_entry
    from .catalog import get_entry

    if isinstance(target, str):
        try:
            return get_entry(kind, target)
        except UnknownEntryError as exc:
            raise AssertionError(f"{exc}: install the plugin, or add it for the test with nst_register") from None
    name = re.sub(r"[^a-z0-9_.:-]+", "-", getattr(target, "__name__", "unnamed").lower()).strip("-._:")
    try:
        return make_entry(kind, name or "unnamed", target, plugin="(checked directly)", plugin_version=None)
    except OptionError as exc:
        raise AssertionError(
            f"{exc}: the signature of a {kind_label(kind)} is its option schema (see docs/hooks.md)"
        ) from None


def _label(entry: Entry) -> str:
    from .registry import kind_label

    origin = f" (plugin {entry.plugin} {entry.plugin_version or ''})".replace(" )", ")")
    return f"{kind_label(entry.kind)} {entry.name!r}" + ("" if entry.plugin.startswith("(") else origin)


def _attempt(label: str, doing: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; turn any exception into an AssertionError saying which check was running."""
    try:
        return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(f"{label} raised {type(exc).__name__}: {exc} when {doing}") from exc


def _expect(condition: bool, label: str, message: str) -> None:
    if not condition:
        raise AssertionError(f"{label} {message}")


# -- color transfers -------------------------------------------------------------------------
def _halves(shape: tuple[int, int], left: tuple, right: tuple, seed: int) -> np.ndarray:
    """A float64 RGB image in [0, 1] whose halves differ in color, so masks make a difference."""
    import numpy as np

    h, w = shape
    image = np.empty((h, w, 3))
    image[:, : w // 2], image[:, w // 2 :] = left, right
    return np.clip(image + np.random.default_rng(seed).uniform(-0.2, 0.2, image.shape), 0.0, 1.0)


def _as(unit: np.ndarray, dtype: Any) -> np.ndarray:
    import numpy as np

    from .images import to_uint

    return to_uint(unit, dtype) if np.issubdtype(dtype, np.unsignedinteger) else unit.astype(dtype)


def _read_only(array: np.ndarray | None) -> np.ndarray | None:
    if array is None:
        return None
    view = array.view()
    view.flags.writeable = False
    return view


def _transfer(entry: Entry, options: dict, label: str, case: str, source: np.ndarray,
              reference: np.ndarray, **masks: np.ndarray) -> np.ndarray:
    """One call on read-only inputs, with the result checked against the contract."""
    import numpy as np

    kept = [source.copy(), reference.copy(), *(m.copy() for m in masks.values())]
    doing = f"given a {case} (source {source.dtype} {source.shape}, reference {reference.shape})"
    try:
        result = entry.factory(_read_only(source), _read_only(reference),
                               **{k: _read_only(m) for k, m in masks.items()}, **options)
    except ValueError as exc:
        if "read-only" in str(exc):
            raise AssertionError(
                f"{label} writes into its input {doing}: work on a copy, e.g. "
                "np.array(source, dtype=np.float32); callers' arrays are passed read-only") from exc
        raise AssertionError(f"{label} raised ValueError: {exc} when {doing}") from exc
    except Exception as exc:
        raise AssertionError(f"{label} raised {type(exc).__name__}: {exc} when {doing}") from exc
    _expect(isinstance(result, np.ndarray), label, f"returned {type(result).__name__} {doing}; return a numpy array")
    _expect(result.shape == source.shape and result.dtype == source.dtype, label,
            f"returned {result.dtype} {result.shape} {doing}: keep the source's shape and dtype")
    if np.issubdtype(result.dtype, np.floating):
        _expect(bool(np.isfinite(result).all()), label, f"returned NaN or Inf {doing}")
        _expect(bool(result.min() >= 0 and result.max() <= 1), label,
                f"returned float values in [{result.min():g}, {result.max():g}] {doing}: clip them to [0, 1]")
    for before, after in zip(kept, [source, reference, *masks.values()]):
        _expect(np.array_equal(before, after), label, f"modified an input array {doing}: work on a copy")
    return result


def check_color_transfer(transfer: str | Callable[..., Any], /, **options: Any) -> None:
    """Check a color transfer against the contract of ``register_color_transfers``.

    Uint8, uint16, float32 and float64 RGB inputs keep their shape and dtype; results are
    finite and floats stay in [0, 1]; inputs are read-only and left untouched; equal inputs
    give equal results; an image recoloured with itself stays close to itself; RGBA alpha
    comes back bit-identical; gray ``H×W`` is handled or refused with ``ImageError``;
    ``source_mask`` / ``reference_mask``, when taken, select the statistics' pixels.

    Parameters
    ----------
    transfer
        A registered name (``"sliced-ot"``) or the function a plugin registers.
    **options
        Options to check with (default: the schema's defaults), validated by the schema.
    """
    import numpy as np

    from .errors import ImageError, OptionError
    from .images import to_unit_float

    entry = _entry("color_transfers", transfer)
    label = _label(entry)
    try:
        bound = entry.bind(options)
    except OptionError as exc:
        raise AssertionError(str(exc)) from None
    src = _halves(_SOURCE_HW, (0.7, 0.3, 0.2), (0.2, 0.3, 0.7), seed=1)
    ref = _halves(_REFERENCE_HW, (0.2, 0.6, 0.3), (0.8, 0.8, 0.2), seed=2)
    for dtype in (np.uint8, np.uint16, np.float64, np.float32):
        source, reference = _as(src, dtype), _as(ref, dtype)
        first = _transfer(entry, bound, label, f"{np.dtype(dtype)} RGB image", source, reference)
    again = _transfer(entry, bound, label, "float32 RGB image", source.copy(), reference.copy())
    _expect(np.array_equal(first, again), label, "gave different results for equal inputs: seed any randomness")
    itself = _transfer(entry, bound, label, "float32 RGB image and itself", source, source.copy())
    change = float(np.abs(itself - source).mean())
    _expect(change <= _SELF_TOLERANCE, label, f"changed an image recoloured with its own colors by {change:.3g} "
            f"on average (at most {_SELF_TOLERANCE} expected): a transfer should be near identity then")

    alpha = np.random.default_rng(3).integers(0, 256, _SOURCE_HW, dtype=np.uint8)
    alpha[:2] = 0
    rgba = np.concatenate([_as(src, np.uint8), alpha[..., None]], axis=-1)
    out = _transfer(entry, bound, label, "uint8 RGBA image", rgba, _as(ref, np.uint8))
    _expect(np.array_equal(out[..., 3], alpha), label, "changed the alpha channel: return it unchanged")

    gray = to_unit_float(_as(src, np.uint8)).mean(axis=-1).astype(np.float32)
    try:
        _transfer(entry, bound, label, "float32 gray H×W image", gray, reference)
    except AssertionError as exc:
        if not isinstance(exc.__cause__, ImageError):  # refusing gray with ImageError is fine
            raise
    _check_masks(entry, bound, label, source, reference, first)


def _check_masks(entry: Entry, options: dict, label: str, source: np.ndarray, reference: np.ndarray,
                 plain: np.ndarray) -> None:
    import inspect

    import numpy as np

    taken = [m for m in ("source_mask", "reference_mask") if m in inspect.signature(entry.factory).parameters]
    for name in taken:
        shape = (source if name == "source_mask" else reference).shape[:2]
        full, half = np.ones(shape, bool), np.zeros(shape, bool)
        half[:, : shape[1] // 2] = True
        every = _transfer(entry, options, label, f"{name} selecting every pixel", source, reference, **{name: full})
        _expect(bool(np.allclose(every, plain, atol=1e-5)), label,
                f"gave a different result with a {name} that selects every pixel than without one")
        masked = _transfer(entry, options, label, f"{name} selecting the left half", source, reference, **{name: half})
        _expect(not np.allclose(masked, plain, atol=1e-3), label,
                f"takes {name} but ignores it: its statistics must come from the selected pixels only")


# -- losses ----------------------------------------------------------------------------------
def _backbone(backbone: Any) -> Any:
    from .catalog import create_backbone

    return create_backbone(backbone) if isinstance(backbone, str) else backbone


def check_loss(loss: str | Callable[..., Any], /, *, backbone: Any = "random-multiscale", **options: Any) -> None:
    """Check a loss term against the contract of ``register_losses``.

    Its ``role`` is content, style or image; ``resolve_layers`` names layers of the backbone;
    ``prepare`` works under ``no_grad``; the value is a finite 0-dim tensor; it vanishes when
    the image is the reference (content and style roles, all references the same image);
    its gradient with respect to the image is finite and nonzero; a style term takes a mask.

    Parameters
    ----------
    loss
        A registered name (``"gram"``) or the factory (often a class) a plugin registers.
    backbone
        A registered backbone name or a built backbone to check against.
    **options
        The loss's options (default: the schema's defaults).
    """
    import torch

    from .errors import OptionError
    from .objective import ReferenceImages

    entry = _entry("losses", loss)
    label = _label(entry)
    try:
        bound = entry.bind(options)
    except OptionError as exc:
        raise AssertionError(str(exc)) from None
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

    distinct = {"content": content, "style": style, "style:0": style, "style@content": style}
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
        copied.reference, copied.mask = "style:0", torch.zeros(1, 1, *_TENSOR_HW)
        copied.mask[..., : _TENSOR_HW[1] // 2] = 1.0
        value(copied, image, distinct)


# -- backbones -------------------------------------------------------------------------------
def _close(a: Any, b: Any) -> bool:
    """Equal up to float reordering: deep layers reach tens, so the tolerance is relative."""
    return bool((a - b).abs().max() <= 1e-5 * (1 + a.abs().max()))


def check_backbone(backbone: str | Callable[..., Any], /, **options: Any) -> None:
    """Check a backbone against the contract of ``register_backbones``.

    The factory returns a frozen :class:`~nst_engine.backbones.Backbone` (the pipeline uses it
    as returned); ``layer_names`` is non-empty and holds the default content and style layers;
    ``check_layers`` refuses unknown names with ``ValueError``; ``forward`` returns exactly the
    requested layers as finite 4-D tensors for a small image in [0, 1], deterministically and
    in either memory format; the gradient reaches the input; ``truncate`` keeps what is asked.

    Parameters
    ----------
    backbone
        A registered name (``"vgg19"``) or the factory a plugin registers.
    **options
        Options to build it with, e.g. ``weights="random"`` to skip a download.
    """
    import torch

    from .backbones import Backbone
    from .errors import OptionError

    entry = _entry("backbones", backbone)
    label = _label(entry)
    try:
        bound = entry.bind(options)
    except OptionError as exc:
        raise AssertionError(str(exc)) from None
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
    nhwc = net(image.contiguous(memory_format=torch.channels_last), wanted)
    _expect(all(_close(out[n], nhwc[n]) for n in wanted), label,
            "gave different features for a channels_last image (the pipeline uses that layout)")
    pixels = image.clone().requires_grad_(True)
    total = sum(v.square().mean() for v in net(pixels, wanted).values())
    if total.requires_grad:
        total.backward()
    grad = pixels.grad
    _expect(grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0), label,
            "passes no finite, nonzero gradient back to the input image: style transfer needs it "
            "(do not detach the features or compute them under no_grad)")
    keep = net.check_layers({net.content_layers[0], net.style_layers[0]})
    cut = _attempt(label, f"truncating to {keep}", net.truncate, keep)
    _expect(isinstance(cut, Backbone), label, "truncate() returned something else than a Backbone: return self")
    kept = cut(image, keep)
    _expect(set(kept) == set(keep) and all(_close(kept[n], out[n]) for n in keep), label,
            f"changed layers {keep} when truncated to them: keep everything up to the deepest one asked")


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

    from .errors import OptionError

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
            "step(closure) with its default options: it should at least halve it")
