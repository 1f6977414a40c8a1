"""Layer <-> array conversion (no display needed: layers without a viewer)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_nst._layers import (
    current_index,
    is_stack,
    labels_to_content,
    leading_axes,
    output_geometry,
    output_hw,
    plane_indices,
    plane_of,
    result_kwargs,
    scaling_note,
    to_unit,
)
from nst_engine.images import resize_max_side


def test_uint8_and_unit_floats_pass_unchanged() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    unit = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    assert to_unit(rgb, (0, 255)) is rgb
    assert to_unit(unit, (0.2, 0.3)) is unit


def test_wide_or_out_of_range_data_is_rescaled_by_contrast_limits() -> None:
    floats = np.array([[-10.0, 0.0], [10.0, 30.0]])
    out = to_unit(floats, (-10.0, 10.0))
    np.testing.assert_allclose(out, [[0.0, 0.5], [1.0, 1.0]])
    assert out.dtype == np.float32
    wide = np.array([[0, 2000], [4000, 4095]], np.uint16)
    np.testing.assert_allclose(to_unit(wide, (0, 4000)), [[0, 0.5], [1, 1]])


def test_nan_survives_rescaling_so_the_engine_reports_it() -> None:
    out = to_unit(np.array([[np.nan, 5.0]]), (0.0, 10.0))
    assert np.isnan(out[0, 0]) and out[0, 1] == pytest.approx(0.5)


def test_scaling_note_says_what_happened() -> None:
    layer = Image(np.full((4, 4), 100.0), contrast_limits=(0, 200))
    assert "contrast limits [0, 200]" in scaling_note(layer, layer.data)
    rgb = Image(np.zeros((4, 4, 3), np.uint8), rgb=True)
    assert scaling_note(rgb, rgb.data).startswith("as is")


@pytest.mark.parametrize("shape", [(75, 113), (113, 75), (64, 64), (7, 300)])
@pytest.mark.parametrize("size", [None, 0, 48, 200])
def test_output_hw_matches_the_engine(shape: tuple[int, int], size: int | None) -> None:
    expected = resize_max_side(np.zeros(shape + (3,), np.float32), size or None).shape[:2]
    assert output_hw(shape, size) == expected


def test_output_covers_the_same_world_extent() -> None:
    layer = Image(np.zeros((100, 60)), scale=(2.0, 3.0), translate=(5.0, 7.0))
    geometry = output_geometry(layer, (100, 60), (50, 30), leading=False)
    assert geometry["scale"] == (4.0, 6.0)
    # rows: input pixels 0 and 1 span world [4, 8], so the first output pixel is centred at 6.
    assert geometry["translate"] == (6.0, 8.5)
    same = output_geometry(layer, (100, 60), (100, 60), leading=False)
    assert same == {"scale": (2.0, 3.0), "translate": (5.0, 7.0)}


def test_stack_axes(viewer_free_stack: Image) -> None:
    assert leading_axes(viewer_free_stack) == 1 and is_stack(viewer_free_stack)
    assert list(plane_indices(viewer_free_stack)) == [(0,), (1,), (2,)]
    assert plane_of(viewer_free_stack.data, (1,)).shape == (8, 9, 3)
    geometry = output_geometry(viewer_free_stack, (8, 9), (8, 9), leading=True)
    assert geometry["scale"] == (5.0, 1.0, 1.0)


@pytest.fixture
def viewer_free_stack() -> Image:
    return Image(np.zeros((3, 8, 9, 3), np.uint8), rgb=True, scale=(5.0, 1.0, 1.0))


def test_current_index_follows_the_dims_in_world_coordinates(viewer_free_stack: Image) -> None:
    dims = SimpleNamespace(point=(10.0, 0.0, 0.0))  # t = 10 in world units is plane 2 at scale 5
    assert current_index(viewer_free_stack, SimpleNamespace(dims=dims)) == (2,)
    far = SimpleNamespace(dims=SimpleNamespace(point=(99.0, 0.0, 0.0)))
    assert current_index(viewer_free_stack, far) == (2,)
    assert current_index(Image(np.zeros((4, 4))), far) == ()


def test_result_kwargs_are_explicit_about_rgb_and_limits() -> None:
    layer = Image(np.zeros((20, 20), np.uint16), colormap="magma")
    common = {"name": "r", "metadata": {}, "source_hw": (20, 20), "leading": False}
    gray = result_kwargs(layer, np.zeros((20, 20), np.float32), rgb=False, **common)
    assert gray["rgb"] is False and gray["contrast_limits"] == (0.0, 1.0) and gray["colormap"] == "magma"
    rgb = result_kwargs(layer, np.zeros((10, 10, 3), np.uint8), rgb=True, **common)
    assert rgb["rgb"] is True and rgb["contrast_limits"] == (0, 255) and rgb["scale"] == (2.0, 2.0)


def test_a_labels_mask_of_the_contents_shape_and_placement_is_copied() -> None:
    content = Image(np.zeros((6, 8)), scale=(2.0, 3.0), translate=(1.0, -1.0))
    data = np.arange(48, dtype=np.int32).reshape(6, 8)
    labels = Labels(data, scale=(2.0, 3.0), translate=(1.0, -1.0))
    out = labels_to_content(labels, content, (6, 8), ())
    np.testing.assert_array_equal(out, data)
    out[0, 0] = 99
    assert labels.data[0, 0] == 0  # a copy


def test_a_labels_mask_maps_through_world_coordinates() -> None:
    # Labels at half the content's resolution, shifted: label pixel (i, j) is drawn centred on
    # world (4.5 + 2i, 0.5 + 2j), so it covers content pixels 4 + 2i..5 + 2i, 2j..2j + 1;
    # content pixels outside the label image get 0.
    content = Image(np.zeros((12, 10)))
    labels = Labels(np.array([[1, 2], [3, 4]], np.int32), scale=(2.0, 2.0), translate=(4.5, 0.5))
    out = labels_to_content(labels, content, (12, 10), ())
    assert (out[:4] == 0).all() and (out[8:] == 0).all() and (out[:, 4:] == 0).all()
    np.testing.assert_array_equal(out[4:8, :4], np.kron([[1, 2], [3, 4]], np.ones((2, 2), int)))


def test_a_labels_stack_gives_the_plane_under_the_index() -> None:
    content = Image(np.zeros((3, 4, 4)))
    stack = np.zeros((3, 4, 4), np.int32)
    stack[1, 1:3, 1:3] = 5
    labels = Labels(stack)
    assert labels_to_content(labels, content, (4, 4), (1,)).sum() == 20
    assert labels_to_content(labels, content, (4, 4), (0,)).sum() == 0
