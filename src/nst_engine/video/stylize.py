"""Style transfer of a frame sequence with temporal coherence (Ruder, Dosovitskiy & Brox 2016).

Stylising each frame alone flickers: every optimisation lands in another local optimum.
Ruder et al. start frame *i* from the previous result warped into it by the optical flow of
the input frames and hold it there with the temporal loss wherever the flow is reliable
(:mod:`nst_engine.losses.temporal`, weights from :mod:`nst_engine.video.occlusion`). The
coherence modes, from least to most coherent:

- ``"independent"``: every frame is a run of its own, with the options given;
- ``"warm"``: frame *i* starts from result *i − 1* as it is (no motion);
- ``"warped"``: it starts from result *i − 1* warped by the flow;
- ``"temporal"`` (default): it starts there and the temporal loss holds it there.

The first frame runs the options' full coarse-to-fine schedule; later frames start close to
their answer and run ``frame_steps`` steps at the final scale. ``long_term`` holds a frame to
several earlier results (each pixel to the nearest that sees it), and ``passes`` > 1 runs
Ruder et al.'s multi-pass schedule: independent frames first, then passes alternately
forwards and backwards, each frame started from a blend of its last result and its
neighbour's warped one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generator, Mapping, Protocol, Sequence

import numpy as np

from ..cancellation import CancelRequest
from ..errors import OptionError
from ..generators import result_of
from ..guides import previous_ref, previous_weight_ref
from ..images import resize_max_side, split_image
from ..losses.temporal import check_offsets
from ..pipeline import StepEvent, StyleResult, iter_stylize
from ..plan import DEFAULT_LOSSES
from ..validation import check_choice, check_int, check_positive_float
from .flow import DEFAULT_FLOW, FLOW_METHODS, flow_pair, warp
from .occlusion import consistency_weights, long_term_weights

__all__ = ["COHERENCE", "DEFAULT_TEMPORAL_WEIGHT", "FrameEvent", "VideoResult", "FrameSink", "default_frame_steps",
           "iter_stylize_video", "stylize_video"]

COHERENCE = ("temporal", "warped", "warm", "independent")
#: The temporal loss's weight beside :data:`~nst_engine.plan.DEFAULT_LOSSES` (measured in
#: benchmarks/bench_video.py: the flicker falls to a fraction at nearly the same style loss).
DEFAULT_TEMPORAL_WEIGHT = 1e3
#: Ruder et al.'s blend of a frame's last result with its neighbour's warp in multi-pass.
MULTI_PASS_BLEND = 0.5


def default_frame_steps(steps: int) -> int:
    """Steps of each frame after the first: a third of ``steps``, at least 20 (it starts near its answer)."""
    return max(20, steps // 3)


@dataclass(frozen=True)
class FrameEvent:
    """Progress: a step of frame ``frame``'s optimisation, or (``step`` is ``None``) the frame done."""

    frame: int
    frames: int
    pass_index: int
    passes: int
    step: StepEvent | None = None
    #: The finished frame, on the event that ends it.
    image: np.ndarray | None = field(default=None, repr=False)
    #: The frame came from an earlier, interrupted run (see :class:`FrameSink`).
    reused: bool = False


@dataclass(frozen=True)
class VideoResult:
    """The stylised frames (as many as were finished) and the run's provenance."""

    frames: list[np.ndarray] = field(repr=False)
    provenance: dict

    @property
    def cancelled(self) -> bool:
        return bool(self.provenance.get("cancelled"))


class FrameSink(Protocol):
    """Where finished frames go, so that an interrupted run resumes (e.g. the CLI's frame store)."""

    def reusable(self, index: int, key: str) -> np.ndarray | None:
        """The frame stored under ``key`` at ``index``, or ``None``."""

    def put(self, index: int, image: np.ndarray, key: str) -> np.ndarray | None:
        """Store a finished frame (atomically: whole or not at all); return it as stored (what
        :meth:`reusable` would give back), or ``None`` when it is stored exactly."""


def _digest(*parts: Any) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            hasher.update(str((part.shape, part.dtype.str)).encode())
            hasher.update(np.ascontiguousarray(part).tobytes())
        else:
            hasher.update(json.dumps(part, sort_keys=True, default=str).encode())
    return hasher.hexdigest()


