"""The hooks a plugin implements. Each receives a ``register`` callable bound to that plugin.

``register(name, factory, *, description="")`` adds one entry. The factory's keyword-only,
annotated parameters with defaults are the entry's option schema: the CLI and the napari
forms are generated from it. See ``docs/hooks.md`` for each kind's calling convention.
"""

from __future__ import annotations

import pluggy

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("nst_engine")
hookimpl = pluggy.HookimplMarker("nst_engine")


@hookspec
def register_backbones(register):
    """Register feature extractors: ``factory(*, options) -> Backbone``. Since API 1.0."""


@hookspec
def register_losses(register):
    """Register loss terms: ``factory(*, options) -> Loss``. Since API 1.0."""


@hookspec
def register_optimizers(register):
    """Register optimizers: ``factory(params, *, options) -> torch.optim.Optimizer``. Since API 1.0."""


@hookspec
def register_color_transfers(register):
    """Register color transfers: ``fn(source, reference, *, options) -> image``. Since API 1.0."""


@hookspec
def register_models(register):
    """Register feed-forward stylisation networks: ``factory(*, options) -> Model``. Since API 1.1."""


@hookspec
def register_commands(cli):
    """Add subcommands to the ``nst`` click group ``cli``. Since API 1.0."""
