"""What a run records about itself: built from its plan, so every option is in it."""

from __future__ import annotations

import platform
from typing import Any

import torch

from . import __version__
from .plan import RunPlan

__all__ = ["run_provenance"]


def _balance(plan: RunPlan, raw: torch.Tensor | None) -> dict[str, float] | None:
    """Each term's final value as a fraction of its reference magnitude (0: reached)."""
    if raw is None:
        return None
    fractions = (raw.cpu() / plan.objective.magnitudes).tolist()
    return {t.name: round(f, 6) for t, f in zip(plan.objective.terms, fractions)}


def run_provenance(plan: RunPlan, *, steps_run: int, steps_run_per_scale: list[int], cancelled: bool,
                   raw: torch.Tensor | None,
                   output_shape: tuple[int, ...], threads: int, timings: dict[str, Any]) -> dict:
    """The provenance of a run of ``plan``: versions, plugins, every option, schedule, timings."""
    return {
        "engine": "nst_engine",
        "version": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "method": "gatys",
        "options": dict(plan.options),
        "backbone": dict(plan.backbone.describe(), info=getattr(plan.network, "info", {})),
        "losses": [t.describe() for t in plan.objective.terms],
        "optimizer": plan.optimizer.describe(),
        "color": plan.colors.describe(),
        "styles": len(plan.styles), "style_weights": list(plan.style_shares), "mask": plan.masks is not None,
        "dynamic_weights": plan.objective.dynamic,
        "balance": _balance(plan, raw),
        "steps": plan.schedule.total, "steps_run": steps_run, "cancelled": cancelled,
        "steps_per_scale": list(plan.schedule.steps), "steps_run_per_scale": list(steps_run_per_scale),
        "until": plan.schedule.until, "tolerance": plan.schedule.tolerance,
        "size": plan.options["size"], "scales": [list(s) for s in plan.schedule.shapes],
        "tiles": list(plan.schedule.tiles or [None] * len(plan.schedule.shapes)),
        "kept_tile_graphs": plan.schedule.kept_graphs,
        "style_scale": plan.options["style_scale"],
        "init": "image" if plan.init_image is not None else plan.init, "seed": plan.options["seed"],
        "device": str(plan.device), "threads": threads, "precision": plan.precision,
        "channels_last": plan.options["channels_last"],
        "checkpointing": bool(getattr(plan.network, "checkpointing", False)),
        "memory": plan.memory.describe(),
        "content_shape": plan.input_shapes["content"], "style_shapes": plan.input_shapes["styles"],
        "output_shape": list(output_shape),
        "timings": timings,
    }
