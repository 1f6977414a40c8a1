"""L-BFGS (Gatys et al.'s choice), Adam and plain gradient descent.

The pipeline calls ``step(closure)`` once per iteration so that it can report progress and
honour a cancel between iterations; L-BFGS is therefore built with ``max_iter=1`` and keeps
its curvature history across calls.
"""

import types
from typing import Annotated

import torch

__all__ = ["lbfgs", "adam", "sgd"]


def _flat_grad(optimizer: torch.optim.LBFGS) -> torch.Tensor:
    """The image's gradient itself as L-BFGS's flat gradient, not a copy of it.

    torch concatenates the parameters' gradients into a new vector even for one parameter;
    the pipeline optimises one contiguous image, so that vector can be a view: one
    image-sized buffer less after each evaluation (0.75 GiB at 8192²), the same numbers.
    """
    grads = [p.grad for p in optimizer._params]
    grad = grads[0] if len(grads) == 1 else None
    if (grad is None or grad.is_sparse or grad.is_complex() or not grad.is_contiguous()
            or optimizer.param_groups[0].get("maximize", False)):
        return torch.optim.LBFGS._gather_flat_grad(optimizer)
    return grad.view(-1)


#: The most evaluations one step's strong-Wolfe line search may take (torch's ``max_ls``).
_LINE_SEARCH_EVALUATIONS = 25

LearningRate = Annotated[float, {"min": 1e-6, "max": 100.0, "tooltip": "step size"}]


def lbfgs(
    params,
    *,
    lr: LearningRate = 1.0,
    history_size: Annotated[int, {"min": 1, "max": 1000}] = 100,
    line_search: bool = False,
    first_move: Annotated[float, {"min": 0.0, "max": 1.0, "tooltip": "mean change of a pixel value in the first "
                                  "step; 0: torch's tiny first step"}] = 0.0,
) -> torch.optim.Optimizer:
    """L-BFGS, one iteration per step: converges in the fewest iterations.

    Parameters
    ----------
    history_size
        Gradient pairs kept for the curvature estimate: more is steadier, costs image-sized memory each.
    line_search
        Strong-Wolfe line search: safer steps on hard losses, several evaluations per step.
    first_move
        The first step's mean absolute change of a pixel value (0.01: 1 % of the range). 0
        keeps torch's (and neural-style's) first step, ``min(1, 1/‖g‖₁)`` times ``lr``, which
        on an image is tiny: the first curvature pair is then a difference of nearly equal
        gradients, and float rounding in it (1e-7) sets the second step's length to about 1 %,
        so two evaluations of the same objective (tiled and untiled, other hardware) part ways.
    """
    optimizer = torch.optim.LBFGS(
        params,
        lr=lr,
        max_iter=1,
        history_size=history_size,
        # torch lets a line search evaluate ``max_eval`` less the step's first evaluation
        # times; its default for one iteration (1 * 5 // 4 = 1) leaves none, and the search
        # then only accepts or rejects the first trial point and, once it rejects one, stays
        # there for ever. One step's search may take as many evaluations as torch's own cap.
        max_eval=1 + _LINE_SEARCH_EVALUATIONS if line_search else None,
        line_search_fn="strong_wolfe" if line_search else None,
    )
    # On the instance, not a subclass: torch.optim.LBFGS stays the class callers patch and check.
    optimizer._gather_flat_grad = types.MethodType(_flat_grad, optimizer)
    if first_move:
        _scale_first_step(optimizer, first_move)
    return optimizer


def _scale_first_step(optimizer: torch.optim.LBFGS, move: float) -> None:
    """Make ``optimizer``'s first step change each value by ``move`` on average.

    torch takes ``t = min(1, 1/‖g‖₁) · lr`` along ``−g`` first, a step of L1 norm ``lr`` when
    ``‖g‖₁ > 1``; the learning rate of that one step is set to ``lr · move · n`` (``n`` values),
    then restored.
    """
    step = optimizer.step

    def first(closure):
        group = optimizer.param_groups[0]
        lr = group["lr"]
        group["lr"] = lr * move * sum(p.numel() for p in group["params"])
        try:
            return step(closure)
        finally:
            group["lr"] = lr
            optimizer.step = step

    optimizer.step = first


def adam(
    params,
    *,
    lr: LearningRate = 0.02,
    beta1: Annotated[float, {"min": 0.0, "max": 0.9999}] = 0.9,
    beta2: Annotated[float, {"min": 0.0, "max": 0.99999}] = 0.999,
) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015): steadier than L-BFGS on hard losses; needs more iterations.

    Parameters
    ----------
    beta1
        Decay of the gradient's running mean (momentum).
    beta2
        Decay of the squared gradient's running mean (per-pixel step size).
    """
    return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2))


def sgd(
    params,
    *,
    lr: LearningRate = 1.0,
    momentum: Annotated[float, {"min": 0.0, "max": 0.999}] = 0.9,
) -> torch.optim.Optimizer:
    """Gradient descent with momentum: the simplest baseline.

    Parameters
    ----------
    momentum
        Fraction of the previous step carried into the next.
    """
    return torch.optim.SGD(params, lr=lr, momentum=momentum)
