"""The memory estimate: traced on the meta device, refusing runs that would not fit."""

import time

import pytest
import torch

from nst_engine import memory
from nst_engine.errors import NstError, ResourceError
from nst_engine.memory import available_bytes, estimate_peak_bytes
from nst_engine.pipeline import stylize
from nst_engine.plan import plan_run


def test_available_memory_is_known():
    assert available_bytes("cpu") > 2**20


def test_a_run_too_large_is_refused_at_once_saying_what_to_change(content_image, fast):
    started = time.perf_counter()
    with pytest.raises(ResourceError) as caught:
        stylize(content_image, content_image, **{**fast, "size": 100_000, "backbone": "vgg19",
                                                  "backbone_options": {"weights": "random"}, "steps": 300,
                                                  "checkpointing": False, "tile": None})
    message = str(caught.value)
    assert isinstance(caught.value, NstError) and time.perf_counter() - started < 10
    assert "GB at its peak" in message and "GB is available" in message
    assert "smaller size (size" in message and "checkpointing on" in message and "history_size (now 100)" in message


def test_the_refusal_uses_the_memory_available(content_image, fast, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 1000)
    with pytest.raises(ResourceError, match="0.0 GB is available"):
        plan_run(content_image, content_image, **fast)
    assert plan_run(content_image, content_image, **fast, check_memory=False).memory.available_bytes == 1000


def test_the_estimate_grows_with_size_history_and_checkpointing_lowers_it(content_image, fast):
    def peak(**options):
        return plan_run(content_image, content_image, **{**fast, **options}).memory.peak_bytes

    assert peak(size=256) > 3 * peak(size=128)
    assert peak(size=128, steps=60) > peak(size=128, steps=2)  # L-BFGS remembers up to 100 steps
    assert peak(size=128, steps=60, optimizer_options={"history_size": 5}) < peak(size=128, steps=60)
    vgg = {"backbone": "vgg19", "backbone_options": {"weights": "random"}, "size": 256}
    assert peak(**vgg, checkpointing=True) < peak(**vgg, checkpointing=False)


def test_steps_zero_computes_no_features_and_is_estimated_so(content_image, fast):
    plan = plan_run(content_image, content_image, **{**fast, "steps": 0, "size": 2000})
    assert plan.memory.shape is None and "features" not in plan.memory.parts
    result = stylize(content_image, content_image, **{**fast, "steps": 0, "size": 400})
    assert result.image.shape == (300, 400, 3)


def test_estimate_peak_bytes_of_a_plan_redoes_its_estimate(content_image, fast):
    plan = plan_run(content_image, [content_image, content_image], **fast, mask=[content_image[..., 0] > 100] * 2)
    assert estimate_peak_bytes(plan).peak_bytes == plan.memory.peak_bytes


def test_lbfgs_takes_the_image_gradient_as_its_flat_gradient_with_the_same_steps():
    from nst_engine.optimizers import lbfgs

    def run(make):
        torch.manual_seed(0)
        target = torch.rand(1, 3, 8, 8)
        x = torch.zeros(1, 3, 8, 8, requires_grad=True)
        opt = make([x])

        def closure():
            opt.zero_grad()
            loss = ((x - target) ** 4).sum()
            loss.backward()
            return loss

        for _ in range(5):
            opt.step(closure)
        return x.detach(), opt

    ours, opt = run(lambda params: lbfgs(params, history_size=3))
    theirs, _ = run(lambda params: torch.optim.LBFGS(params, max_iter=1, history_size=3))
    assert torch.equal(ours, theirs)
    (x,) = opt.param_groups[0]["params"]
    assert opt._gather_flat_grad().data_ptr() == x.grad.data_ptr()  # a view: no image-sized copy


def test_lbfgs_line_search_searches_instead_of_stopping_at_the_first_rejected_trial():
    # torch's default evaluation budget for one iteration leaves its line search no
    # evaluations: it then rejects a too-long first trial and stays where it is for ever.
    from nst_engine.optimizers import lbfgs

    scales = torch.logspace(0, 3, 48).reshape(1, 3, 4, 4)  # badly conditioned: lr=1 overshoots
    x = torch.ones(1, 3, 4, 4, requires_grad=True)
    opt = lbfgs([x], line_search=True)
    evaluations, losses = [], []

    def closure():
        opt.zero_grad()
        loss = (scales * x**2).sum()
        loss.backward()
        evaluations.append(float(loss))
        return loss

    for _ in range(40):
        opt.step(closure)
        losses.append(float((scales * x.detach() ** 2).sum()))
    assert all(b <= a for a, b in zip(losses, losses[1:])), "a line search never accepts a worse point"
    assert losses[-1] < 0.5 * losses[-11], "still converging, not stuck"
    assert losses[-1] < 1e-3 * evaluations[0]


def test_the_estimate_counts_the_line_searchs_buffers(content_image, fast):
    # The search keeps its starting point and its bracket's gradients while it evaluates.
    def optimizer_bytes(**options):
        plan = plan_run(content_image, content_image, **{**fast, "scales": 1, "optimizer_options": options})
        return plan.memory.parts["optimizer"], plan.memory.shape

    searching, shape = optimizer_bytes(line_search=True)
    plain, _ = optimizer_bytes()
    assert searching - plain == 4 * shape[0] * shape[1] * 3 * 4
