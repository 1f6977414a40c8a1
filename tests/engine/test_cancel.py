"""A cancel event stops a run inside a step (forward, backward, between line-search evaluations)."""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np
import pytest
import torch
from torch import nn

from nst_engine import hookimpl
from nst_engine.backbones.random_multiscale import RandomMultiscale, random_multiscale
from nst_engine.pipeline import iter_stylize, stylize

#: The shared backbone's options, for a fresh equal one from the registry.
NET = {"scales": 3, "channels": 16, "kernel_size": 7, "seed": 0}


class _SharedBackbone:
    """A plugin whose backbone factory hands every run the same object, as a cache would."""

    def __init__(self, net: RandomMultiscale) -> None:
        self.net = net

    @hookimpl
    def register_backbones(self, register):
        register("shared", self.create)

    def create(self) -> RandomMultiscale:
        """The one shared random-multiscale backbone."""
        return self.net


@pytest.fixture
def shared(fresh_host) -> RandomMultiscale:
    """The object behind ``backbone="shared"``: tests hook its layers to act mid-step."""
    net = random_multiscale(**NET)
    fresh_host.add_plugin(_SharedBackbone(net), name="nst-shared")
    return net


@pytest.fixture
def run(content_image, style_image, fast) -> Callable[..., tuple[list, object]]:
    """Drain a run on the shared backbone with a preview at every step; ``stop_after`` sends "stop"."""

    def drain(*, stop_after: int | None = None, **options):
        options = {**fast, "backbone": "shared", "backbone_options": {}, "steps": 40, "preview_every": 1, **options}
        events, command = [], None
        generator = iter_stylize(content_image, style_image, **options)
        while True:
            try:
                events.append(generator.send(command))
            except StopIteration as done:
                return events, done.value
            command = "stop" if len(events) == stop_after else None

    return drain


def _on_forward(layer: nn.Module, action: Callable[[torch.Tensor], None], *,
                at: int) -> torch.utils.hooks.RemovableHandle:
    """Call ``action(output)`` on ``layer``'s ``at``-th forward with gradients (in step ``at``).

    Registered before the run, so it fires before the engine's own hook on the same layer.
    """
    calls = []

    def hook(module, inputs, output):
        if torch.is_grad_enabled():
            calls.append(1)
            if len(calls) == at:
                action(output)

    return layer.register_forward_hook(hook)


def _count_grad_forwards(layer: nn.Module) -> list[int]:
    """One entry per forward of ``layer`` with gradients: one per closure evaluation."""
    calls: list[int] = []
    layer.register_forward_hook(lambda m, i, o: calls.append(1) if torch.is_grad_enabled() else None)
    return calls


def _on_input_gradient(layer: nn.Module, action: Callable[[], None] | None = None, *,
                       at: int = 0) -> list[int]:
    """Count backward passes that got through ``layer``; call ``action`` on the ``at``-th.

    The gradient reaches the first layer's input when backward is all but done.
    """
    arrivals: list[int] = []

    def arrived(grad: torch.Tensor) -> None:
        arrivals.append(1)
        if action is not None and len(arrivals) == at:
            action()

    def pre_hook(module, inputs):
        if inputs[0].requires_grad:
            inputs[0].register_hook(arrived)

    layer.register_forward_pre_hook(pre_hook)
    return arrivals


def test_a_cancel_from_another_thread_mid_forward_returns_the_last_completed_step(shared, run):
    cancel, inside = threading.Event(), threading.Event()

    def block_until_cancelled(output):
        inside.set()
        cancel.wait(10)

    # Step 4's forward stops in the middle of the backbone until the other thread cancels.
    _on_forward(shared.convs[1], block_until_cancelled, at=4)
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(zip(("events", "result"), run(cancel=cancel))))
    worker.start()
    assert inside.wait(10)
    cancelled_at = time.perf_counter()
    cancel.set()
    worker.join(10)
    latency = time.perf_counter() - cancelled_at
    assert not worker.is_alive() and latency < 2.0
    events, result = outcome["events"], outcome["result"]
    assert result.cancelled and result.provenance["steps_run"] == len(events) == 3
    assert np.array_equal(result.image, events[-1].preview)


def test_a_cancel_during_backward_drops_the_unfinished_step(shared, run):
    cancel = threading.Event()
    through = _on_input_gradient(shared.convs[0])
    # When step 4's gradient reaches the deepest layer's output, the rest of backward is not run.
    _on_forward(shared.convs[2], lambda output: output.register_hook(lambda grad: cancel.set()), at=4)
    events, result = run(cancel=cancel)
    assert cancel.is_set() and len(through) == 3
    assert result.cancelled and result.provenance["steps_run"] == len(events) == 3
    assert np.array_equal(result.image, events[-1].preview)


