"""Shared by the lazy-layer tests: an array that says which thread read it."""

from __future__ import annotations

import threading

import numpy as np


class Recorded:
    """An array that records the thread of every read of it (wrap it in dask and compute with the
    synchronous scheduler, so that the thread is the one that computes, not one of dask's pool)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.threads: list[threading.Thread] = []

    def __getitem__(self, key):
        self.threads.append(threading.current_thread())
        return self.array[key]
