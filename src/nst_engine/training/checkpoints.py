"""Training checkpoints: the network, Adam's state and the step, written whole or not at all.

A checkpoint is a dict ``{"format": "nst-training-checkpoint", "version": 1, "step",
"fingerprint", "model", "optimizer", "history"}`` saved with :func:`torch.save` to a temporary
name and renamed into place (:func:`nst_engine.files.atomic_write`), so a crash mid-write
leaves the previous checkpoint. It is read with ``weights_only=True``. Its ``fingerprint`` is
the SHA-256 of what decides the training's course (styles, images, backbone, losses, crop
size, batch, learning rate, seed); steps, device and checkpoint cadence are left out, so a
finished training continues with more steps, or on another device. Because every batch is a
function of the seed and the step (:mod:`nst_engine.training.data`), a resumed run takes the
very steps an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from ..errors import OptionError
from ..files import atomic_write

__all__ = ["FORMAT", "FORMAT_VERSION", "checkpoint_path", "fingerprint", "read_checkpoint", "write_checkpoint",
           "resumable_state"]

logger = logging.getLogger(__name__)

FORMAT = "nst-training-checkpoint"
FORMAT_VERSION = 1


def checkpoint_path(model_path: str | os.PathLike) -> Path:
    """Where ``nst train -o MODEL`` keeps its checkpoint: beside the model, ``MODEL.ckpt``."""
    path = Path(model_path).expanduser()
    return path.with_name(path.name + ".ckpt")


def fingerprint(facts: dict[str, Any]) -> str:
    """SHA-256 of JSON-like ``facts``: equal exactly when a checkpoint may be resumed."""
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def write_checkpoint(path: str | os.PathLike, *, step: int, fingerprint: str, model: torch.nn.Module,
                     optimizer: torch.optim.Optimizer, history: list[dict[str, float]]) -> Path:
    """Save the training's state after ``step`` steps, atomically; returns the path."""
    path = Path(path).expanduser()
    payload = {
        "format": FORMAT, "version": FORMAT_VERSION, "step": int(step), "fingerprint": fingerprint,
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(), "history": [dict(h) for h in history],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint written by :func:`write_checkpoint`, read safely; a bad file is refused by name."""
    path = Path(path).expanduser()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OptionError(f"cannot read training checkpoint {path} ({reason}): delete it to start afresh "
                          "(nst train --no-resume, or resume=False)", option="checkpoint") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("version") != FORMAT_VERSION:
        raise OptionError(f"{path} is not an nst training checkpoint (version {FORMAT_VERSION}): pass another "
                          "checkpoint path, or delete it to start afresh", option="checkpoint")
    return state


def resumable_state(checkpoint: str | os.PathLike | None, *, resume: bool | None, identity: str,
                    steps: int) -> dict[str, Any] | None:
    """The checkpoint's state to continue from, or ``None`` to start afresh; refusals say why.

    ``resume=None`` continues from a checkpoint of this training (same ``fingerprint``) and
    starts afresh beside any other (a warning says so); ``True`` refuses to start afresh.
    ``identity`` is the training's :func:`fingerprint`.
    """
    if checkpoint is None or resume is False:
        return None
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        if resume:
            raise OptionError(f"no checkpoint at {path} to resume from: train without resume=True (--no-resume) "
                              "to start afresh", option="resume")
        return None
    state = read_checkpoint(path)
    if state["fingerprint"] != identity:
        if resume:
            raise OptionError(f"checkpoint {path} is of another training (other styles, images or options): "
                              "train with the same ones, or start afresh with resume=False (--no-resume)",
                              option="resume")
        logger.warning("checkpoint %s is of another training; starting afresh (it will be replaced)", path)
        return None
    if state["step"] > steps:
        raise OptionError(f"checkpoint {path} is at step {state['step']}, beyond steps={steps}: raise steps, or "
                          "start afresh with resume=False (--no-resume)", option="steps")
    return state
