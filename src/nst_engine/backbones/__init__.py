"""Feature extractors: VGG-16/19 with ImageNet weights and the weight-free random-multiscale."""

from .base import Backbone, SequentialBackbone
from .random_multiscale import RandomMultiscale, random_multiscale
from .resnet import ResNet, resnet50
from .vgg import VGG, vgg16, vgg19

__all__ = ["Backbone", "SequentialBackbone", "VGG", "vgg16", "vgg19", "RandomMultiscale", "random_multiscale", "ResNet", "resnet50"]
