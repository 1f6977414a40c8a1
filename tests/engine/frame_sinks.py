"""A FrameStore's contract in memory, for tests of what resumes from one."""

from __future__ import annotations

import numpy as np


class MemorySink:
    """Frames kept by index with their keys; ``sixteen_bit`` stores them as FrameStore does (16-bit)."""

    def __init__(self, *, sixteen_bit: bool = False) -> None:
        self.frames: dict[int, tuple[str, np.ndarray]] = {}
        self.sixteen_bit = sixteen_bit

    def reusable(self, index: int, key: str) -> np.ndarray | None:
        found = self.frames.get(index)
        return found[1] if found is not None and found[0] == key else None

    def put(self, index: int, image: np.ndarray, key: str) -> np.ndarray:
        stored = np.round(image * 65535).astype(np.float32) / 65535 if self.sixteen_bit else image
        self.frames[index] = (key, stored)
        return stored