class _Frames:
    """The input frames as float RGB at the run's size (flow, guides and results then share one
    pixel grid), each read and resized when first needed and only the newest few kept: a long
    clip is never whole in memory."""

    def __init__(self, frames: Any, size: int | None, keep: int) -> None:
        if isinstance(frames, np.ndarray) and (frames.ndim not in (3, 4) or (frames.ndim == 3 and frames.shape[-1] in (3, 4))):
            raise OptionError(f"frames has shape {frames.shape}; expected a (T, H, W[, C]) stack or a sequence of "
                              "frames", option="frames")
        if len(frames) == 0:
            raise OptionError("frames is empty: give at least one frame", option="frames")
        self._source, self._size, self._keep = frames, size, max(2, keep)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.shape = self[0].shape

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> np.ndarray:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        frame = resize_max_side(split_image(self._source[index], what=f"frame {index}")[0], self._size)
        if index and frame.shape != self.shape:
            raise OptionError(f"frame {index} is {frame.shape[1]}×{frame.shape[0]} but frame 0 is "
                              f"{self.shape[1]}×{self.shape[0]}: a video's frames share one size", option="frames")
        self._cache[index] = frame
        if len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return frame


def _check_offsets(long_term: Sequence[int]) -> tuple[int, ...]:
    try:
        return check_offsets(long_term, "long_term")
    except ValueError as exc:
        raise OptionError(str(exc), option="long_term") from None


