import pytest

from nst_engine.schedule import scale_shapes, split_steps


def test_scales_halve_coarse_to_fine_and_skip_too_small_ones():
    assert scale_shapes((512, 384), 3) == [(128, 96), (256, 192), (512, 384)]
    assert scale_shapes((100, 200), 3) == [(100, 200)]
    assert scale_shapes((40, 40), 1) == [(40, 40)]


def test_steps_go_mostly_to_the_coarse_scales_where_they_are_cheap():
    assert split_steps(70, 3, coarse_ratio=2) == [40, 20, 10]
    assert split_steps(10, 3, coarse_ratio=1) == [4, 3, 3]  # the remainder to the coarsest
    assert sum(split_steps(301, 4)) == 301
    assert split_steps(5, 1) == [5]
    assert split_steps(0, 2) == [0, 0]
    with pytest.raises(ValueError):
        split_steps(-1, 2)
