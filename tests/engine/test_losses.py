"""Loss functions: the seed's normalisation, zero at the target, finite gradients."""

import pytest
import torch

from nst_engine import create_backbone, create_loss
from nst_engine.losses import functional as LF


def test_gram_loss_equals_gatys_formula():
    torch.manual_seed(0)
    a, b = torch.rand(1, 4, 5, 6), torch.rand(1, 4, 5, 6)
    n, m = 4, 30
    fa, fb = a.reshape(n, m), b.reshape(n, m)
    expected = ((fa @ fa.T - fb @ fb.T) ** 2).sum() / (4 * n**2 * m**2)
    value = LF.gram_loss(LF.gram_matrix(a), LF.gram_matrix(b))
    assert torch.allclose(value, expected, rtol=1e-5)


def test_mean_std_and_tv():
    x = torch.zeros(1, 2, 4, 4)
    x[:, :, :, 2:] = 1.0
    mean, std = LF.mean_std(x)
    assert torch.allclose(mean, torch.full((1, 2), 0.5)) and torch.allclose(std, torch.full((1, 2), 0.5), atol=1e-4)
    assert LF.total_variation(torch.ones(1, 3, 8, 8)) == 0
    assert LF.total_variation(x) > 0


@pytest.mark.parametrize("name", ["content", "gram", "mean-std", "tv"])
def test_each_loss_is_zero_at_its_target_and_has_finite_gradients(name):
    net = create_backbone("random-multiscale", channels=8, scales=3)
    loss = create_loss(name)
    layers = loss.resolve_layers(net)
    torch.manual_seed(0)
    reference = torch.rand(1, 3, 24, 24)
    target = loss.prepare(net(reference, layers)) if layers else None
    at_target = loss(reference, net(reference, layers), target)
    other = torch.rand(1, 3, 24, 24, requires_grad=True)
    value = loss(other, net(other, layers), target)
    value.backward()
    if name != "tv":
        assert at_target.item() == pytest.approx(0.0, abs=1e-7)
    assert value.item() > 0 and torch.isfinite(other.grad).all() and other.grad.abs().sum() > 0


def test_layer_weights_must_match_layers():
    net = create_backbone("random-multiscale", channels=8, scales=2)
    with pytest.raises(ValueError, match="2 layers but 1 layer_weights"):
        create_loss("gram", layers=("scale1", "scale2"), layer_weights=(1.0,)).resolve_layers(net)
    with pytest.raises(ValueError, match="no layer 'relu1_1'"):
        create_loss("gram", layers=("relu1_1",)).resolve_layers(net)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_matrix_gradient_is_exact_in_both_layouts(layout):
    x = torch.rand(2, 3, 4, 5, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_(True)
    assert torch.autograd.gradcheck(LF.gram_matrix, (x,))
