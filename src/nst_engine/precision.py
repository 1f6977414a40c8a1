"""The number format of the backbone's forward: bf16 where the hardware computes it natively.

Only the backbone's convolutions run in bfloat16 (``torch.autocast``); its features are cast
back to float32 before any loss sees them, so Gram matrices, statistics, losses and the
optimizer state stay float32. bf16 keeps float32's exponent range, so activations cannot
overflow as in float16; the 8-bit mantissa costs ~3 significant digits per feature.

A multi-scale run computes its coarser scales in float32 and only its finest in bf16
(:func:`scale_precision`): the coarse scales decide where the textures go, and there L-BFGS
turns any rounding difference into another of the objective's many minima, while the finest
only refines that layout and costs most of the run. So a bf16 run ends at the fp32 run's image
(SSIM 0.99) at most of bf16's speed-up (docs/performance.md, "Precision").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from .errors import OptionError

__all__ = ["PRECISIONS", "has_bf16", "resolve_precision", "cast_forward", "scale_precision"]

PRECISIONS = ("auto", "fp32", "bf16")

#: CPU flags of native bf16 arithmetic: AMX tiles, or AVX-512's bf16 dot products.
_CPU_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no probe, so no bf16 by default
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def has_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (probed at run time; tests patch it).

    Elsewhere torch emulates bf16 through float32, slower than float32 itself.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(_CPU_BF16_FLAGS & _cpu_flags())
    return False


def resolve_precision(precision: Any, device: torch.device) -> str:
    """``"auto"``: ``"bf16"`` where :func:`has_bf16`, else ``"fp32"``; an explicit one is honoured or refused."""
    if precision not in PRECISIONS:
        raise OptionError(f"precision must be auto, fp32 or bf16; got {precision!r}", option="precision")
    if precision == "fp32":
        return "fp32"
    native = has_bf16(device)
    if precision == "bf16" and not native:
        raise OptionError(f"precision 'bf16' was asked for but device {str(device)!r} has no native bfloat16 "
                          "(CPU flags amx_bf16 or avx512_bf16, or a CUDA GPU with bf16); use precision=\"fp32\"",
                          option="precision")
    return "bf16" if native else "fp32"


class _Autocast:
    """A backbone's forward under bf16 autocast, returning float32 features."""

    def __init__(self, forward: Callable[..., dict[str, torch.Tensor]], device_type: str) -> None:
        self.forward = forward
        self.device_type = device_type
        self.enabled = True

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        if not self.enabled:
            return self.forward(*args, **kwargs)
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            features = self.forward(*args, **kwargs)
        return {name: value.float() for name, value in features.items()}


def cast_forward(network: Any, precision: str, device: torch.device) -> Any:
    """Make ``network``'s forward run in ``precision`` (a resolved one); returns ``network``.

    The wrapper replaces the instance's ``forward``, so whoever calls the network (the
    objective, a loss rescaling the image, the memory trace) gets the same float32 features.
    """
    if precision == "bf16":
        network.forward = _Autocast(network.forward, device.type)
    return network


def scale_precision(network: Any, *, finest: bool) -> None:
    """Run a bf16 ``network`` in bf16 at the finest scale only, in float32 at coarser ones.

    Coarse scales are cheap (a quarter of the next finer one's cost per step) and chaotic:
    their rounding picks the layout the finest scale then refines. An fp32 network is left as it is.
    """
    if isinstance(network.forward, _Autocast):
        network.forward.enabled = finest
