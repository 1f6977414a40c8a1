"""Tiled optimisation is the untiled one: same statistics, same gradient, same result, less memory."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from skimage import data
from skimage.transform import resize

from nst_engine.backbones.geometry import LayerGeometry, Window, chain_geometry
from nst_engine.backbones.random_multiscale import random_multiscale
from nst_engine.backbones.vgg import vgg19
from nst_engine.errors import OptionError, ResourceError
from nst_engine.losses import functional as LF
from nst_engine.metrics import ssim
from nst_engine.pipeline import _references, iter_stylize, stylize
from nst_engine.plan import plan_run
from nst_engine.tiling.choice import capped_history, scale_tiles
from nst_engine.tiling.layout import layout_tiles
from nst_engine.testing._tiling import check_geometry
from nst_engine.tiling.objective import TiledObjective

#: A small random-multiscale: halo 20 px, so 64 px tiles are not all halo.
SMALL = {"backbone": "random-multiscale", "backbone_options": {"channels": 16, "scales": 3}}


def _photo(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return resize(image[..., :3], shape, anti_aliasing=True).astype(np.float32)


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def _objectives(shape, tile, *, mask=None, **options):
    """An untiled objective and a tiled one over it, targets set at the plan's references."""
    content, style = _photo(data.astronaut(), shape), _photo(data.coffee(), (shape[0] - 20, shape[1] + 12))
    plan = plan_run(content, style, size=None, scales=1, steps=1, tile=None, mask=mask, **options)
    references = _references(_tensor(plan.content), [_tensor(plan.styles[0])], shape, 1.0, {})
    masks = [_tensor(m[..., None]) for m in plan.masks] if plan.masks else []
    untiled = plan.objective
    untiled.set_targets(references, masks)
    expected = {"targets": [t.target for t in untiled.terms], "magnitudes": untiled.magnitudes.clone()}
    tiled = TiledObjective(untiled, tile)
    tiled.set_targets(references, masks)
    return plan, untiled, tiled, expected


def _close(a, b, rtol=1e-4):
    if isinstance(a, dict):
        return all(_close(a[k], b[k], rtol) for k in a)
    if isinstance(a, tuple):
        return all(_close(x, y, rtol) for x, y in zip(a, b))
    if a is None:
        return b is None
    return torch.allclose(a, b, rtol=rtol, atol=rtol * float(a.abs().max()))


@pytest.mark.parametrize(
    "options",
    [
        dict(SMALL, losses={"content": 1, "gram": 1e4, "tv": 1}),
        dict(SMALL, losses={"mean-std": 1, "styled-content": 1, "combined-image": 1}, dynamic_weights=True),
        {"backbone": "vgg19", "backbone_options": {"weights": "random"}, "losses": {"content": 1, "gram": 1e4, "tv": 1}},
    ],
    ids=["gram", "mean-std", "vgg19"],
)
def test_tiled_gradient_equals_the_untiled_gradient(options):
    # Neither side a multiple of the tile or of the deepest stride: border tiles are ragged.
    plan, untiled, tiled, expected = _objectives((150, 172), 64, **options)
    assert len(tiled.layout((150, 172)).tiles) > 4
    assert all(_close(t.target, e) for t, e in zip(untiled.terms, expected["targets"]))
    assert torch.allclose(untiled.magnitudes, expected["magnitudes"], rtol=1e-4)
    image = (_tensor(plan.content) + 0.1 * torch.randn(1, 3, 150, 172, generator=torch.Generator().manual_seed(0)))
    image = image.clamp(0, 1).requires_grad_(True)
    total, raw = untiled(image)
    total.backward()
    tiled_total, tiled_raw, grad = tiled.value_and_grad(image.detach())
    assert torch.allclose(tiled_raw, raw.detach(), rtol=1e-4)
    assert float(tiled_total) == pytest.approx(total.item(), rel=1e-5)
    assert torch.allclose(grad, image.grad, atol=1e-4 * float(image.grad.abs().max()))


