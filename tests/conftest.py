"""Fixtures shared by every test: small images and a fresh plugin host per test."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _own_step_cost_cache(tmp_path_factory, monkeypatch) -> None:
    """Runs learn their step costs into a cache of the test's own, never the user's."""
    monkeypatch.setenv("NST_CACHE_DIR", str(tmp_path_factory.mktemp("nst-cache")))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def content_image() -> np.ndarray:
    """A 48x64 uint8 RGB photo crop: small enough for fast runs, real enough to have structure."""
    from skimage import data
    from skimage.transform import resize

    return (resize(data.chelsea(), (48, 64), anti_aliasing=True) * 255).round().astype(np.uint8)


@pytest.fixture
def style_image() -> np.ndarray:
    from skimage import data
    from skimage.transform import resize

    return (resize(data.immunohistochemistry(), (64, 64), anti_aliasing=True) * 255).round().astype(np.uint8)