def test_lbfgs_line_search_is_interrupted_between_closure_evaluations(shared, run, content_image, style_image, fast):
    options = {**fast, "backbone": "shared", "backbone_options": {}, "steps": 4,
               "optimizer_options": {"line_search": True}}
    evaluations = _count_grad_forwards(shared.convs[0])
    done_by_step = [len(evaluations) for _ in iter_stylize(content_image, style_image, **options)]
    assert min(np.diff([0] + done_by_step)) >= 2, "each step should evaluate the closure several times"
    evaluations.clear()
    cancel = threading.Event()
    # The first evaluation of step 3 runs to its end, then the cancel is set: the line search
    # must not start another (CPU reruns are bit-identical, so the counts carry over).
    first_of_step_3 = done_by_step[1] + 1
    _on_input_gradient(shared.convs[0], cancel.set, at=first_of_step_3)
    events, result = run(**options, cancel=cancel)
    assert len(evaluations) == first_of_step_3
    assert result.cancelled and result.provenance["steps_run"] == len(events) == 2
    assert np.array_equal(result.image, events[-1].preview)


def test_the_backbone_works_normally_after_a_run_cancelled_mid_backward(shared, run, content_image, style_image, fast):
    cancel = threading.Event()
    handle = _on_forward(shared.convs[2], lambda output: output.register_hook(lambda grad: cancel.set()), at=2)
    assert run(cancel=cancel)[1].cancelled
    handle.remove()
    # No hook of the engine's outlives its run, however the run ended.
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in shared.modules())
    again = stylize(content_image, style_image, **{**fast, "backbone": "shared", "backbone_options": {}},
                    cancel=threading.Event())
    fresh = stylize(content_image, style_image, **{**fast, "backbone_options": NET})
    assert not again.cancelled and again.provenance["steps_run"] == fast["steps"]
    assert np.array_equal(again.image, fresh.image)
    assert not any(p.requires_grad or p.grad is not None for p in shared.parameters())


def test_a_cancel_set_before_the_first_step_returns_the_initial_image(content_image, style_image, fast):
    cancel = threading.Event()
    cancel.set()
    events = iter_stylize(content_image, style_image, **fast, cancel=cancel)
    with pytest.raises(StopIteration) as done:
        next(events)
    result = done.value.value
    assert result.cancelled and result.provenance["steps_run"] == 0
    assert np.array_equal(result.image, stylize(content_image, style_image, **{**fast, "steps": 0}).image)


@pytest.mark.parametrize("where", ["targets", "first step"])
def test_a_cancel_early_in_a_scale_returns_the_previous_scales_last_step(shared, run, where):
    two_scales = {"size": 192, "scales": 2, "steps": 3}  # 2 steps at the coarse scale, 1 at the fine
    _, stopped = run(**two_scales, stop_after=2)
    cancel, steps = threading.Event(), _count_grad_forwards(shared.convs[0])

    def hook(module, inputs, output):
        # Scale 2 begins with its targets (no gradients), then its first step.
        if (len(steps), torch.is_grad_enabled()) == ((2, False) if where == "targets" else (3, True)):
            cancel.set()

    shared.convs[0].register_forward_hook(hook)
    events, result = run(**two_scales, cancel=cancel)
    assert [e.scale for e in events] == [0, 0] and result.provenance["steps_run"] == 2
    assert np.array_equal(result.image, stopped.image) and result.image.shape == (144, 192, 3)


def test_stop_and_the_event_end_a_run_alike(shared, run, content_image, style_image, fast):
    _, stopped = run(stop_after=3)
    cancel = threading.Event()
    options = {**fast, "backbone": "shared", "backbone_options": {}, "steps": 40, "preview_every": 1}
    events = iter_stylize(content_image, style_image, **options, cancel=cancel)
    next(events), next(events), next(events)
    cancel.set()
    with pytest.raises(StopIteration) as done:
        next(events)
    result = done.value.value
    without_timings = lambda p: {k: v for k, v in p.items() if k != "timings"}
    assert without_timings(result.provenance) == without_timings(stopped.provenance)
    assert np.array_equal(result.image, stopped.image)


def test_an_unknown_command_is_refused_by_name(content_image, style_image, fast):
    events = iter_stylize(content_image, style_image, **fast)
    next(events)
    with pytest.raises(ValueError, match="accepts only 'stop'.*'halt'"):
        events.send("halt")


def test_an_event_that_is_never_set_changes_nothing(content_image, style_image, fast):
    plain = stylize(content_image, style_image, **fast)
    watched = stylize(content_image, style_image, **fast, cancel=threading.Event())
    assert np.array_equal(plain.image, watched.image) and not watched.cancelled
