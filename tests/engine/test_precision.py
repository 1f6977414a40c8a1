"""The backbone's precision: honoured, recorded, refused where the device lacks bf16."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_helpers import run

from nst_engine import precision as precision_module
from nst_engine.errors import OptionError
from nst_engine.generators import result_of
from nst_engine.pipeline import run_plan, stylize
from nst_engine.plan import plan_run
from nst_engine.references import CONTENT, STYLE, STYLE_AT_CONTENT, style_ref

RUN = dict(backbone="random-multiscale", steps=2, size=32, scales=1, device="cpu")


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.random((32, 32, 3), dtype=np.float32), rng.random((32, 32, 3), dtype=np.float32)


@pytest.fixture
def bf16_probe(monkeypatch):
    """Set what the probe answers: ``bf16_probe(True)``."""
    def answer(value: bool) -> None:
        monkeypatch.setattr(precision_module, "has_bf16", lambda device: value)
    return answer


def test_forced_bf16_runs_the_backbone_under_autocast_and_is_recorded(images, bf16_probe):
    bf16_probe(True)
    plan = plan_run(*images, precision="bf16", **RUN)
    seen = []
    conv = next(m for m in plan.network.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda module, args, out: seen.append(
        (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))))
    features = plan.network(torch.rand(1, 3, 32, 32), plan.objective.layers)
    assert seen and all(seen_ == (True, torch.bfloat16) for seen_ in seen)
    assert all(f.dtype == torch.float32 for f in features.values())

    result = stylize(*images, precision="bf16", **RUN)
    assert result.provenance["precision"] == "bf16" and result.provenance["options"]["precision"] == "bf16"


def test_bf16_computes_only_the_finest_scale_in_bf16(bf16_probe):
    """Coarse scales decide the layout, and rounding there picks another one: they stay fp32."""
    bf16_probe(True)
    rng = np.random.default_rng(1)
    content, style = rng.random((128, 128, 3), dtype=np.float32), rng.random((128, 128, 3), dtype=np.float32)
    plan = plan_run(content, style, precision="bf16", backbone="random-multiscale", steps=3, size=128, scales=2,
                    device="cpu")
    seen = []
    conv = next(m for m in plan.network.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda module, args, out: seen.append((out.shape[-1], out.dtype)))
    result = result_of(run_plan(plan))
    assert result.provenance["steps_run_per_scale"] == [2, 1]
    assert {dtype for side, dtype in seen if side == 64} == {torch.float32}
    assert {dtype for side, dtype in seen if side == 128} == {torch.bfloat16}


def test_vgg_convolutions_compute_in_bf16(images, bf16_probe):
    bf16_probe(True)
    plan = plan_run(*images, backbone="vgg19", backbone_options={"weights": "random"}, precision="bf16",
                    steps=1, size=32, scales=1, device="cpu")
    dtypes = []
    conv = next(m for m in plan.network.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    plan.network(torch.rand(1, 3, 32, 32), plan.objective.layers)
    assert dtypes == [torch.bfloat16]


def test_losses_and_grams_stay_float32_under_bf16(images, bf16_probe):
    bf16_probe(True)
    plan = plan_run(*images, precision="bf16", **RUN)
    image = torch.from_numpy(images[0].transpose(2, 0, 1).copy())[None]
    plan.objective.set_targets({CONTENT: image, STYLE: image, STYLE_AT_CONTENT: image, style_ref(0): image}, [])
    targets = [t.target for t in plan.objective.terms if isinstance(t.target, torch.Tensor)]
    targets += [v for t in plan.objective.terms if isinstance(t.target, dict) for v in t.target.values()]
    assert targets and all(t.dtype == torch.float32 for t in targets)
    total, raw = plan.objective(image.clone().requires_grad_(True))
    assert total.dtype == torch.float32 and raw.dtype == torch.float32


def test_bf16_is_refused_where_the_device_lacks_it(images, bf16_probe):
    bf16_probe(False)
    with pytest.raises(OptionError, match=r"device 'cpu'.*precision=\"fp32\"") as caught:
        plan_run(*images, precision="bf16", **RUN)
    assert caught.value.option == "precision"


def test_auto_falls_back_to_fp32_without_bf16(images, bf16_probe):
    bf16_probe(False)
    assert stylize(*images, precision="auto", **RUN).provenance["precision"] == "fp32"
    bf16_probe(True)
    assert plan_run(*images, precision="auto", **RUN).precision == "bf16"


def test_the_default_is_fp32_even_where_bf16_is_there(images, bf16_probe):
    bf16_probe(True)  # bf16 is the fp32 image but not bit for bit (docs/performance.md, Precision): opt-in
    assert plan_run(*images, **RUN).precision == "fp32"


@pytest.mark.parametrize("value", ["fp16", "", None, 16])
def test_unknown_precision_is_an_option_error(images, value):
    with pytest.raises(OptionError, match="precision must be auto, fp32 or bf16") as caught:
        plan_run(*images, precision=value, **RUN)
    assert caught.value.option == "precision"


def test_fp32_never_asks_the_probe(images, monkeypatch):
    def probe(device):
        raise AssertionError("probed")
    monkeypatch.setattr(precision_module, "has_bf16", probe)
    assert plan_run(*images, precision="fp32", **RUN).precision == "fp32"


def test_probe_reads_cpu_flags(monkeypatch):
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert precision_module.has_bf16(torch.device("cpu"))
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: {"avx2"})
    assert not precision_module.has_bf16(torch.device("cpu"))
    assert not precision_module.has_bf16(torch.device("meta"))


def test_bf16_reruns_are_bit_identical(images, bf16_probe):
    bf16_probe(True)
    first, second = (stylize(*images, precision="bf16", **RUN) for _ in range(2))
    assert np.array_equal(first.image, second.image)


def test_cli_precision_is_passed_through_and_refused_by_its_flag(tmp_path, capsys, bf16_probe):
    argv = ["stylize", "--sample", "-q", "--backbone", "random-multiscale", "--steps", "1", "--size", "32",
            "--scales", "1", "--device", "cpu"]
    bf16_probe(False)
    code, _, err = run([*argv, "--precision", "bf16", "-o", str(tmp_path / "out.png")], capsys)
    assert code == 1 and "--precision" in err and 'precision="fp32"' in err
    bf16_probe(True)
    code, _, err = run([*argv, "--precision", "bf16", "-o", str(tmp_path / "out.png")], capsys)
    assert code == 0, err
