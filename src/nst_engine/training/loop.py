"""Training a feed-forward style network (Johnson et al. 2016) as a generator of steps.

:func:`train` yields a :class:`TrainEvent` after every Adam step and returns a
:class:`TrainResult` (the trained :class:`~nst_engine.models.TransformerNet` and its
provenance), as :func:`nst_engine.iter_stylize` does for an optimisation: sending ``"stop"``
or setting ``cancel`` ends it early, with a result marked cancelled and, given a
``checkpoint``, a checkpoint of the last completed step to resume from.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__
from ..cancellation import CancelRequest, Cancelled, cancellable, raise_if_cancelled
from ..devices import resolve_device, torch_threads
from ..errors import OptionError
from ..generators import result_of
from ..heap import kept_heap
from ..images import max_side_shape, resize_to, split_image
from ..memory import available_bytes
from ..models import TransformerNet, johnson, save_model
from ..objective import build_terms
from ..plan import DEFAULT_LOSSES, Bound
from ..plugins import get_entry
from ..precision import cast_forward, resolve_precision
from ..validation import check_bool, check_int, check_mapping, check_positive_float
from .checkpoints import fingerprint, resumable_state, write_checkpoint
from .data import image_digest, read_training_images
from .loss import PerceptualLoss

__all__ = ["TrainEvent", "TrainResult", "train", "train_model", "JOHNSON_CONTENT_LAYERS", "default_backbone"]

#: Johnson et al. reconstruct features at relu2_2 for style transfer (Gatys' relu4_2 keeps less
#: of the photograph's detail); other backbones keep their own content layer.
JOHNSON_CONTENT_LAYERS = {"vgg16": ("relu2_2",), "vgg19": ("relu2_2",)}
#: Steps whose losses the provenance averages: one step's crops make a noisy figure.
_WINDOW = 10

ImageInput = np.ndarray | str | os.PathLike


@dataclass(frozen=True)
class TrainEvent:
    """Progress after one training step."""

    step: int
    total: int
    #: Each term's weighted value on this step's batch, and their ``"total"``.
    losses: dict[str, float]
    #: This step's duration and its training crops per second.
    step_s: float
    images_per_s: float
    #: Every validation image stylised by the current network (a CIN network: in each style,
    #: image by image: ``previews[i * styles + s]``); ``None`` on steps without one.
    previews: tuple[np.ndarray, ...] | None = field(default=None, repr=False)
    #: The checkpoint written after this step, if one was.
    checkpoint: Path | None = None
    #: On the run's first event: the training images' ``count``, and the ``bytes`` and
    #: ``folder`` of the temporary file holding them (:meth:`~nst_engine.training.data.TrainingImages.storage`).
    storage: dict[str, Any] | None = None


@dataclass(frozen=True)
class TrainResult:
    """The trained network and its provenance (what :meth:`save` stores with it)."""

    model: TransformerNet = field(repr=False)
    provenance: dict

    @property
    def cancelled(self) -> bool:
        return bool(self.provenance.get("cancelled"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model with its provenance (:func:`nst_engine.save_model`), atomically."""
        return save_model(self.model, path, provenance=self.provenance)


def default_backbone() -> str:
    """``vgg19`` when its ImageNet weights are cached, else the weight-free ``random-multiscale``."""
    from ..backbones.vgg import has_imagenet_weights

    return "vgg19" if has_imagenet_weights("vgg19") else "random-multiscale"




def _read(image: ImageInput, what: str) -> tuple[np.ndarray, dict[str, Any]]:
    """An image given as an array or a file, and how provenance names it (SHA-256, shape, file)."""
    file = None
    if isinstance(image, (str, os.PathLike)):
        from ..files import read_image

        file, image = os.fspath(image), read_image(image)
    rgb, _ = split_image(image, what=what)
    return rgb, {"sha256": image_digest(np.asarray(image)).hexdigest(), "shape": list(np.shape(image)), "file": file}


def _listed(images: ImageInput | Sequence[ImageInput] | None) -> list[ImageInput]:
    if images is None:
        return []
    if isinstance(images, (np.ndarray, str, os.PathLike)):
        return [images]
    return list(images)


