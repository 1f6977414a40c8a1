"""Fixtures for the color-transfer tests: small images built in layers."""

from __future__ import annotations

import numpy as np
import pytest
from color_cases import smooth_image


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def source(rng) -> np.ndarray:
    return smooth_image(rng, 48, 40)


@pytest.fixture
def reference(rng) -> np.ndarray:
    image = smooth_image(rng, 36, 52, spread=0.2)
    return np.clip(image * np.array([0.9, 0.7, 0.5], dtype=np.float32) + 0.15, 0, 1)