def test_tiled_gradient_with_masks_equals_the_untiled_gradient():
    mask = np.zeros((150, 172), np.uint8)
    mask[20:90, 30:140] = 1
    mask[90:, :] = 2
    content, second = _photo(data.astronaut(), (150, 172)), _photo(data.rocket(), (90, 120))
    plan = plan_run(content, [_photo(data.coffee(), (130, 184)), second], mask=mask, size=None, scales=1, steps=1,
                    tile=None, **SMALL)
    references = _references(_tensor(plan.content), [_tensor(s) for s in plan.styles], (150, 172), 1.0, {})
    masks = [_tensor(m[..., None]) for m in plan.masks]
    plan.objective.set_targets(references, masks)
    image = _tensor(plan.content).requires_grad_(True)
    total, _ = plan.objective(image)
    total.backward()
    tiled = TiledObjective(plan.objective, 64)
    tiled.set_targets(references, masks)
    tiled_total, _, grad = tiled.value_and_grad(image.detach())
    assert float(tiled_total) == pytest.approx(total.item(), rel=1e-5)
    assert torch.allclose(grad, image.grad, atol=1e-4 * float(image.grad.abs().max()))


def test_the_gram_matrix_summed_over_tiles_is_the_untiled_gram():
    net = vgg19(weights="random")
    image = torch.rand(1, 3, 136, 120, generator=torch.Generator().manual_seed(1))
    layers = ("relu1_1", "relu3_1", "relu5_1")
    whole = net(image, layers)
    layout = layout_tiles((136, 120), 48, net.tile_geometry(layers))
    sums = {layer: None for layer in layers}
    for tile in layout.tiles:
        features = net(image[(..., *tile.outer)], layers)
        for layer in layers:
            f, stride = features[layer], net.tile_geometry(layers)[layer].stride
            core = f[..., tile.rows.at_layer(stride, f.shape[-2]), tile.cols.at_layer(stride, f.shape[-1])]
            part = LF.gram_sums(core)
            sums[layer] = part if sums[layer] is None else tuple(a + b for a, b in zip(sums[layer], part))
    for layer in layers:
        assert torch.allclose(LF.gram_from_sums(*sums[layer]), LF.gram_matrix(whole[layer]), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("net", [vgg19(weights="random"), random_multiscale(channels=8)], ids=["vgg19", "random"])
def test_declared_reach_covers_the_measured_receptive_field(net):
    """The halo rests on the declared reach: the testing kit measures what features depend on."""
    check_geometry("backbone", net, net.check_layers(net.style_layers + net.content_layers))


def test_chain_geometry_of_vgg_like_stacks():
    conv, pool = Window(3, padding=1), Window(2, 2)
    assert chain_geometry([conv]) == LayerGeometry(1, 1)
    assert chain_geometry([conv, conv, pool, conv]) == LayerGeometry(2, 4)
    assert vgg19(weights="random").tile_geometry(["relu5_1"])["relu5_1"] == LayerGeometry(16, 70)


def test_tiles_partition_the_image_on_the_stride_grid():
    geometry = {"a": LayerGeometry(16, 70)}
    layout = layout_tiles((1000, 1500), 256, geometry)
    assert layout.halo == 80
    covered = np.zeros((1000, 1500), int)
    for tile in layout.tiles:
        rows, cols = tile.rows, tile.cols
        covered[rows.start:rows.stop, cols.start:cols.stop] += 1
        assert rows.outer_start % 16 == 0 and cols.outer_start % 16 == 0
        assert rows.outer_start == max(0, rows.start - 80) and rows.outer_stop == min(1000, rows.stop + 80)
    assert (covered == 1).all()


def test_a_tiled_run_agrees_with_the_untiled_run():
    content, style = _photo(data.astronaut(), (256, 256)), _photo(data.coffee(), (200, 260))
    options = dict(SMALL, size=None, steps=12, scales=1, until="steps", threads=1)
    whole = stylize(content, style, tile=None, **options)
    tiled = stylize(content, style, tile=64, **options)
    assert tiled.provenance["tiles"] == [64] and whole.provenance["tiles"] == [None]
    assert ssim(whole.image, tiled.image) >= 0.98
    assert not np.allclose(tiled.image, content, atol=0.02)  # it did style the image


def test_only_the_scales_above_the_tile_size_tile():
    content, style = _photo(data.astronaut(), (256, 256)), _photo(data.coffee(), (64, 64))
    plan = plan_run(content, style, size=256, scales=3, steps=6, tile=100, **SMALL)
    assert plan.schedule.shapes == ((64, 64), (128, 128), (256, 256))
    assert plan.schedule.tiles == (None, 100, 100)
    assert scale_tiles(((64, 64), (128, 128)), 64) == (None, 64)


def test_auto_tiles_only_a_run_that_does_not_fit(monkeypatch):
    content, style = _photo(data.astronaut(), (256, 256)), _photo(data.coffee(), (64, 64))
    whole = plan_run(content, style, size=1024, scales=1, steps=4, **SMALL)
    assert whole.schedule.tiles is None
    budget = int(whole.memory.peak_bytes * 0.6)
    monkeypatch.setattr("nst_engine.memory.available_bytes", lambda device="cpu": budget)
    plan = plan_run(content, style, size=1024, scales=1, steps=4, **SMALL)
    assert plan.schedule.tiles and plan.schedule.tiles[-1] is not None
    assert plan.memory.fits and plan.memory.tile == plan.schedule.tiles[-1]
    assert plan.memory.peak_bytes <= budget < whole.memory.peak_bytes


def test_a_loss_without_the_tiling_capability_is_refused():
    content, style = _photo(data.astronaut(), (128, 128)), _photo(data.coffee(), (64, 64))
    with pytest.raises(OptionError, match=r"loss 'mmd' cannot be tiled exactly.*tile=None"):
        plan_run(content, style, size=128, scales=1, steps=2, tile=64, losses={"content": 1, "mmd": 1}, **SMALL)
    untiled = plan_run(content, style, size=128, scales=1, steps=2, tile=None, losses={"content": 1, "mmd": 1}, **SMALL)
    assert untiled.schedule.tiles is None


def test_a_backbone_without_geometry_is_refused():
    content, style = _photo(data.astronaut(), (128, 128)), _photo(data.coffee(), (64, 64))
    with pytest.raises(OptionError, match="does not declare its receptive field"):
        plan_run(content, style, size=128, scales=1, steps=2, tile=64, backbone="resnet50",
                 backbone_options={"weights": "random"})


def test_lbfgs_history_is_capped_for_large_tiled_images():
    assert capped_history(100, (512, 512)) == 100
    assert capped_history(100, (4096, 4096)) == 3  # 201 MB a vector: 1 GiB holds about 2.7 pairs
    assert capped_history(100, (2048, 2048)) == 10
    content, style = _photo(data.astronaut(), (256, 256)), _photo(data.coffee(), (64, 64))
    plan = plan_run(content, style, size=4096, scales=1, steps=2, tile=1024, check_memory=False, **SMALL)
    assert plan.optimizer.options["history_size"] == 3


def test_a_tiled_run_that_does_not_fit_remembers_fewer_steps_before_it_is_refused(monkeypatch):
    content, style = _photo(data.astronaut(), (256, 256)), _photo(data.coffee(), (64, 64))
    run = dict(size=4096, scales=1, steps=30, tile=1024, tile_graphs=0, **SMALL)
    plenty = plan_run(content, style, **run, check_memory=False)
    assert plenty.optimizer.options["history_size"] == 3
    shortest = plan_run(content, style, **run, optimizer_options={"history_size": 1}, check_memory=False)
    budget = (plenty.memory.peak_bytes + shortest.memory.peak_bytes) // 2
    monkeypatch.setattr("nst_engine.memory.available_bytes", lambda device="cpu": budget)
    tight = plan_run(content, style, **run)
    assert tight.optimizer.options["history_size"] in (1, 2)
    assert tight.schedule.tiles == (1024,) and tight.memory.peak_bytes <= budget
    assert tight.options["optimizer_options"]["history_size"] == tight.optimizer.options["history_size"]
    monkeypatch.setattr("nst_engine.memory.available_bytes", lambda device="cpu": shortest.memory.peak_bytes - 1)
    with pytest.raises(ResourceError, match=r"history_size \(now 3\)"):  # refused as before, not at one step
        plan_run(content, style, **run)


def test_cancel_inside_a_tiled_step_returns_the_last_completed_iterate(fresh_host):
    content, style = _photo(data.astronaut(), (192, 192)), _photo(data.coffee(), (64, 64))
    cancel = threading.Event()
    events = iter_stylize(content, style, size=None, steps=20, scales=1, tile=64, cancel=cancel,
                          preview_every=1, **SMALL)
    first = next(events)
    from nst_engine.tiling import objective as tiling

    original = tiling.TiledObjective._tiles

    def tiles(self, image, *, grad=False):  # cancel after the second tile of the next step
        for k, item in enumerate(original(self, image, grad=grad)):
            if k == 2:
                cancel.set()
            yield item

    tiling.TiledObjective._tiles = tiles
    try:
        with pytest.raises(StopIteration) as done:
            next(events)
    finally:
        tiling.TiledObjective._tiles = original
    result = done.value.value
    assert result.cancelled and result.provenance["steps_run"] == 1
    assert np.allclose(result.image, first.preview, atol=1e-6)


def test_a_subclass_that_computes_its_value_anew_stops_being_tileable():
    from nst_engine.losses import GramLoss

    class Shifted(GramLoss):
        def statistic(self, features, mask=None):
            return super().statistic(features + 1.0, mask)

    class Deeper(GramLoss):
        def resolve_layers(self, backbone):
            self.layers = tuple(backbone.style_layers[-2:])
            return super().resolve_layers(backbone)

    assert GramLoss.tileable and Deeper.tileable and not Shifted.tileable


def test_nst_stylize_tiles_when_asked_and_refuses_what_cannot_tile(tmp_path, capsys):
    from cli_helpers import run

    from nst_engine.files import read_provenance

    out = tmp_path / "out.png"
    base = ["stylize", "--sample", "-o", str(out), "--backbone", "random-multiscale", "--size", "160",
            "--scales", "1", "--steps", "3", "-p", "backbone.scales=3", "-p", "backbone.channels=8"]
    code, _, err = run([*base, "--tile", "64"], capsys)
    assert code == 0 and "in tiles" in err
    assert read_provenance(out)["tiles"] == [64] and read_provenance(out)["options"]["tile"] == 64
    code, _, err = run([*base, "--tile", "32"], capsys)
    assert code == 2 and "'32' is not auto, off or a tile side of at least 64 px" in err
    code, _, err = run([*base, "--tile", "64", "--loss", "mmd=1"], capsys)
    assert code != 0 and "loss 'mmd' cannot be tiled exactly" in err and "--tile off" in err
    code, _, _ = run([*base, "--tile", "off", "--loss", "mmd=1"], capsys)
    assert code == 0 and read_provenance(out)["tiles"] == [None]


def test_kept_graphs_change_the_time_not_the_gradient():
    plan, untiled, tiled, _ = _objectives((150, 172), 64, **dict(SMALL, losses={"content": 1, "gram": 1e4, "tv": 1}))
    image = _tensor(plan.content)
    tiles = len(tiled.layout((150, 172)).tiles)
    found = {}
    for keep in (0, 2, tiles):
        tiled.keep = keep
        found[keep] = tiled.value_and_grad(image)
    for keep in (2, tiles):
        assert torch.equal(found[keep][1], found[0][1])
        assert torch.allclose(found[keep][2], found[0][2], atol=1e-6 * float(found[0][2].abs().max()))


def test_graphs_are_kept_only_as_far_as_memory_allows(monkeypatch):
    content, style = _photo(data.astronaut(), (256, 256)), _photo(data.coffee(), (64, 64))
    plenty = plan_run(content, style, size=512, scales=1, steps=2, tile=128, **SMALL)
    tiles = len(layout_tiles((512, 512), 128, plenty.network.tile_geometry(plenty.objective.layers)).tiles)
    assert plenty.schedule.kept_graphs == tiles  # a small run on a big machine keeps every tile's graph
    bounded = plan_run(content, style, size=512, scales=1, steps=2, tile=128, tile_graphs=0, **SMALL)
    assert bounded.schedule.kept_graphs == 0 and bounded.memory.peak_bytes < plenty.memory.peak_bytes
    budget = int(bounded.memory.peak_bytes * 2.3)  # half of it leaves room for about one more graph
    monkeypatch.setattr("nst_engine.memory.available_bytes", lambda device="cpu": budget)
    tight = plan_run(content, style, size=512, scales=1, steps=2, tile=128, **SMALL)
    assert 0 < tight.schedule.kept_graphs < tiles and tight.memory.peak_bytes <= budget / 2
