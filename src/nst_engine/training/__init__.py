"""Training feed-forward style networks (Johnson et al. 2016), headless and resumable.

:func:`train` is a generator of :class:`TrainEvent` that returns a :class:`TrainResult`;
:func:`train_model` drains it. The modules: :mod:`.data` (the training images and their
random crops), :mod:`.loss` (the perceptual loss from the registered loss terms),
:mod:`.checkpoints` (atomic checkpoints to resume from) and :mod:`.loop` (the Adam loop).
"""

from .checkpoints import checkpoint_path
from .loop import TrainEvent, TrainResult, train, train_model

__all__ = ["train", "train_model", "TrainEvent", "TrainResult", "checkpoint_path"]
