"""nst_engine: neural style transfer and color transfer, headless and pluggable.

Scripting entry points: :func:`stylize` / :func:`iter_stylize`, the registry functions
(``list_*``, ``create_*``, :func:`get_plugins`) and :data:`hookimpl` for plugin authors.
"""

__version__ = "0.1.0"

from .errors import NstError
from .hookspecs import hookimpl
from .plugins import (
    PLUGIN_API_VERSION,
    create_backbone,
    create_color_transfer,
    create_loss,
    create_model,
    create_optimizer,
    get_entry,
    get_host,
    get_plugins,
    list_backbones,
    list_color_transfers,
    list_losses,
    list_models,
    list_optimizers,
    set_host,
)

#: Entry points that import torch, loaded on first use so ``import nst_engine`` stays light.
_LAZY = {
    "stylize": "pipeline",
    "iter_stylize": "pipeline",
    "color_transfer": "transfers",
    "evaluate": "evaluation",
    "batch": "batching.runner",
    "run_batch": "batching.runner",
    "stylize_video": "video.stylize",
    "iter_stylize_video": "video.stylize",
    "load_model": "models.loading",
    "save_model": "models.loading",
    "train": "training.loop",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'nst_engine' has no attribute {name!r}")


__all__ = [
    "stylize",
    "iter_stylize",
    "color_transfer",
    "evaluate",
    "batch",
    "run_batch",
    "stylize_video",
    "iter_stylize_video",
    "load_model",
    "save_model",
    "train",
    "__version__",
    "PLUGIN_API_VERSION",
    "NstError",
    "hookimpl",
    "get_host",
    "set_host",
    "get_plugins",
    "get_entry",
    "list_backbones",
    "list_losses",
    "list_optimizers",
    "list_color_transfers",
    "list_models",
    "create_backbone",
    "create_loss",
    "create_optimizer",
    "create_color_transfer",
    "create_model",
]
