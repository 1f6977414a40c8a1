"""Keep torch from loading triton into a napari process that already holds Mesa's LLVM.

napari makes its OpenGL context before any widget of ours opens. With Mesa's LLVM-based
drivers (llvmpipe under Xvfb or in VMs, radeonsi on AMD GPUs) that maps ``libLLVM`` into the
process, and triton's ``libtriton.so``, which torchvision pulls in through ``torch._dynamo``,
then registers its own LLVM options against that library and crashes the process
(segmentation fault in ``llvm::cl::Option::addArgument``). Triton is optional for torch
(only ``torch.compile`` on CUDA uses it), so in that one situation we make it unimportable:
torch then behaves as on a machine without triton. A process that imported torchvision
before napari's canvas existed is unaffected.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["guard_triton"]

log = logging.getLogger(__name__)


def _llvm_mapped() -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any("libLLVM" in line for line in maps)
    except OSError:
        return False


def guard_triton() -> bool:
    """Block ``import triton`` if libLLVM is loaded and triton is not; True if it did."""
    if "triton" in sys.modules or not sys.platform.startswith("linux") or not _llvm_mapped():
        return False
    sys.modules["triton"] = None  # type: ignore[assignment]  # import triton -> ImportError
    log.warning(
        "napari-nst: libLLVM (Mesa OpenGL) is loaded, so triton is disabled for this session: "
        "importing it now would crash. torch.compile on CUDA is unavailable; to keep it, "
        "import torchvision before starting napari"
    )
    return True
