"""The published networks the built-in models must match, transcribed from their sources.

pytorch/examples ``fast_neural_style/neural_style/transformer_net.py`` (``TransformerNet``)
and naoto0804/pytorch-AdaIN ``net.py`` (``vgg``, ``decoder``) and ``test.py``
(``style_transfer``): their state dicts are what ``load_model`` must read, and their outputs
what the built-ins must reproduce where the sizes let both run.
"""

import torch
import torch.nn as nn


class ConvLayer(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class UpsampleConvLayer(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        if self.upsample:
            x = nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):
    """pytorch/examples' network: 0..255 in, 0..255 out."""

    def __init__(self):
        super().__init__()
        self.conv1 = ConvLayer(3, 32, kernel_size=9, stride=1)
        self.in1 = nn.InstanceNorm2d(32, affine=True)
        self.conv2 = ConvLayer(32, 64, kernel_size=3, stride=2)
        self.in2 = nn.InstanceNorm2d(64, affine=True)
        self.conv3 = ConvLayer(64, 128, kernel_size=3, stride=2)
        self.in3 = nn.InstanceNorm2d(128, affine=True)
        self.res1 = ResidualBlock(128)
        self.res2 = ResidualBlock(128)
        self.res3 = ResidualBlock(128)
        self.res4 = ResidualBlock(128)
        self.res5 = ResidualBlock(128)
        self.deconv1 = UpsampleConvLayer(128, 64, kernel_size=3, stride=1, upsample=2)
        self.in4 = nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, kernel_size=3, stride=1, upsample=2)
        self.in5 = nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, kernel_size=9, stride=1)
        self.relu = nn.ReLU()

    def forward(self, X):
        y = self.relu(self.in1(self.conv1(X)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def _pad():
    return nn.ReflectionPad2d((1, 1, 1, 1))


def adain_decoder():
    return nn.Sequential(
        _pad(), nn.Conv2d(512, 256, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        _pad(), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        _pad(), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        _pad(), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        _pad(), nn.Conv2d(256, 128, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        _pad(), nn.Conv2d(128, 128, (3, 3)), nn.ReLU(),
        _pad(), nn.Conv2d(128, 64, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        _pad(), nn.Conv2d(64, 64, (3, 3)), nn.ReLU(),
        _pad(), nn.Conv2d(64, 3, (3, 3)),
    )


def adain_vgg():
    """The whole ``vgg_normalised`` (to relu5_4), as the published file holds it."""
    def pool():
        return nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)

    def conv(i, o):
        return [_pad(), nn.Conv2d(i, o, (3, 3)), nn.ReLU()]

    return nn.Sequential(
        nn.Conv2d(3, 3, (1, 1)),
        *conv(3, 64), *conv(64, 64), pool(),
        *conv(64, 128), *conv(128, 128), pool(),
        *conv(128, 256), *conv(256, 256), *conv(256, 256), *conv(256, 256), pool(),
        *conv(256, 512), *conv(512, 512), *conv(512, 512), *conv(512, 512), pool(),
        *conv(512, 512), *conv(512, 512), *conv(512, 512), *conv(512, 512),
    )


def calc_mean_std(feat, eps=1e-5):
    N, C = feat.size()[:2]
    feat_var = feat.view(N, C, -1).var(dim=2) + eps
    return feat.view(N, C, -1).mean(dim=2).view(N, C, 1, 1), feat_var.sqrt().view(N, C, 1, 1)


def adaptive_instance_normalization(content_feat, style_feat):
    size = content_feat.size()
    style_mean, style_std = calc_mean_std(style_feat)
    content_mean, content_std = calc_mean_std(content_feat)
    normalized = (content_feat - content_mean.expand(size)) / content_std.expand(size)
    return normalized * style_std.expand(size) + style_mean.expand(size)


def adain_style_transfer(vgg, decoder, content, style, alpha=1.0):
    """pytorch-AdaIN's ``test.py``, with ``vgg`` already cut to ``vgg[:31]``."""
    content_f = vgg(content)
    feat = adaptive_instance_normalization(content_f, vgg(style))
    return decoder(feat * alpha + content_f * (1 - alpha))


def randomized(module, seed=0):
    """``module`` freshly initialised from ``seed``, norm gammas and betas random too (not 1, 0)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.split(".")[-2].startswith("in"):  # instance norm: in1, res3.in2, ...
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(p.shape, generator=generator))
            elif p.ndim > 1:  # He et al. 2015: the signal keeps its scale through the ReLUs
                p.copy_(torch.randn(p.shape, generator=generator) * (2.0 / p[0].numel()) ** 0.5)
            else:
                p.copy_(0.01 * torch.randn(p.shape, generator=generator))
    return module


def visible(conv, *, gain, offset):
    """Rescale a random network's last convolution so that its output spreads over [0, 1]
    rather than saturating or sitting near 0 (either of which clipping would flatten)."""
    with torch.no_grad():
        conv.weight.mul_(gain)
        conv.bias.fill_(offset)
    return conv
