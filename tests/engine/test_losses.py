"""Loss functions: the seed's normalisation, zero at the target, finite gradients."""

import pytest
import torch

from nst_engine import create_backbone, create_loss
from nst_engine.losses import functional as LF
from nst_engine.objective import Objective, ReferenceImages, build_terms, expand_styles


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


LOSSES = [
    ("content", {}), ("gram", {}), ("mean-std", {}), ("tv", {}),
    ("mmd", {"kernel": "linear"}), ("mmd", {"kernel": "polynomial", "offset": 1.0}),
    ("mmd", {"kernel": "gaussian", "samples": 1024}), ("styled-content", {}),
    ("combined-image", {"blend": 0.0}), ("multiscale", {"loss": "gram", "factors": (1.0, 0.5)}),
    ("multiscale", {"loss": "content", "factors": (0.5,)}),
]


@pytest.mark.parametrize("name, options", LOSSES, ids=[f"{n}-{'-'.join(map(str, o.values()))}" for n, o in LOSSES])
def test_each_loss_is_zero_at_its_target_and_has_finite_gradients(name, options):
    net = create_backbone("random-multiscale", channels=8, scales=3)
    loss = create_loss(name, **options)
    layers = loss.resolve_layers(net)
    torch.manual_seed(0)
    reference = torch.rand(1, 3, 24, 24)
    role = loss.role if loss.role != "image" else "content"
    references = {role: reference, "content": reference, "style@content": torch.rand(1, 3, 24, 24)}
    target = loss.prepare(ReferenceImages(net, references))
    at_target = loss(reference, net(reference, layers), target)
    other = torch.rand(1, 3, 24, 24, requires_grad=True)
    value = loss(other, net(other, layers), target)
    value.backward()
    if name != "tv":
        assert at_target.item() == pytest.approx(0.0, abs=1e-6)
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


def test_masked_statistics_see_only_the_region():
    torch.manual_seed(0)
    features = torch.rand(1, 4, 6, 8)
    mask = torch.zeros(1, 1, 6, 8)
    mask[..., :4] = 1
    region = features[..., :4]
    assert torch.allclose(LF.gram_matrix(features, mask), LF.gram_matrix(region), atol=1e-6)
    mean, std = LF.mean_std(features, mask)
    assert torch.allclose(mean, region.mean(dim=(2, 3))) and torch.allclose(std, region.std(dim=(2, 3), unbiased=False), atol=1e-4)
    target = torch.rand(1, 4, 6, 8)
    assert torch.allclose(LF.content_loss(features, target, mask), LF.content_loss(region, target[..., :4]))


def test_a_masked_regions_content_term_does_not_depend_on_its_size():
    # The image differs from the content only inside the region, as the pipeline's composed
    # image does. Averaged over the region, the content term stays put when the region grows
    # 4x; averaged over the image (no mask), it grows with the area.
    torch.manual_seed(0)
    net = create_backbone("random-multiscale", channels=8)
    content = torch.rand(1, 3, 48, 48)
    change = 0.3 * torch.rand(1, 3, 48, 48)
    masked, plain = [], []
    for side in (12, 24):
        mask = torch.zeros(1, 1, 48, 48)
        mask[..., 12 : 12 + side, 12 : 12 + side] = 1
        image = content + mask * change
        for kept, region in ((masked, mask), (plain, None)):
            loss = create_loss("content")
            layers = loss.resolve_layers(net)
            loss.mask = region
            target = loss.prepare(ReferenceImages(net, {"content": content}))
            kept.append(float(loss(image, net(image, layers), target)))
    assert 0.6 < masked[1] / masked[0] < 1.6
    assert plain[1] / plain[0] > 2.5


def test_content_terms_get_the_union_of_the_style_masks():
    net = create_backbone("random-multiscale", channels=8)
    terms = expand_styles(build_terms({"content": 1.0, "gram": 1.0}, {}), [0.5, 0.5])
    objective = Objective(net, terms)
    left, right = torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16)
    left[..., :6], right[..., 10:] = 1, 1
    image = torch.rand(1, 3, 16, 16)
    objective.set_targets({"content": image, "style@content": image, "style:0": image, "style:1": image},
                          [left, right])
    content = next(t for t in terms if t.loss.role == "content")
    assert torch.equal(content.loss.mask, left + right)


def test_mmd_with_polynomial_kernel_and_no_offset_is_the_gram_loss_up_to_scale():
    torch.manual_seed(0)
    a, b = torch.rand(1, 4, 5, 6), torch.rand(1, 4, 5, 6)
    mmd = create_loss("mmd", kernel="polynomial")
    value = mmd.compare(mmd.statistic(a), mmd.statistic(b))
    gram = LF.gram_loss(LF.gram_matrix(a), LF.gram_matrix(b))
    assert torch.allclose(value, gram * 4 * 4**2, rtol=1e-4)


def test_multiscale_cannot_wrap_itself_and_checks_factors():
    with pytest.raises(ValueError, match="itself"):
        create_loss("multiscale", loss="multiscale")
    with pytest.raises(ValueError, match="factors"):
        create_loss("multiscale", factors=(0.0,))


def test_resnet50_layer_map_and_l2_pooling():
    net = create_backbone("resnet50", weights="random")
    assert net.layer_names == ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    assert net.content_layers == ("layer2",) and net.style_layers == ("relu", "layer1", "layer2", "layer3")
    features = net.truncate(net.style_layers)(torch.rand(1, 3, 64, 64), net.style_layers)
    assert [features[k].shape[1] for k in net.style_layers] == [64, 256, 512, 1024]
    vgg = create_backbone("vgg16", weights="random", pooling="l2")
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    vgg(image, ["relu3_1"])["relu3_1"].sum().backward()
    assert torch.isfinite(image.grad).all()


def test_two_masked_styles_with_multiscale_each_use_their_own_mask():
    net = create_backbone("random-multiscale", channels=8, scales=2)
    terms = expand_styles(build_terms({"multiscale": 1.0}, {}), [0.5, 0.5])
    objective = Objective(net, terms)
    left, right = torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32)
    left[..., :12], right[..., 20:] = 1, 1
    torch.manual_seed(0)
    red, blue, image = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    references = {"content": image, "style@content": red, "style:0": red, "style:1": blue}
    objective.set_targets(references, [left, right])
    for term, mask, name in zip(terms, (left, right), ("style:0", "style:1")):
        alone = create_loss("multiscale")
        alone.resolve_layers(net)
        alone.reference, alone.mask = name, mask
        target = alone.prepare(ReferenceImages(net, references))
        features = net(image, objective.layers)
        assert torch.allclose(term.loss(image, features, term.target), alone(image, features, target))
    assert terms[0].loss.base is not terms[1].loss.base
