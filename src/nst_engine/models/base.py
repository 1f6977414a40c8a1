"""What every feed-forward stylisation network shares: the image convention and its options.

A model is an ``nn.Module`` whose ``forward`` maps an RGB batch in [0, 1] to one of the same
size, differentiable so that a trainer can fit it; :meth:`Model.apply` wraps that for the
engine's numpy images. One pass replaces the optimisation of :func:`nst_engine.stylize`: the
style was learnt in training (Johnson et al. 2016) or is given at call time (Huang & Belongie
2017).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import OptionError
from ..images import split_image

__all__ = ["Model", "to_batch"]


def to_batch(image: np.ndarray, *, what: str = "image", like: torch.Tensor | None = None) -> torch.Tensor:
    """Any engine image (gray, RGB, RGBA; integer or float) -> ``1×3×H×W`` float tensor in [0, 1].

    Alpha is dropped: a model stylises colour, and the caller keeps the alpha it split off.
    """
    rgb, _ = split_image(image, what=what)
    batch = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
    if like is not None:
        batch = batch.to(device=like.device, dtype=like.dtype)
    return batch


class Model(torch.nn.Module):
    """A feed-forward style transfer network: one forward pass per image.

    Subclasses set :attr:`name` (the name they are registered under, so that a saved model can
    be rebuilt), pass their constructor's options to ``super().__init__(**options)`` (the
    keywords the registered factory rebuilds it with) and implement :meth:`forward`. Options
    that may change per call (a CIN model's style, AdaIN's ``alpha``) are listed in
    :attr:`call_options`: ``forward`` and :meth:`apply` take them as keywords.
    """

    #: The registry name: ``save_model`` writes it, ``load_model`` rebuilds through it.
    name: ClassVar[str] = ""
    #: Whether a style image must be passed at call time (arbitrary-style models).
    needs_style: ClassVar[bool] = False
    #: Options ``forward`` and ``apply`` accept per call, overriding the model's own.
    call_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._options = dict(options)
        #: Where the weights came from (file, SHA-256, source layout), for run provenance.
        self.provenance: dict[str, Any] = {}

    @property
    def options(self) -> dict[str, Any]:
        """The options this model was built with: ``factory(**options)`` rebuilds its architecture."""
        return dict(self._options)

    def forward(self, image: torch.Tensor, *, style: torch.Tensor | None = None, **options: Any) -> torch.Tensor:
        """``N×3×H×W`` in [0, 1] -> ``N×3×H×W``, about [0, 1] (not clipped: gradients must flow)."""
        raise NotImplementedError

    def check_call(self, style: Any, options: dict[str, Any]) -> None:
        """Refuse a missing or superfluous style image and unknown per-call options, by name."""
        unknown = sorted(set(options) - set(self.call_options))
        if unknown:
            known = ", ".join(self.call_options) or "none"
            raise OptionError(f"model {self.name!r} takes no call option {', '.join(map(repr, unknown))} "
                              f"(call options: {known})", option=unknown[0])
        if self.needs_style and style is None:
            raise OptionError(f"model {self.name!r} needs a style image: apply(image, style=style_image)",
                              option="style")
        if not self.needs_style and style is not None:
            raise OptionError(f"model {self.name!r} learnt its style in training and takes no style image; "
                              "use an arbitrary-style model such as 'adain'", option="style")

    def apply(self, image: np.ndarray, *, style: np.ndarray | None = None, **options: Any) -> np.ndarray:
        """Stylise one engine image: float32 ``H×W×3`` in [0, 1] of the input's size.

        Parameters
        ----------
        image
            Gray, RGB or RGBA; integers or floats in [0, 1] (alpha is not stylised: keep it aside).
        style
            The style image, for a model with :attr:`needs_style`.
        **options
            Per-call options from :attr:`call_options` (``style_index=1``, ``alpha=0.8``).
        """
        self.check_call(style, options)
        reference = next(iter(self.parameters()), None)
        batch = to_batch(image, like=reference)
        style_batch = None if style is None else to_batch(style, what="style image", like=reference)
        training = self.training
        self.eval()
        try:
            with torch.no_grad():
                out = self(batch, style=style_batch, **options)
        finally:
            self.train(training)
        return out[0].clamp(0.0, 1.0).permute(1, 2, 0).to(device="cpu", dtype=torch.float32).numpy().copy()

    def describe(self) -> dict[str, Any]:
        """Name, options, parameter count and provenance: what a run's provenance records."""
        return {
            "name": self.name,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self._options.items()},
            "parameters": sum(p.numel() for p in self.parameters()),
            "provenance": dict(self.provenance),
        }
