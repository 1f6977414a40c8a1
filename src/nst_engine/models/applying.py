"""Applying a feed-forward model to images and clips: what ``nst apply`` and a widget share.

:class:`ModelRun` binds a :class:`~nst_engine.models.Model` to everything its frames share
(device, precision, style image, color handling, call options, size) and checks all of it
once, on a tiny probe image, so that a bad option is refused before the first frame rather
than at it. :func:`iter_apply_frames` runs it over a clip a batch of frames at a time,
yielding an :class:`ApplyEvent` per frame and reusing the frames a resumable ``sink`` (a
:class:`~nst_engine.video.frame_writing.FrameStore`) already holds; :func:`apply_frames` and
:func:`apply_image` drain it for scripts.

Color preservation follows :mod:`nst_engine.preservation` (Gatys et al. 2017): ``luminance``
keeps the output's luminance with the content's chroma and ``after:<transfer>`` recolours
the output; ``before:<transfer>`` recolours the style image, so only a model that takes one
(AdaIN) accepts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from .. import __version__
from ..color.spaces import rgb_to_yiq
from ..devices import resolve_device, torch_threads
from ..errors import OptionError
from ..generators import result_of
from ..heap import kept_heap
from ..images import merge_alpha, resize_to, split_image
from ..memory import available_bytes
from ..precision import resolve_precision
from ..preservation import ColorPreservation, parse_color_mode
from ..schedule import max_side_shape
from .base import Model
from .coherence import TemporalBlend

__all__ = ["ApplyEvent", "ApplyResult", "FrameSink", "ModelRun", "apply_frames", "apply_image", "iter_apply_frames"]

#: The probe's side: above every built-in's minimum (AdaIN needs 9 pixels).
_PROBE_SIDE = 16


class FrameSink(Protocol):
    """Where finished frames go, keyed so that a resumed run reuses them (a ``FrameStore``)."""

    def reusable(self, index: int, key: str) -> np.ndarray | None: ...

    def put(self, index: int, image: np.ndarray, key: str) -> np.ndarray: ...


@dataclass(frozen=True)
class ApplyEvent:
    """One finished frame: its index, the clip's length, the frame (as stored when there is a
    sink) and whether it was reused from the sink rather than computed."""

    frame: int
    frames: int
    image: np.ndarray
    reused: bool = False


@dataclass(frozen=True)
class ApplyResult:
    """The frames (empty when they went to a sink) and the run's provenance."""

    frames: list[np.ndarray]
    provenance: dict[str, Any] = field(default_factory=dict)


