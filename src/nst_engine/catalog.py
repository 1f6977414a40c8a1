"""Temporary: moved to :mod:`nst_engine.plugins` (removed once every import is updated)."""
from .plugins import (  # noqa: F401
    create_backbone, create_color_transfer, create_loss, create_optimizer, get_entry, get_host,
    get_plugins, list_backbones, list_color_transfers, list_losses, list_optimizers, set_host,
)
