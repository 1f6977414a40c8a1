"""L-BFGS's ``first_move``: a first step of a chosen size instead of torch's tiny one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data
from skimage.transform import resize

from nst_engine.optimizers import lbfgs
from nst_engine.pipeline import stylize

SMALL = {"backbone": "random-multiscale", "backbone_options": {"channels": 16, "scales": 3}}


def _first_move(**options) -> tuple[float, float]:
    """The mean absolute change of the first step on a steep quadratic, and the learning rate after it."""
    x = torch.zeros(4000, requires_grad=True)
    target = torch.linspace(-1, 1, 4000)
    optimizer = lbfgs([x], **options)

    def closure():
        optimizer.zero_grad()
        loss = 50.0 * ((x - target) ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    moved = float(x.detach().abs().mean())
    optimizer.step(closure)
    return moved, optimizer.param_groups[0]["lr"]


def test_first_move_sets_the_first_steps_size_and_leaves_the_learning_rate_after_it():
    tiny, _ = _first_move()
    moved, lr = _first_move(first_move=0.01)
    assert tiny == pytest.approx(1.0 / 4000, rel=1e-4)  # torch: a step of L1 norm lr = 1
    assert moved == pytest.approx(0.01, rel=1e-4) and lr == 1.0


def test_first_move_reaches_a_run_through_optimizer_options_and_is_recorded():
    content = resize(data.astronaut(), (64, 64), anti_aliasing=True).astype(np.float32)
    style = resize(data.coffee(), (48, 48), anti_aliasing=True).astype(np.float32)
    runs = {move: stylize(content, style, size=64, scales=1, steps=4, until="steps", seed=0,
                          optimizer_options={"first_move": move}, **SMALL) for move in (0.0, 0.02)}
    assert runs[0.02].provenance["options"]["optimizer_options"]["first_move"] == 0.02
    assert not np.allclose(runs[0.0].image, runs[0.02].image)
