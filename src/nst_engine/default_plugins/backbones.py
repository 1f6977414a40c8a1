"""Built-in backbones; imported inside the hook because they need torch (see optimizers)."""

from nst_engine.hookspecs import hookimpl


@hookimpl
def register_backbones(register):
    from nst_engine.backbones import random_multiscale, resnet50, vgg16, vgg19

    register("vgg19", vgg19)
    register("vgg16", vgg16)
    register("resnet50", resnet50)
    register("random-multiscale", random_multiscale)