def _digest(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _weights_digest(model: Model) -> str:
    """The weights' SHA-256: the file's when the model was loaded from one, else of its tensors."""
    recorded = model.provenance.get("sha256")
    if recorded:
        return str(recorded)
    return _digest(*(t.detach().cpu().numpy() for t in model.state_dict().values()))




class ModelRun:
    """A model bound to what all its images share, checked once; call it on a list of images.

    Parameters
    ----------
    model
        The feed-forward model (:func:`~nst_engine.models.load_model`, ``create_model``).
    style
        The style image, for a model that takes one (AdaIN).
    size
        Longer side of the results in pixels; ``None`` keeps each input's size.
    color, color_options
        ``"none"``, ``"luminance"``, ``"after:<transfer>"`` or (with a style image)
        ``"before:<transfer>"``, and the transfer's options.
    device, precision, threads
        Where it runs (``"auto"``: CUDA, MPS, else the CPU), ``"fp32"``, ``"bf16"`` (autocast;
        refused where the device has no native bfloat16) or ``"auto"``, and torch's CPU threads.
    **call_options
        The model's per-call options (``style_index=1``, ``style_mix=(0.3, 0.7)``, ``alpha=0.5``).
    """

    def __init__(self, model: Model, *, style: np.ndarray | None = None, size: int | None = None,
                 color: str = "none", color_options: Mapping[str, Any] | None = None, device: str = "auto",
                 precision: str = "fp32", threads: int | None = None, **call_options: Any) -> None:
        model.check_call(style, call_options)
        when, transfer = parse_color_mode(color)
        if when == "before" and style is None:
            raise OptionError(f"color {color!r} recolours the style image, and model {model.name!r} learnt its style "
                              f"in training and takes none: use after:{transfer} (recolour the output) or luminance",
                              option="color")
        if size is not None and size < _PROBE_SIDE:
            raise OptionError(f"size must be at least {_PROBE_SIDE} pixels, not {size}", option="size")
        self.color = ColorPreservation(color, dict(color_options or {}))
        self._when = when
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.model, self.size, self.threads = model.to(self.device), size, threads
        self.call_options = dict(call_options)
        self.style = None if style is None else split_image(style, what="style image")[0]
        self.key = _digest(self.describe(), _weights_digest(model), self.style if self.style is not None else 0)
        probe = np.zeros((_PROBE_SIDE, _PROBE_SIDE, 3), np.float32)
        self._forward([probe], None if self.style is None else [probe])

    def describe(self) -> dict[str, Any]:
        """What the results depend on, and the versions that made them: the run's provenance."""
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.call_options.items()}
        return {
            "engine": "nst_engine", "version": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "method": "feed-forward",
            "model": self.model.describe(), "call_options": options, "size": self.size,
            "color": self.color.describe(), "style": self.style is not None,
            "device": str(self.device), "precision": self.precision,
        }

    def _forward(self, images: list[np.ndarray], styles: list[np.ndarray] | None) -> list[np.ndarray]:
        """The model on equally sized float RGB images at once (one style per image, or none)."""
        reference = next(iter(self.model.parameters()), None)
        like = {"device": self.device, "dtype": reference.dtype if reference is not None else torch.float32}
        batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).to(**like)
        style = None
        if styles is not None:
            style = torch.from_numpy(np.stack(styles)).permute(0, 3, 1, 2).to(**like)
            if all(s is styles[0] for s in styles):
                style = style[:1]
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.precision == "bf16" \
            else contextlib.nullcontext()
        training = self.model.training
        self.model.eval()
        try:
            with torch_threads(self.threads), torch.inference_mode(), autocast:
                out = self.model(batch, style=style, **self.call_options)
        finally:
            self.model.train(training)
        out = out.float().clamp(0.0, 1.0).permute(0, 2, 3, 1).cpu().numpy()
        return list(out)

    def __call__(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Stylise ``images`` (gray, RGB or RGBA; any dtype): float32 ``H×W×3`` (``×4`` keeping alpha) in [0, 1].

        Images of one size go through the model together; alpha is kept, not stylised.
        """
        split = [split_image(image) for image in images]
        contents = [resize_to(rgb, max_side_shape(rgb.shape, self.size)) for rgb, _ in split]
        colors = [ColorPreservation(self.color.mode, self.color.options) for _ in contents]
        # prepare() records each content's colors for finish(); only "before" changes the style.
        given = [] if self.style is None else [self.style]
        prepared = [color.prepare(content, given)[1] for color, content in zip(colors, contents)]
        styles = None
        if self.style is not None:
            styles = [p[0] for p in prepared] if self._when == "before" else [self.style] * len(contents)
        if len({c.shape for c in contents}) == 1:
            outs = self._forward(contents, styles)
        else:
            outs = [self._forward([c], None if styles is None else [s])[0]
                    for c, s in zip(contents, styles or [None] * len(contents))]
        results = []
        for out, color, (_, alpha) in zip(outs, colors, split):
            if self._when == "luminance":  # finish() takes the luminance as the channels' mean
                out = np.repeat(rgb_to_yiq(out)[..., :1], 3, axis=-1)
            results.append(merge_alpha(color.finish(out), alpha))
        return results


#: A forward pass's peak memory per pixel of its batch, an upper bound: measured 1.0 KB for
#: ``johnson`` and 0.7 KB for ``adain`` in float32 on the CPU; twice that for models not measured.
APPLY_BYTES_PER_PIXEL = 2048


def clip_heap(device: torch.device, shape: tuple[int, int], batch_size: int = 1) -> contextlib.AbstractContextManager:
    """Around a loop of forward passes on ``shape`` frames: on the CPU, freed memory stays in the
    heap between them where there is room (:mod:`nst_engine.heap`; a 512² clip 1.4× the frames/s)."""
    h, w = shape
    return kept_heap(APPLY_BYTES_PER_PIXEL * h * w * batch_size, available_bytes(device), device)


def iter_apply_frames(model: Model | ModelRun, frames: Sequence[np.ndarray], *, batch_size: int = 1,
                      sink: FrameSink | None = None, resume: bool = True, temporal_blend: float = 0.0,
                      **options: Any) -> Generator[ApplyEvent, None, ApplyResult]:
    """Apply ``model`` to every frame of a clip, ``batch_size`` frames per forward pass.

    Parameters
    ----------
    model
        A model (bound with ``options``, :class:`ModelRun`'s) or a :class:`ModelRun`.
    frames
        Anything with ``len`` and integer indexing: a list, a ``(T, H, W[, C])`` array, or
        :func:`~nst_engine.video.frame_reading.open_frames`' frames (read one at a time).
    sink
        Where each frame goes as it finishes, keyed by the run and the frame's pixels; with
        ``resume`` a frame it already holds under that key is reused, not computed.
    temporal_blend
        From 0 (off) to below 1: how strongly each frame is pulled towards the previous result
        warped by the optical flow (:class:`~nst_engine.models.coherence.TemporalBlend`), against
        flicker. A blended frame depends on the frames before it, so its key covers theirs.

    Yields an :class:`ApplyEvent` per frame, in order; returns an :class:`ApplyResult`.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise OptionError(f"batch_size must be a whole number >= 1, not {batch_size!r}", option="batch_size")
    blend = TemporalBlend(temporal_blend)
    run = model if isinstance(model, ModelRun) else ModelRun(model, **options)
    count = len(frames)
    kept: list[np.ndarray] = []
    pending: list[tuple[int, np.ndarray, str]] = []
    reused = 0
    started = time.perf_counter()

    def flush() -> Iterator[ApplyEvent]:
        outs = run([image for _, image, _ in pending])
        for (index, image, key), out in zip(pending, outs):
            out = blend(image, out) if blend.strength else out
            if sink is not None:
                out = sink.put(index, out, key)
            else:
                kept.append(out)
            if blend.strength:
                blend.remember(image, out)
            yield ApplyEvent(index, count, out)
        pending.clear()

    key = ""
    shape = max_side_shape(np.shape(frames[0]), run.size) if count else (0, 0)
    with clip_heap(run.device, shape, batch_size):
        for index in range(count):
            image = frames[index]
            if sink is not None:
                key = _digest(run.key, np.asarray(image), *((blend.strength, key) if blend.strength else ()))
            stored = sink.reusable(index, key) if sink is not None and resume else None
            if stored is not None:
                yield from flush() if pending else ()
                if blend.strength:
                    blend.remember(image, stored)
                reused += 1
                yield ApplyEvent(index, count, stored, reused=True)
                continue
            pending.append((index, image, key))
            if len(pending) == batch_size:
                yield from flush()
        if pending:
            yield from flush()
    seconds = time.perf_counter() - started
    provenance = dict(run.describe(), frames=count, reused=reused, batch_size=batch_size, temporal_blend=blend.strength,
                      total_s=round(seconds, 3), seconds_per_frame=round(seconds / max(1, count - reused), 4))
    return ApplyResult(kept, provenance)


def apply_frames(model: Model | ModelRun, frames: Sequence[np.ndarray], **options: Any) -> ApplyResult:
    """Run :func:`iter_apply_frames` to the end (its options); the frames are in the result unless a sink took them."""
    return result_of(iter_apply_frames(model, frames, **options))


def apply_image(model: Model, image: np.ndarray, **options: Any) -> np.ndarray:
    """Stylise one image with :class:`ModelRun`'s options: float32 ``H×W×3`` (``×4`` with alpha) in [0, 1]."""
    return ModelRun(model, **options)([image])[0]
