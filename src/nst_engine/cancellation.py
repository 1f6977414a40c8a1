"""Cancelling a run from another thread while an optimizer step is under way.

One L-BFGS step on VGG-19 at 1024 px takes tens of seconds on a CPU, and the thread running
it cannot receive anything sent through the generator until the step ends. So the caller
hands the run a flag it may set at any time (a :class:`threading.Event`), and the run checks
it between the backbone's layers: forward hooks check it as each layer finishes, and tensor
hooks on the layers' outputs check it as backward reaches them. A hook that raises aborts
``forward()`` or ``backward()``, so the wait is one layer, not one step.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Protocol

import torch
from torch import nn

__all__ = ["CancelRequest", "Cancelled", "raise_if_cancelled", "cancellable"]


class CancelRequest(Protocol):
    """What a run accepts as a cancel request: ``threading.Event`` is one."""

    def is_set(self) -> bool: ...


class Cancelled(Exception):
    """The run was asked to stop; the pipeline catches it and returns the last completed step."""


def raise_if_cancelled(cancel: CancelRequest | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancel requested")


@contextmanager
def cancellable(module: nn.Module, cancel: CancelRequest | None) -> Iterator[None]:
    """Check ``cancel`` after each of ``module``'s layers in forward and at each in backward.

    The hooks exist only inside the ``with`` block, so a backbone shared between runs never
    carries one run's checks into another, however the block was left.
    """
    if cancel is None:
        yield
        return

    def backward_check(grad: torch.Tensor) -> None:
        raise_if_cancelled(cancel)

    def after_layer(layer: nn.Module, inputs: Any, output: Any) -> None:
        raise_if_cancelled(cancel)
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(backward_check)

    # Leaves only: a container's output is its last leaf's, already checked.
    leaves = [m for m in module.modules() if next(m.children(), None) is None]
    handles = [leaf.register_forward_hook(after_layer) for leaf in leaves]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