class _Flows:
    """Flows and reliability weights between input frames, the newest ``keep`` pairs kept (a
    frame asks for each of its pairs more than once; a pass never comes back to old ones)."""

    def __init__(self, frames: _Frames, method: str, keep: int) -> None:
        self.frames, self.method, self.seconds, self._keep = frames, method, 0.0, keep
        self._pairs: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def toward(self, source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
        """``(backward flow, weights)`` that warp a result of frame ``source`` into frame ``target``."""
        if (source, target) not in self._pairs:
            started = time.perf_counter()
            forward, backward = flow_pair(self.frames[source], self.frames[target], method=self.method)
            self._pairs[(source, target)] = backward, consistency_weights(forward, backward)
            self.seconds += time.perf_counter() - started
            if len(self._pairs) > self._keep:
                self._pairs.popitem(last=False)
        return self._pairs[(source, target)]


def iter_stylize_video(
    frames: np.ndarray | Sequence[np.ndarray],
    style: np.ndarray | Sequence[np.ndarray],
    *,
    coherence: str = "temporal",
    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT,
    long_term: Sequence[int] = (1,),
    passes: int = 1,
    frame_steps: int | None = None,
    flow: str = DEFAULT_FLOW,
    size: int | None = 512,
    steps: int = 300,
    losses: Mapping[str, float] | None = None,
    loss_options: Mapping[str, Mapping[str, Any]] | None = None,
    sink: FrameSink | None = None,
    keep_frames: bool = True,
    cancel: CancelRequest | None = None,
    **options: Any,
) -> Generator[FrameEvent, Any, VideoResult]:
    """Stylise ``frames`` (a ``(T, H, W[, C])`` stack or a sequence) with ``style``, frame by frame.

    Parameters
    ----------
    coherence
        ``"temporal"``, ``"warped"``, ``"warm"`` or ``"independent"`` (see the module docstring).
    temporal_weight
        The temporal loss's weight beside ``losses`` (``"temporal"`` coherence).
    long_term
        The earlier frames each frame is held to: ``(1,)`` the previous (short-term);
        e.g. ``(1, 2, 4)`` the long-term loss.
    passes
        1: one forward pass; more: Ruder et al.'s multi-pass schedule.
    frame_steps
        Steps of each frame after the first, and of each frame in later passes, at the final
        scale (default: a third of ``steps``, at least 20).
    flow
        The optical flow method (:data:`~nst_engine.video.flow.FLOW_METHODS`).
    size, steps, losses, loss_options, **options
        As :func:`nst_engine.iter_stylize`, for every frame.
    sink
        Receives each finished frame with a key naming everything it depends on (options,
        style, this and earlier input frames); a frame it already holds under that key is
        reused, so an interrupted run resumes; later frames follow each frame as the sink stored
        it, so the resumed run gives what an uninterrupted one would have, bit for bit.
        Multi-pass runs store only their last pass.
    keep_frames
        ``False``: the finished frames go only to the events and the sink, and
        :attr:`VideoResult.frames` is empty. A one-pass run then holds a few frames at a time,
        however long the clip (multi-pass holds every frame's result).
    cancel
        A ``threading.Event``: the run stops within one backbone layer and returns the
        frames finished so far, marked cancelled.
    """
    coherence = check_choice("coherence", coherence, COHERENCE)
    flow = check_choice("flow", flow, FLOW_METHODS)
    temporal_weight = check_positive_float("temporal_weight", temporal_weight)
    offsets = _check_offsets(long_term)
    passes = check_int("passes", passes, minimum=1)
    steps = check_int("steps", steps, minimum=0)
    frame_steps = default_frame_steps(steps) if frame_steps is None else check_int("frame_steps", frame_steps, minimum=0)
    for name in ("init_image", "guides", "mask"):
        if options.get(name) is not None:
            raise OptionError(f"{name} is not taken by a video run: each frame's is made from the previous one",
                              option=name)
    weights = dict(DEFAULT_LOSSES if losses is None else losses)
    if "temporal" in weights:
        raise OptionError("losses includes 'temporal': set its weight with temporal_weight", option="losses")
    started = time.perf_counter()
    window = max(offsets) + 1  # the frames a frame is held to, and itself
    inputs = _Frames(frames, size, keep=window + 1)
    styles = style if isinstance(style, (list, tuple)) else [style]
    base = dict(options, size=None, steps=steps, losses=weights, loss_options=dict(loss_options or {}), cancel=cancel)
    run_key = _digest({k: v for k, v in options.items() if k not in ("preview_every", "threads")},
                      {"coherence": coherence, "temporal_weight": temporal_weight, "long_term": offsets,
                       "passes": passes, "frame_steps": frame_steps, "flow": flow, "size": size, "steps": steps,
                       "losses": weights, "loss_options": loss_options or {}},
                      *[np.asarray(s) for s in styles])
    flows = _Flows(inputs, flow, keep=2 * window)
    count = len(inputs)
    results: list[StyleResult | None] = [None] * count
    finished: list[np.ndarray | None] = [None] * count
    done_count = 0  # frames finished from the start on: what a cancelled run returns

    def keep(index: int, result: StyleResult, image: np.ndarray) -> None:
        """Hold a finished frame's result as long as a later frame of this pass may need it."""
        results[index] = result
        if keep_frames:
            finished[index] = image
        if passes == 1 and index >= window:
            results[index - window] = None
    records: list[dict[str, Any]] = [{"index": i} for i in range(count)]
    first_provenance: dict | None = None
    cancelled = False

    def run(index: int, pass_index: int, **frame_options: Any) -> Generator[FrameEvent, Any, StyleResult]:
        events = iter_stylize(inputs[index], style, **{**base, **frame_options})
        try:
            command = None
            while True:
                event = events.send(command)
                command = yield FrameEvent(index, count, pass_index, passes, step=event)
        except StopIteration as done:
            return done.value
        finally:
            events.close()

    def guided(index: int, neighbours: Sequence[int], previous: Sequence[np.ndarray]) -> dict[str, Any]:
        """One frame's options in ``coherence``: its start, and its guides when temporal."""
        if coherence == "warm":
            return {"init_image": previous[0]}
        warps = [flows.toward(n, index) for n in neighbours]
        warped = [warp(image, backward) for image, (backward, _) in zip(previous, warps)]
        start = _filled(warped[0], warps[0][1], inputs[index])
        if coherence == "warped":
            return {"init_image": start}
        reliable = long_term_weights([c for _, c in warps]) if len(warps) > 1 else [warps[0][1]]
        guides = {}
        for offset_index, (image, weight) in enumerate(zip(warped, reliable)):
            guides[previous_ref(offset_index + 1)] = image
            guides[previous_weight_ref(offset_index + 1)] = weight
        return {
            "init_image": start, "guides": guides,
            "losses": {**weights, "temporal": temporal_weight},
            "loss_options": {**base["loss_options"], "temporal": {"offsets": tuple(range(1, len(warped) + 1))}},
        }

    def later(index: int, neighbours: Sequence[int]) -> dict[str, Any]:
        previous = [results[n].optimised for n in neighbours]
        return {**guided(index, neighbours, previous), "scales": 1, "steps": frame_steps}

    # Pass 0: forward; each frame held to the frames before it (none when independent).
    key = run_key
    for index in range(count):
        key = _digest(key, inputs[index])
        frame_started = time.perf_counter()
        stored = sink.reusable(index, key) if sink is not None and passes == 1 else None
        if stored is not None:
            keep(index, StyleResult(stored, {"reused": True}), stored)
            done_count = index + 1
            records[index].update(reused=True)
            yield FrameEvent(index, count, 0, passes, image=stored, reused=True)
            continue
        neighbours = [index - j for j in offsets if index - j >= 0]
        if index == 0 or coherence == "independent" or passes > 1:
            result = yield from run(index, 0)
        else:
            result = yield from run(index, 0, **later(index, neighbours))
        if result.cancelled:
            cancelled = True
            break
        first_provenance = first_provenance or result.provenance
        records[index].update(steps_run=result.provenance.get("steps_run"),
                              seconds=round(time.perf_counter() - frame_started, 3))
        if sink is not None and passes == 1:
            stored = sink.put(index, result.image, key)
            if stored is not None:  # the next frames follow the frame as stored: a resumed run is the same run
                result = StyleResult(stored, result.provenance)
        keep(index, result, result.image)
        done_count = index + 1
        yield FrameEvent(index, count, 0, passes, image=result.image)
    # Later passes, alternately backwards and forwards (Ruder et al. 2016, sec. 3.3).
    for pass_index in range(1, passes if not cancelled else 1):
        order = range(count - 1, -1, -1) if pass_index % 2 else range(count)
        step = 1 if pass_index % 2 else -1  # where the neighbour this pass came from lies
        for position, index in enumerate(order):
            frame_started = time.perf_counter()
            own = results[index].optimised
            if position == 0 or coherence == "independent":
                options_now = {"init_image": own, "scales": 1, "steps": frame_steps}
            else:
                neighbour = index + step
                options_now = {**guided(index, [neighbour], [results[neighbour].optimised]),
                               "scales": 1, "steps": frame_steps}
                _, weight = flows.toward(neighbour, index)
                warped = options_now["init_image"]
                blend = (MULTI_PASS_BLEND * weight)[..., None]
                options_now["init_image"] = (blend * warped + (1 - blend) * own).astype(np.float32)
            result = yield from run(index, pass_index, **options_now)
            if result.cancelled:
                cancelled = True
                break
            keep(index, result, result.image)
            records[index].setdefault("pass_seconds", []).append(round(time.perf_counter() - frame_started, 3))
            if sink is not None and pass_index == passes - 1:
                sink.put(index, result.image, _digest(key, index))
            yield FrameEvent(index, count, pass_index, passes, image=result.image)
        if cancelled:
            break
    done = finished[:done_count] if keep_frames else []
    provenance = {
        **(first_provenance or {}),
        "method": "ruder" if coherence != "independent" else "gatys",
        "video": {
            "frames": count, "frames_done": done_count, "coherence": coherence, "temporal_weight": temporal_weight,
            "long_term": list(offsets), "passes": passes, "frame_steps": frame_steps, "flow": flow,
            "size": size, "steps": steps, "flow_s": round(flows.seconds, 3),
            "total_s": round(time.perf_counter() - started, 3), "per_frame": records,
        },
        "cancelled": cancelled,
    }
    return VideoResult(done, provenance)


def _filled(warped: np.ndarray, weights: np.ndarray, content: np.ndarray) -> np.ndarray:
    """A frame's start: the warped previous result where the flow is reliable, its own content
    where it is not. Warping smears the edge pixels into what comes into view (disocclusions);
    a frame's few steps do not undo those streaks, but stylise its content there as frame 0's."""
    reliable = weights[..., None]
    return (reliable * warped + (1.0 - reliable) * content).astype(np.float32)


def stylize_video(frames: np.ndarray | Sequence[np.ndarray], style: np.ndarray | Sequence[np.ndarray],
                  **options: Any) -> VideoResult:
    """Run :func:`iter_stylize_video` to the end; its options are ``iter_stylize_video``'s."""
    return result_of(iter_stylize_video(frames, style, **options))
