"""Backbones: layer naming, truncation, freezing, and weight loading that is safe by default."""

import hashlib
import os
import pickle

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from nst_engine import create_backbone
from nst_engine.backbones.weights import load_state_dict
from nst_engine.errors import WeightsUnavailableError


@pytest.fixture(scope="module")
def vgg19_state(tmp_path_factory):
    """A torchvision VGG-19 state dict (random values; ``features.*`` as in the full model)."""
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}
    folder = tmp_path_factory.mktemp("weights")
    plain = folder / "vgg19-random.pth"
    torch.save(state, plain)
    digest = hashlib.sha256(plain.read_bytes()).hexdigest()
    hub_named = folder / f"vgg19-{digest[:8]}.pth"
    hub_named.write_bytes(plain.read_bytes())
    return state, plain, hub_named, digest


def test_vgg_layers_use_the_papers_names():
    net = create_backbone("vgg19", weights="random")
    assert net.layer_names[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert "conv5_4" in net.layer_names and net.content_layers == ("relu4_2",)
    assert net.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert len([n for n in create_backbone("vgg16", weights="random").layer_names if n.startswith("conv")]) == 13


def test_vgg_is_frozen_and_truncated_after_the_deepest_layer_needed():
    net = create_backbone("vgg19", weights="random").truncate(["relu1_1", "relu3_1"])
    assert net.layer_names[-1] == "relu3_1"
    assert all(not p.requires_grad for p in net.parameters())
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    features = net(image, ["relu1_1", "relu3_1", "conv3_1"])
    assert set(features) == {"relu1_1", "relu3_1", "conv3_1"}
    # The conv activation survives its ReLU: nothing runs in place.
    assert (features["conv3_1"] < 0).any() and (features["relu3_1"] >= 0).all()
    features["relu3_1"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_pooling_avg_replaces_max_pooling():
    net = create_backbone("vgg16", weights="random", pooling="avg")
    assert isinstance(net.body.pool1, torch.nn.AvgPool2d)


def test_unknown_layers_are_named():
    with pytest.raises(ValueError, match="no layer 'relu9_9'"):
        create_backbone("vgg19", weights="random")(torch.rand(1, 3, 32, 32), ["relu9_9"])


def test_weights_from_a_file_with_the_right_hash_load(vgg19_state):
    state, plain, _, digest = vgg19_state
    net = create_backbone("vgg19", weights=str(plain), sha256=digest)
    assert torch.equal(net.body.conv1_1.weight, state["features.0.weight"])
    assert net.info["weights_sha256"] == digest
    assert create_backbone("vgg19", weights=str(plain), sha256=digest[:8]).info["weights_sha256"] == digest


def test_a_wrong_hash_is_refused(vgg19_state):
    _, plain, _, digest = vgg19_state
    with pytest.raises(WeightsUnavailableError, match="has SHA-256 .* expected 00000000"):
        create_backbone("vgg19", weights=str(plain), sha256="00000000")


def test_hub_style_file_names_are_checked_against_their_hash_prefix(vgg19_state, tmp_path):
    _, _, hub_named, digest = vgg19_state
    create_backbone("vgg19", weights=str(hub_named))
    liar = tmp_path / "vgg19-deadbeef.pth"
    liar.write_bytes(hub_named.read_bytes())
    with pytest.raises(WeightsUnavailableError, match="expected deadbeef"):
        create_backbone("vgg19", weights=str(liar))


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as stream:
        pickle.dump({"features.0.weight": _Exploit()}, stream)
    with pytest.raises(WeightsUnavailableError, match="refused to load"):
        load_state_dict(path)


def test_a_state_dict_of_another_network_is_refused(tmp_path):
    path = tmp_path / "vgg16.pth"
    torch.save(make_layers(cfgs["D"]).state_dict(), path)
    with pytest.raises(WeightsUnavailableError, match="does not fit"):
        create_backbone("vgg19", weights=str(path))


def test_missing_imagenet_weights_say_where_and_name_the_offline_backbone(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as error:
        create_backbone("vgg19", download=False)
    message = str(error.value)
    assert str(tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "weights=PATH" in message and "random-multiscale" in message


def test_imagenet_weights_in_the_hub_cache_are_used(vgg19_state, tmp_path, monkeypatch):
    state, plain, _, _ = vgg19_state
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    # The cache file must match the hash prefix its name promises, so write what it names.
    cached = tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.write_bytes(plain.read_bytes())
    with pytest.raises(WeightsUnavailableError, match="expected dcbb9e9d"):
        create_backbone("vgg19", download=False)


def test_random_multiscale_is_seeded_and_weight_free():
    a = create_backbone("random-multiscale", seed=1, channels=8)
    b = create_backbone("random-multiscale", seed=1, channels=8)
    c = create_backbone("random-multiscale", seed=2, channels=8)
    image = torch.rand(1, 3, 40, 40)
    fa, fb, fc = (net(image, net.style_layers) for net in (a, b, c))
    assert all(torch.equal(fa[k], fb[k]) for k in fa)
    assert not torch.equal(fa["scale1"], fc["scale1"])
    assert [fa[k].shape[-1] for k in a.style_layers] == [40, 20, 10, 5, 3]


@pytest.mark.parametrize("name", ["vgg19", "resnet50"])
def test_random_weights_are_the_same_network_every_time_and_leave_the_callers_random_state_alone(name):
    # Two runs with untrained weights compare options, not two different networks.
    torch.manual_seed(7)
    first = create_backbone(name, weights="random").state_dict()
    drawn_after = torch.rand(3)
    torch.manual_seed(7)
    second = create_backbone(name, weights="random").state_dict()
    assert torch.equal(torch.rand(3), drawn_after)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_checkpointing_gives_the_same_features_and_gradients():
    net = create_backbone("vgg16", weights="random")
    layers = ["relu1_1", "relu2_1", "relu3_1"]
    image = torch.rand(1, 3, 40, 40)
    grads = []
    for flag in (False, True):
        net.checkpointing = flag
        x = image.clone().requires_grad_(True)
        features = net(x, layers)
        sum(f.square().mean() for f in features.values()).backward()
        grads.append((features, x.grad))
    assert all(torch.allclose(grads[0][0][k], grads[1][0][k]) for k in layers)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-6)
