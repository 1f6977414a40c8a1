"""Feed-forward style transfer networks: one forward pass per image, trained beforehand.

:class:`Model` is the contract (``forward`` on tensors, ``apply`` on engine images); the
built-ins are Johnson et al. 2016's :class:`TransformerNet` (one or several learnt styles) and
Huang & Belongie 2017's :class:`AdaIN` (any style image at call time). :func:`save_model` and
:func:`load_model` store and safely read them, and read the published pytorch/examples and
pytorch-AdaIN weights.
"""

from .adain import AdaIN, adain
from .base import Model
from .johnson import TransformerNet, johnson
from .loading import load_model, save_model

__all__ = ["Model", "TransformerNet", "johnson", "AdaIN", "adain", "load_model", "save_model"]
