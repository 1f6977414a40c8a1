"""The Fast Style widget: a saved feed-forward model on one plane, every plane, following the sliders."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from napari_nst._fast_jobs import call_options
from napari_nst._layers import output_geometry, output_hw
from napari_nst._qt import fast_style
from napari_nst._qt.fast_style import FastStyleWidget
from napari_nst._settings import RunSettings
from nst_engine.errors import OptionError
from nst_engine.images import resize_to, to_unit_float
from nst_engine.models import adain, johnson, load_model, save_model

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An untrained two-style TransformerNet whose styles differ, and an untrained AdaIN, saved."""
    folder = tmp_path_factory.mktemp("models")
    cin = johnson(styles=2, seed=0)
    noise = torch.Generator().manual_seed(1)
    with torch.no_grad():  # untrained, every style's (gamma, beta) is (1, 0): make them differ
        for parameter in cin.parameters():
            if parameter.ndim == 2:
                parameter.add_(0.5 * torch.randn(parameter.shape, generator=noise))
        # Untrained, the output sits near 0 (all clamped alike): spread it around mid-gray instead.
        cin.deconv3.conv2d.weight.mul_(100.0)
        cin.deconv3.conv2d.bias.fill_(127.5)
    return {"cin": save_model(cin, folder / "cin.pth"), "adain": save_model(adain(seed=0), folder / "adain.pth")}