def _tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(device)


def _check_finite(terms: list, values: list[float], step: int, lr: float) -> None:
    for term, value in zip(terms, values):
        if not np.isfinite(value):
            raise OptionError(f"loss term {term.name!r} became {value} at step {step}: lower lr (now {lr:g}) or the "
                              "loss weights", option="lr")


#: A training step's peak memory per pixel of its batch, an upper bound: measured 8 KB with
#: random-multiscale (benchmarks/bench_train.py, 256² crops, batch 4); twice that. On the CPU
#: training keeps freed memory in the heap between steps (:mod:`..heap`): 3.05 s a step instead of 5.76.
TRAIN_BYTES_PER_PIXEL = 16 * 1024


def _stop_requested(command: Any) -> bool:
    if command is not None and command != "stop":
        raise ValueError(f"train accepts only 'stop' (or None) through send(); got {command!r}")
    return command == "stop"


def train(
    styles: ImageInput | Sequence[ImageInput],
    images: str | os.PathLike | Sequence[np.ndarray],
    *,
    backbone: str = "auto",
    backbone_options: Mapping[str, Any] | None = None,
    losses: Mapping[str, float] | None = None,
    loss_options: Mapping[str, Mapping[str, Any]] | None = None,
    size: int = 256,
    steps: int = 2000,
    batch_size: int = 4,
    lr: float = 1e-3,
    style_scale: float = 1.0,
    seed: int = 0,
    device: str = "auto",
    precision: str = "fp32",
    threads: int | None = None,
    validation: ImageInput | Sequence[ImageInput] | None = None,
    preview_every: int = 100,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    resume: bool | None = None,
    cancel: CancelRequest | None = None,
) -> Generator[TrainEvent, Any, TrainResult]:
    """Train Johnson et al. 2016's network to paint ``images`` in ``styles``, yielding every step.

    "Perceptual Losses for Real-Time Style Transfer and Super-Resolution" (ECCV 2016): a
    :class:`~nst_engine.models.TransformerNet` learns, by Adam on random crops, to minimise
    the perceptual loss (:class:`~nst_engine.training.loss.PerceptualLoss`) of a style
    transfer run; afterwards one forward pass stylises a frame. Several styles train one
    network with conditional instance norm (Dumoulin et al. 2017): crop ``k`` of the run is
    held to style ``k mod len(styles)``.

    Parameters
    ----------
    styles
        One style image, or several (arrays or image files).
    images
        What the network will stylise: a list of arrays, or a folder of images, a glob, a
        video file or a TIFF stack (:func:`~nst_engine.training.data.read_training_images`), read
        once into an anonymous temporary file (beside ``checkpoint``, else in ``$TMPDIR``) that
        is gone when the run ends: memory does not grow with their number.
    backbone, backbone_options, losses, loss_options
        As in :func:`nst_engine.iter_stylize`; ``"auto"``: ``vgg19`` when its ImageNet weights
        are cached, else ``random-multiscale`` (works offline). VGG's content layer defaults
        to Johnson et al.'s ``relu2_2``.
    size
        The side of the square training crops in pixels.
    steps
        Adam steps in all, counting those a resumed checkpoint already took.
    batch_size, lr
        Crops per step and Adam's learning rate (Johnson et al.: 4 and 1e-3).
    style_scale
        The style image's longer side relative to ``size``.
    seed
        Seeds the network's initialisation and every batch: CPU reruns are bit-identical.
    device, precision, threads
        As in :func:`nst_engine.iter_stylize`; ``precision`` is the backbone's forward (the
        network trains in float32).
    validation, preview_every
        Images stylised by the current network every ``preview_every`` steps and at the last
        (0: only then), at most ``size`` pixels a side: :attr:`TrainEvent.previews`.
    checkpoint, checkpoint_every
        A file to keep the training's state in (network, Adam's state, step), written
        atomically every ``checkpoint_every`` steps, at the last and when stopped early.
    resume
        ``None``: continue from ``checkpoint`` if it holds this training (same styles,
        images and options but steps), else start afresh; ``True``: continue or refuse;
        ``False``: start afresh.
    cancel
        A ``threading.Event`` another thread may set: the run stops within one layer.

    Returns
    -------
    TrainResult
        The network (in ``eval`` mode) and the provenance :meth:`TrainResult.save` stores.
    """
    started = time.perf_counter()
    options = {name: value for name, value in locals().items()
               if name not in ("styles", "images", "validation", "checkpoint", "cancel", "started")}
    size = check_int("size", size, minimum=16)
    steps = check_int("steps", steps, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = check_positive_float("lr", lr)
    style_scale = check_positive_float("style_scale", style_scale)
    seed = check_int("seed", seed, minimum=0)
    threads = None if threads is None else check_int("threads", threads, minimum=1)
    preview_every = check_int("preview_every", preview_every, minimum=0)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=1)
    if resume is not None:
        check_bool("resume", resume)
    if resume and checkpoint is None:
        raise OptionError("resume=True needs checkpoint=PATH: the file to continue from", option="resume")
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise OptionError(f"cancel must have is_set() (a threading.Event); got {type(cancel).__name__}", option="cancel")
    backbone_options = check_mapping("backbone_options", backbone_options)
    loss_options = {k: dict(check_mapping(f"loss_options {k}", v))
                    for k, v in check_mapping("loss_options", loss_options).items()}
    weights = dict(check_mapping("losses", DEFAULT_LOSSES if losses is None else losses))
    backbone = default_backbone() if backbone == "auto" else backbone
    if "content" in weights and backbone in JOHNSON_CONTENT_LAYERS:
        loss_options.setdefault("content", {}).setdefault("layers", JOHNSON_CONTENT_LAYERS[backbone])

    style_list = _listed(styles)
    if not style_list:
        raise OptionError("styles needs at least one style image; got an empty list", option="styles")
    style_read = [_read(s, f"style image {i}") for i, s in enumerate(style_list)]
    validation_read = [_read(v, f"validation image {i}") for i, v in enumerate(_listed(validation))]
    dev = resolve_device(device)
    resolved_precision = resolve_precision(precision, dev)
    entry = get_entry("backbones", backbone)
    bound = Bound(entry, entry.bind(backbone_options))
    terms = build_terms(weights, loss_options)
    folder = None if checkpoint is None else Path(checkpoint).expanduser().parent

    with read_training_images(images, size=size, folder=folder) as data, torch_threads(threads), \
            kept_heap(TRAIN_BYTES_PER_PIXEL * size * size * batch_size, available_bytes(dev), dev):
        net = bound.create().eval().requires_grad_(False)
        loss = PerceptualLoss(net, terms, blame=bound.blamed)
        net.to(dev)
        cast_forward(net, resolved_precision, dev)
        style_side = max(16, round(style_scale * size))
        loss.set_styles([_tensor(resize_to(rgb, max_side_shape(rgb.shape[:2], style_side)), dev)
                         for rgb, _ in style_read])
        previews_t = [_tensor(resize_to(rgb, max_side_shape(rgb.shape[:2], min(size, max(rgb.shape[:2])))), dev)
                      for rgb, _ in validation_read]
        count = len(style_read)
        model = johnson(styles=count, seed=seed).to(dev).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        full_options = {
            **options, "backbone": backbone, "backbone_options": {**entry.defaults(), **bound.options},
            "losses": weights, "loss_options": {t.name: {**t.entry.defaults(), **t.options} for t in terms},
            "size": size, "steps": steps, "batch_size": batch_size, "lr": lr, "style_scale": style_scale,
            "seed": seed, "threads": threads, "preview_every": preview_every, "checkpoint_every": checkpoint_every,
            "validation": len(validation_read), "checkpoint": None if checkpoint is None else os.fspath(checkpoint),
        }
        identity = fingerprint({
            "styles": [d["sha256"] for _, d in style_read], "images": data.sha256,
            **{k: full_options[k] for k in ("backbone", "backbone_options", "losses", "loss_options", "size",
                                            "batch_size", "lr", "style_scale", "seed")},
            "model": model.options,
        })
        start, history, resumed = 0, [], None
        state = resumable_state(checkpoint, resume=resume, identity=identity, steps=steps)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start, history, resumed = state["step"], list(state["history"]), state["step"]

        def save_checkpoint(done: int) -> Path | None:
            if checkpoint is None:
                return None
            return write_checkpoint(checkpoint, step=done, fingerprint=identity, model=model, optimizer=optimizer,
                                    history=history)

        def previews() -> tuple[np.ndarray, ...]:
            model.eval()
            try:
                with torch.no_grad():
                    return tuple(model(v, style_index=s)[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()
                                 for v in previews_t for s in range(count))
            finally:
                model.train()

        done, saved, cancelled, updating, loop_started = start, start, False, False, time.perf_counter()
        weights_t = loss.weights
        try:
            for step in range(start, steps):
                raise_if_cancelled(cancel)
                step_started = time.perf_counter()
                content = data.batch(step, batch_size, seed).to(dev)
                indices = [(step * batch_size + b) % count for b in range(batch_size)]
                mix = F.one_hot(torch.tensor(indices), count).float() if count > 1 else None
                with cancellable(model, cancel), cancellable(net, cancel):
                    total, raw = loss(model(content, style_mix=mix), content, indices)
                    optimizer.zero_grad(set_to_none=True)
                    total.backward()
                updating = True  # an interrupt now may leave the weights half updated: no checkpoint of them
                optimizer.step()
                done, updating = step + 1, False
                values = (raw.detach().cpu() * weights_t).tolist()
                _check_finite(terms, values, done, lr)
                step_losses = {t.name: v for t, v in zip(terms, values)}
                step_losses["total"] = float(sum(values))
                history = (history + [step_losses])[-_WINDOW:]
                last = done == steps
                written = None
                if last or done % checkpoint_every == 0:
                    written, saved = save_checkpoint(done), done
                wants = previews_t and (last or (preview_every and done % preview_every == 0))
                step_s = time.perf_counter() - step_started
                command = yield TrainEvent(done, steps, step_losses, step_s, batch_size / step_s,
                                           previews() if wants else None, written,
                                           data.storage() if step == start else None)
                if _stop_requested(command):
                    raise Cancelled("stop sent")
        except Cancelled:
            cancelled = True
        except (GeneratorExit, KeyboardInterrupt):
            if done > saved and not updating:
                save_checkpoint(done)
            raise
        if cancelled and done > saved:
            save_checkpoint(done)
        model.eval()
        threads_used = torch.get_num_threads()
    loop_s = time.perf_counter() - loop_started
    ran = done - start
    provenance = {
        "engine": "nst_engine", "version": __version__, "torch": str(torch.__version__), "python": platform.python_version(),
        "method": "johnson-training",
        "styles": [d for _, d in style_read],
        "images": data.describe(),
        "validation": [d for _, d in validation_read],
        "options": full_options,
        "backbone": dict(bound.describe(), info=getattr(net, "info", {})),
        "losses": [dict(t.describe(), options={**t.entry.defaults(), **t.options}) for t in terms],
        "model": {"name": model.name, "options": model.options,
                  "parameters": sum(p.numel() for p in model.parameters())},
        "steps": steps, "steps_run": done, "resumed_from": resumed, "cancelled": cancelled,
        "final_losses": dict(history[-1]) if history else None,
        "final_losses_mean": {k: float(np.mean([h[k] for h in history])) for k in history[-1]} if history else None,
        "final_losses_window": len(history),
        "device": str(dev), "precision": resolved_precision, "threads": threads_used,
        "timings": {"loop_s": round(loop_s, 4), "total_s": round(time.perf_counter() - started, 4),
                    "images_per_s": round(ran * batch_size / loop_s, 3) if ran and loop_s > 0 else None},
    }
    return TrainResult(model, provenance)


def train_model(styles: ImageInput | Sequence[ImageInput], images: str | os.PathLike | Sequence[np.ndarray],
                **options: Any) -> TrainResult:
    """Run :func:`train` to the end and return its :class:`TrainResult`; the options are its."""
    return result_of(train(styles, images, **options))
