"""The Color Transfer worker body, without Qt: progress per plane, one plane of a stack, stacking."""

from __future__ import annotations

import numpy as np
import pytest

from napari_nst._color_jobs import ColorJob, ColorProgress, ColorResult, color_job
from napari_nst._workers import RunFailed


def _drain(job: ColorJob) -> tuple[list[ColorProgress], ColorResult]:
    events, generator = [], color_job(job)
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return events, stop.value


@pytest.fixture
def stack() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (4, 12, 10, 3), dtype=np.uint8)


@pytest.fixture
def reference() -> np.ndarray:
    return np.random.default_rng(8).integers(0, 256, (9, 11, 3), dtype=np.uint8)


def _job(stack: np.ndarray, reference: np.ndarray, **kwargs) -> ColorJob:
    return ColorJob(source=stack, source_limits=(0.0, 255.0), reference=reference, **kwargs)


def test_one_plane_of_a_stack(stack, reference) -> None:
    job = _job(stack, reference, indices=((3,),), stack_shape=(), methods=(("reinhard", {}),))
    events, result = _drain(job)
    assert [(e.done, e.total, e.method) for e in events] == [(1, 1, "reinhard")]
    (outcome,) = result.outcomes
    assert outcome.image.shape == stack.shape[1:] and result.stack is None and outcome.kl is None


def test_every_plane_reports_progress(stack, reference) -> None:
    indices = tuple((i,) for i in range(len(stack)))
    job = _job(stack, reference, indices=indices, stack_shape=(4,), methods=(("reinhard", {}), ("pca", {})))
    events, result = _drain(job)
    assert [e.done for e in events] == list(range(1, 9)) and {e.total for e in events} == {8}
    assert [o.image.shape for o in result.outcomes] == [stack.shape] * 2


def test_a_comparison_is_stacked_along_a_method_axis(stack, reference) -> None:
    methods = (("reinhard", {}), ("histogram", {}), ("mean-std", {}))
    _, result = _drain(_job(stack, reference, indices=((2,),), stack_shape=(), methods=methods, compare=True))
    assert result.stack.shape == (3, 1, *stack.shape[1:])
    for outcome, plane in zip(result.outcomes, result.stack, strict=True):
        assert np.shares_memory(outcome.image, result.stack)  # each result is held once
        np.testing.assert_array_equal(outcome.image, plane[0])
        assert set(outcome.kl) == {"R", "G", "B"} and -1 <= outcome.ssim <= 1


def test_a_bad_option_fails_with_its_name(stack, reference) -> None:
    job = _job(stack, reference, indices=((0,),), stack_shape=(), methods=(("idt", {"iterations": "many"}),))
    with pytest.raises(RunFailed, match="iterations"):
        _drain(job)
