"""save_model / load_model: bit-identical round trips, refused tampering, published layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from models_reference import TransformerNet as ExamplesNet
from models_reference import adain_decoder, adain_vgg, randomized

import nst_engine
from nst_engine import create_model
from nst_engine.backbones.weights import sha256_of
from nst_engine.errors import NstError, WeightsUnavailableError
from nst_engine.models import AdaIN, TransformerNet, load_model, save_model

IMAGE = np.random.default_rng(0).random((28, 36, 3), dtype=np.float32)
STYLE = np.random.default_rng(1).random((20, 16, 3), dtype=np.float32)


def _equal_states(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    one, two = a.state_dict(), b.state_dict()
    return one.keys() == two.keys() and all(torch.equal(one[k], two[k]) and one[k].dtype == two[k].dtype for k in one)


def test_the_loaders_are_exported_lazily():
    assert nst_engine.load_model is load_model and nst_engine.save_model is save_model
    assert {"load_model", "save_model", "list_models", "create_model"} <= set(nst_engine.__all__)


def test_a_saved_cin_model_reloads_bit_identically(tmp_path):
    model = randomized(TransformerNet(styles=2, style_mix=(0.25, 0.75)))
    path = save_model(model, tmp_path / "two.pth", provenance={"trained_on": ["a.png", "b.png"], "steps": 10})
    loaded = load_model(path)
    assert type(loaded) is TransformerNet and loaded.options == model.options and _equal_states(loaded, model)
    assert np.array_equal(loaded.apply(IMAGE), model.apply(IMAGE))
    assert np.array_equal(loaded.apply(IMAGE, style_index=1), model.apply(IMAGE, style_index=1))
    assert loaded.provenance["sha256"] == sha256_of(path) and loaded.provenance["layout"] == "nst-model"
    assert loaded.provenance["saved"] == {"trained_on": ["a.png", "b.png"], "steps": 10}
    assert loaded.describe()["options"]["style_mix"] == [0.25, 0.75]
    assert not list(tmp_path.glob("*.tmp*")) and sorted(p.name for p in tmp_path.iterdir()) == ["two.pth"]


def test_a_saved_adain_model_reloads_bit_identically(tmp_path):
    model = create_model("adain", alpha=0.7, seed=3)
    loaded = load_model(save_model(model, tmp_path / "adain.pth"))
    assert type(loaded) is AdaIN and loaded.alpha == 0.7 and _equal_states(loaded, model)
    assert np.array_equal(loaded.apply(IMAGE, style=STYLE), model.apply(IMAGE, style=STYLE))
    with pytest.raises(NstError, match="leave out encoder="):
        load_model(tmp_path / "adain.pth", encoder=tmp_path / "adain.pth")


def test_options_given_at_load_override_the_files(tmp_path):
    model = randomized(TransformerNet(styles=2))
    path = save_model(model, tmp_path / "two.pth")
    assert np.array_equal(load_model(path, style_index=1).apply(IMAGE), model.apply(IMAGE, style_index=1))
    assert np.array_equal(create_model("johnson", weights=str(path), style_index=1).apply(IMAGE),
                          model.apply(IMAGE, style_index=1))


def test_a_file_changed_after_saving_is_refused(tmp_path):
    path = save_model(create_model("johnson"), tmp_path / "model.pth")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["in1.bias"][0] += 1e-3  # still a valid file, no longer the one saved
    torch.save(payload, path)
    with pytest.raises(WeightsUnavailableError, match="was changed after it was saved") as refused:
        load_model(path)
    assert str(path) in str(refused.value) and "save the model again" in str(refused.value)


def test_changed_bytes_are_refused(tmp_path):
    path = save_model(create_model("johnson"), tmp_path / "model.pth")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
    path.write_bytes(bytes(data))
    with pytest.raises(NstError, match=str(path)):
        load_model(path)


def test_a_wrong_sha256_is_refused_and_the_right_one_accepted(tmp_path):
    path = save_model(create_model("johnson"), tmp_path / "model.pth")
    with pytest.raises(WeightsUnavailableError, match="expected 00000000"):
        load_model(path, sha256="00000000")
    load_model(path, sha256=sha256_of(path)[:12])


def test_a_state_dict_that_does_not_fit_is_refused_naming_keys_and_shapes(tmp_path):
    path = save_model(randomized(TransformerNet(styles=2)), tmp_path / "two.pth")
    with pytest.raises(WeightsUnavailableError, match=r"does not fit model 'johnson' \(wrong shape in1.weight \(2, 32\)"):
        load_model(path, styles=3)
    state = ExamplesNet().state_dict()
    del state["res5.conv2.conv2d.bias"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(WeightsUnavailableError, match="missing res5.conv2.conv2d.bias; unexpected extra.weight") as refused:
        load_model(tmp_path / "cut.pth")
    assert str(tmp_path / "cut.pth") in str(refused.value)


def test_a_file_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"format": "nst-model", "state_dict": {}, "hook": np.dtype}, path)  # needs a full unpickler
    with pytest.raises(WeightsUnavailableError, match="refused to load"):
        load_model(path)


def test_a_pytorch_examples_file_loads_with_its_old_running_stats(tmp_path):
    reference = randomized(ExamplesNet()).eval()
    state = reference.state_dict()
    for key in [k for k in state if k.endswith(("in1.weight", "in2.weight"))]:
        state[key.replace("weight", "running_mean")] = torch.zeros_like(state[key])  # as torch < 0.4 saved
        state[key.replace("weight", "running_var")] = torch.ones_like(state[key])
    torch.save(state, tmp_path / "mosaic.pth")
    model = load_model(tmp_path / "mosaic.pth")
    assert type(model) is TransformerNet and model.options["styles"] == 1
    assert model.provenance["layout"] == "pytorch/examples fast_neural_style"
    batch = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(batch), reference(batch * 255) / 255, rtol=1e-4, atol=1e-4)


def test_pytorch_adains_files_load_together(tmp_path):
    vgg, decoder = randomized(adain_vgg(), seed=0), randomized(adain_decoder(), seed=1)
    torch.save(vgg.state_dict(), tmp_path / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), tmp_path / "decoder.pth")
    model = load_model(tmp_path / "decoder.pth", name="adain", encoder=tmp_path / "vgg_normalised.pth", alpha=0.5)
    assert type(model) is AdaIN and model.alpha == 0.5
    assert torch.equal(model.encoder[29].weight, vgg[29].weight) and torch.equal(model.decoder[28].weight, decoder[28].weight)
    assert model.provenance["encoder"]["sha256"] == sha256_of(tmp_path / "vgg_normalised.pth")
    assert _equal_states(create_model("adain", decoder=str(tmp_path / "decoder.pth"),
                                      encoder=str(tmp_path / "vgg_normalised.pth")), model)
    trainable = create_model("adain", encoder=str(tmp_path / "vgg_normalised.pth"))  # to train a decoder
    assert torch.equal(trainable.encoder[0].weight, vgg[0].weight)


def test_pytorch_adain_files_alone_say_what_is_missing(tmp_path):
    torch.save(adain_decoder().state_dict(), tmp_path / "decoder.pth")
    torch.save(adain_vgg().state_dict(), tmp_path / "vgg_normalised.pth")
    with pytest.raises(WeightsUnavailableError, match="pass its encoder too"):
        load_model(tmp_path / "decoder.pth")
    with pytest.raises(WeightsUnavailableError, match="is pytorch-AdaIN's encoder"):
        load_model(tmp_path / "vgg_normalised.pth")
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(WeightsUnavailableError, match="cannot tell which model"):
        load_model(tmp_path / "other.pth")


def test_only_models_can_be_saved(tmp_path):
    with pytest.raises(NstError, match="needs an nst_engine.models.Model"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "x.pth")
    with pytest.raises(NstError, match="JSON-like"):
        save_model(create_model("johnson"), tmp_path / "x.pth", provenance={"when": object()})
    assert not (tmp_path / "x.pth").exists()
