"""Choosing the torch device a run uses, and its CPU threads."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from .errors import OptionError

__all__ = ["resolve_device", "torch_threads"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; an explicit device is honoured.

    An explicit device that this machine lacks is an error, never a silent fallback.
    """
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise OptionError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps", option="device") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise OptionError("device 'cuda' was asked for but no CUDA GPU is available; use device cpu or auto",
                          option="device")
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise OptionError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)",
                          option="device")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise OptionError("device 'mps' was asked for but Apple's MPS is not available; use device cpu or auto",
                          option="device")
    return chosen


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's CPU threads for the ``with`` body (``None`` or 0: as they are), restored after.

    Torch's thread count is process-wide: a run that sets it must give it back, or it changes
    every later run in the process (a napari session, a batch worker).
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