@pytest.fixture(autouse=True)
def on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs on the CPU, where the expected images are computed."""
    monkeypatch.setattr(fast_style, "run_settings", lambda: RunSettings(device="cpu"))


@pytest.fixture
def stack(viewer) -> tuple:
    data = np.random.default_rng(2).integers(0, 256, (4, 20, 24, 3), dtype=np.uint8)
    layer = viewer.add_image(data, name="stack", rgb=True, scale=(1.0, 2.0, 2.0), translate=(0.0, 5.0, -3.0))
    viewer.dims.set_point(0, 0)
    return layer, data


@pytest.fixture
def widget(dock, wait_idle, model_files) -> FastStyleWidget:
    widget = dock("Fast Style")
    widget.model_file.value = model_files["cin"]
    wait_idle(widget)
    return widget


def _expected(path, plane: np.ndarray, size: int | None = None, style=None, **options) -> np.ndarray:
    image = to_unit_float(plane)
    if size:
        image = resize_to(image, output_hw(plane.shape[:2], size))
    return load_model(path).apply(image, style=style, **options)


def test_opens_from_the_plugin_menu(viewer, dock) -> None:
    widget = dock("Fast Style")
    assert isinstance(widget, FastStyleWidget) and widget.model is None and not widget.running
    controls = [widget.model_file, widget.sha256, widget.content, widget.planes, widget.style_index, widget.style_mix,
                widget.style, widget.alpha, widget.size, widget.follow, widget.apply_button, widget.cancel_button]
    assert all(control.tooltip for control in controls), [c.name for c in controls if not c.tooltip]


def test_apply_needs_a_model_file(viewer, stack, dock, notifications) -> None:
    widget = dock("Fast Style")
    assert widget.apply() is None
    assert widget.status.is_error and "choose a model file" in widget.status.value
    assert "choose a model file" in notifications.errors()[-1]


def test_current_plane_at_a_size_equals_the_model(viewer, stack, widget, wait_idle, model_files) -> None:
    layer, data = stack
    before = data.copy()
    viewer.dims.set_point(0, 1)
    widget.content.value = layer
    widget.size.value = 12
    widget.style_index.value = 1
    widget.apply()
    wait_idle(widget)
    assert not widget.status.is_error, widget.status.value
    result = viewer.layers["stack fast (cin)"]
    hw = output_hw((20, 24), 12)
    assert result.rgb and result.data.shape == (4, *hw, 4)
    np.testing.assert_allclose(result.data[1, ..., :3], _expected(model_files["cin"], data[1], 12, style_index=1),
                               atol=1e-5)
    assert (result.data[1, ..., 3] == 1).all() and (result.data[[0, 2, 3], ..., 3] == 0).all()  # not done: clear
    geometry = output_geometry(layer, (20, 24), hw, leading=True)
    np.testing.assert_allclose(result.scale, geometry["scale"])
    np.testing.assert_allclose(result.translate, geometry["translate"])
    nst = result.metadata["nst"]
    assert nst["kind"] == "fast_style" and nst["planes_done"] == [[1]] and nst["state"] == "done"
    assert nst["model_file"] == str(model_files["cin"]) and len(nst["model_sha256"]) == 64
    assert nst["options"] == {"style_index": 1} and nst["size"] == 12 and nst["model"]["name"] == "johnson"
    np.testing.assert_array_equal(layer.data, before)


def _all_planes(viewer, layer, widget, wait_idle):
    """Run the widget on every plane of ``layer``; the result layer."""
    widget.content.value = layer
    widget.planes.value = "all planes"
    widget.apply()
    wait_idle(widget)
    return viewer.layers["stack fast (cin)"]


def test_all_planes_fills_every_plane(viewer, stack, widget, wait_idle, model_files) -> None:
    layer, data = stack
    result = _all_planes(viewer, layer, widget, wait_idle)
    assert result.data.shape == (4, 20, 24, 4) and (result.data[..., 3] == 1).all()
    for t in range(4):
        np.testing.assert_allclose(result.data[t, ..., :3], _expected(model_files["cin"], data[t], style_index=0),
                                   atol=1e-5)
    assert result.metadata["nst"]["planes_done"] == [[0], [1], [2], [3]]
    assert widget.progress.native.isHidden() and widget.apply_button.enabled
    assert widget.status.value.startswith("done: stack fast (cin), 4 planes")


def test_finished_planes_are_written_into_the_layer_in_the_worker_not_on_the_main_thread(
        viewer, stack, widget, wait_idle, model_files, monkeypatch) -> None:
    from napari_nst import _fast_jobs

    writers, write = [], _fast_jobs.fill_plane

    def recording(targets, index, levels):
        writers.append(threading.current_thread())
        write(targets, index, levels)

    monkeypatch.setattr(_fast_jobs, "fill_plane", recording)
    layer, data = stack
    result = _all_planes(viewer, layer, widget, wait_idle)
    assert len(writers) == 4 and threading.main_thread() not in writers
    np.testing.assert_allclose(result.data[2, ..., :3], _expected(model_files["cin"], data[2], style_index=0),
                               atol=1e-5)


def test_style_index_and_cin_fields(viewer, images, dock, widget, wait_idle, model_files) -> None:
    content, _ = images
    assert not widget.style_index.native.isHidden() and not widget.style_mix.native.isHidden()
    assert widget.style.native.isHidden() and widget.alpha.native.isHidden()
    assert widget.style_index.max == 1
    widget.content.value = content
    results = []
    for index in (0, 1):
        widget.style_index.value = index
        widget.apply()
        wait_idle(widget)
        results.append(viewer.layers["content fast (cin)"].data[..., :3].copy())
    assert np.abs(results[0] - results[1]).mean() > 0.05
    widget.style_mix.value = "1, 3"
    widget.apply()
    wait_idle(widget)
    assert viewer.layers["content fast (cin)"].metadata["nst"]["options"] == {"style_mix": [1.0, 3.0]}
    widget.style_mix.value = "1, 2, 3"
    assert widget.apply() is None and "mix needs 2 weights" in widget.status.value


def test_adain_needs_a_style_layer(viewer, images, dock, wait_idle, model_files, notifications) -> None:
    content, style = images
    widget = dock("Fast Style")
    assert widget.style.native.isHidden() and widget.style_index.native.isHidden()  # nothing loaded yet
    widget.model_file.value = model_files["adain"]
    wait_idle(widget)
    assert not widget.style.native.isHidden() and not widget.alpha.native.isHidden()
    assert widget.style_index.native.isHidden() and widget.style_mix.native.isHidden()
    widget.content.value, widget.style.value = content, None
    assert widget.apply() is None
    assert "takes its style from an image: choose a style image layer" in widget.status.value
    assert "choose a style image layer" in notifications.errors()[-1]
    widget.style.value, widget.alpha.value, widget.size.value = style, 0.5, 32
    widget.apply()
    wait_idle(widget)
    result = viewer.layers["content fast (adain)"]
    expected = _expected(model_files["adain"], content.data, 32, style=style.data, alpha=0.5)
    np.testing.assert_allclose(result.data[..., :3], expected, atol=1e-4)
    assert result.metadata["nst"]["napari"]["style_layer"] == "style"


def test_follow_the_sliders_does_the_newest_plane(viewer, stack, widget, wait_idle, model_files) -> None:
    layer, data = stack
    widget.content.value = layer
    widget.follow.value = True  # does the plane shown at once
    wait_idle(widget)
    result = viewer.layers["stack fast (cin)"]
    assert result.metadata["nst"]["planes_done"] == [[0]]
    viewer.dims.set_point(0, 2)
    wait_idle(widget)
    expected = _expected(model_files["cin"], data[2], style_index=0)
    np.testing.assert_allclose(result.data[2, ..., :3], expected, atol=1e-5)
    # 1 runs; 2 (done already) and 3 leave one request, for the plane shown when 1 is done.
    viewer.dims.set_point(0, 1)
    viewer.dims.set_point(0, 2)
    viewer.dims.set_point(0, 3)
    wait_idle(widget)
    wait_idle(widget)
    assert result.metadata["nst"]["planes_done"] == [[0], [1], [2], [3]]
    viewer.dims.set_point(0, 0)  # done already: nothing runs
    assert not widget.running and "already done" in widget.status.value


def test_scrubbing_skips_the_planes_passed_over(viewer, stack, widget, wait_idle) -> None:
    layer, _ = stack
    widget.content.value = layer
    widget.follow.value = True
    viewer.dims.set_point(0, 1)
    viewer.dims.set_point(0, 2)
    viewer.dims.set_point(0, 3)
    wait_idle(widget)
    assert viewer.layers["stack fast (cin)"].metadata["nst"]["planes_done"] == [[0], [3]]


def test_a_changed_model_file_is_refused(viewer, images, dock, wait_idle, model_files, tmp_path,
                                         notifications) -> None:
    content, _ = images
    before = content.data.copy()
    payload = torch.load(model_files["cin"], weights_only=True)
    payload["state_dict"]["conv1.conv2d.bias"] += 1.0
    tampered = tmp_path / "tampered.pth"
    torch.save(payload, tampered)
    widget = dock("Fast Style")
    widget.content.value = content
    widget.model_file.value = tampered
    wait_idle(widget)
    assert widget.model is None and widget.status.is_error
    assert "was changed after it was saved" in widget.status.value
    assert "was changed after it was saved" in notifications.errors()[-1]
    layers = len(viewer.layers)
    widget.apply()  # tries again, and says so again
    wait_idle(widget)
    assert len(viewer.layers) == layers and "changed after it was saved" in widget.status.value
    widget.model_file.value, widget.sha256.value = model_files["cin"], "0" * 64
    widget.apply()
    wait_idle(widget)
    assert widget.model is None and "expected 0000" in widget.status.value
    np.testing.assert_array_equal(content.data, before)


def test_cancel_keeps_the_planes_done(viewer, stack, widget, wait_idle, monkeypatch) -> None:
    layer, _ = stack
    model = widget.model.model
    apply = model.apply

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return apply(*args, **kwargs)

    monkeypatch.setattr(model, "apply", slow)
    widget.content.value, widget.planes.value = layer, "all planes"
    worker = widget.apply()
    worker.yielded.connect(widget.cancel)  # after the first plane
    wait_idle(widget)
    result = viewer.layers["stack fast (cin)"]
    done = result.metadata["nst"]["planes_done"]
    assert 1 <= len(done) < 4 and result.metadata["nst"]["state"] == "cancelled"
    assert all((result.data[t, ..., 3] == 1).all() == ([t] in done) for t in range(4))
    assert widget.status.value.startswith("cancelled:") and widget.apply_button.enabled
    widget.apply()  # goes on with the planes not done
    wait_idle(widget)
    assert result.metadata["nst"]["planes_done"] == [[0], [1], [2], [3]]


def test_a_failed_run_leaves_no_empty_layer(viewer, widget, wait_idle, notifications) -> None:
    widget.content.value = viewer.add_image(np.zeros((4, 4, 3), np.uint8), name="tiny", rgb=True)
    layers = len(viewer.layers)
    widget.apply()
    wait_idle(widget)
    assert len(viewer.layers) == layers
    assert widget.status.is_error
    assert "Fast style failed: model 'johnson' needs images of at least 5" in widget.status.value
    assert "needs images of at least 5" in notifications.errors()[-1]


def test_call_options_from_the_form(model_files) -> None:
    cin, ada = load_model(model_files["cin"]), load_model(model_files["adain"])
    assert call_options(cin, styles=2, style_index=1, mix=" ", alpha=0.3) == {"style_index": 1}
    assert call_options(cin, styles=2, style_index=1, mix="1; 2", alpha=0.3) == {"style_mix": [1.0, 2.0]}
    assert call_options(ada, styles=1, style_index=1, mix="", alpha=0.3) == {"alpha": 0.3}
    with pytest.raises(OptionError, match="numbers separated by commas"):
        call_options(cin, styles=2, style_index=0, mix="a, b", alpha=1.0)


def test_a_stack_keeps_the_heap_between_its_planes_and_hands_it_back():
    from napari_nst._fast_jobs import FastJob, fast_job
    from nst_engine import heap

    if heap._glibc() is None:
        pytest.skip("the kept heap is glibc's")
    stack = np.random.default_rng(0).random((3, 24, 24, 3), dtype=np.float32)
    targets = (np.zeros((3, 24, 24, 4), np.float32),)
    job = FastJob(johnson(seed=0), stack, (0.0, 1.0), ((0,), (1,), (2,)), (24, 24), targets=targets)
    kept = [heap._runs > 0 for _ in fast_job(job)]
    assert kept == [True] * 3 and heap._runs == 0
    assert (targets[0][..., 3] == 1.0).all(), "every plane should be written"
