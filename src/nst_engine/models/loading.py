"""Saving and safely loading feed-forward models: our own format, and the published layouts.

Every file is read with ``weights_only=True`` (a pickle that would run code is refused) and
checked against a SHA-256 when one is given (:mod:`nst_engine.backbones.weights`). A model
saved by :func:`save_model` is a dict ``{"format": "nst-model", "version": 1, "name",
"options", "state_dict", "provenance", "sha256"}`` whose ``sha256`` covers everything else, so
a file changed after saving is refused even when it still unpickles; it is rebuilt through
the registry (``create_model(name, **options)``), so a plugin's models save and load too.
Bare state dicts of pytorch/examples' ``TransformerNet`` and pytorch-AdaIN's decoder (with its
``vgg_normalised`` encoder) load into the built-ins.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import OptionError, WeightsUnavailableError
from ..files import atomic_write
from ..plugins import create_model
from .adain import AdaIN, encoder_layout
from .base import Model
from .johnson import examples_layout

__all__ = ["FORMAT", "FORMAT_VERSION", "save_model", "load_model", "load_encoder"]

FORMAT = "nst-model"
FORMAT_VERSION = 1
_HEADER = ("format", "version", "name", "options", "provenance")


def _digest(payload: dict[str, Any]) -> str:
    """SHA-256 of a saved model's header and every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256(json.dumps({k: payload.get(k) for k in _HEADER}, sort_keys=True).encode())
    for key in sorted(payload["state_dict"]):
        tensor = payload["state_dict"][key]
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"state_dict[{key!r}] is a {type(tensor).__name__}, not a tensor")
        digest.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_model(model: Model, path: str | os.PathLike, *, provenance: dict[str, Any] | None = None) -> Path:
    """Write ``model`` so that :func:`load_model` rebuilds it bit for bit; atomically.

    Parameters
    ----------
    model
        A registered model (its :attr:`~Model.name` and :attr:`~Model.options` rebuild it).
    path
        The file to write (conventionally ``.pth``); replaced whole or left as it was.
    provenance
        JSON-like facts about how it was made (training images, steps, losses), kept with it.

    Returns
    -------
    The path written.
    """
    if not isinstance(model, Model) or not model.name:
        raise OptionError(f"save_model needs an nst_engine.models.Model with a name, not {type(model).__name__}")
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": model.name,
        "options": model.options,
        "provenance": dict(provenance or {}),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
    try:
        json.dumps({k: payload[k] for k in ("options", "provenance")})
    except TypeError as exc:
        raise OptionError(f"save_model: options and provenance must be JSON-like (numbers, strings, lists, "
                          f"dicts): {exc}") from None
    payload["sha256"] = _digest(payload)
    path = Path(path).expanduser()
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return path


def load_model(
    path: str | os.PathLike,
    *,
    sha256: str | None = None,
    name: str | None = None,
    encoder: str | os.PathLike | None = None,
    encoder_sha256: str | None = None,
    **options: Any,
) -> Model:
    """Load a model saved by :func:`save_model`, or a published state dict, refusing unsafe files.

    Parameters
    ----------
    path
        A file from :func:`save_model`, a pytorch/examples ``TransformerNet`` ``.pth`` or a
        pytorch-AdaIN ``decoder.pth``.
    sha256
        Expected SHA-256 of ``path`` (or a prefix of at least 8 hex digits).
    name
        The registered model the file is for; inferred from the file when left out.
    encoder, encoder_sha256
        For a pytorch-AdaIN decoder: its ``vgg_normalised.pth`` and that file's SHA-256.
    **options
        Options overriding the file's (``style_index=1``, ``alpha=0.5``).
    """
    path = Path(path).expanduser()
    state, digest = _read(path, sha256)
    if state.get("format") == FORMAT:
        if encoder is not None:
            raise OptionError(f"{path} is a whole saved model, encoder included: leave out encoder=")
        model = _from_saved(state, path, name, options)
        layout = FORMAT
    else:
        name = name or _infer_name(state, path)
        if encoder is not None and name != "adain":
            raise OptionError(f"{path} is a {name!r} state dict; an encoder goes only with a pytorch-AdaIN decoder: "
                              "leave out encoder=")
        if name == "johnson":
            found, clean = examples_layout(state)
            model = _create(name, {**found, **options}, path)
            _load_into(model, clean, path, name)
            layout = "pytorch/examples fast_neural_style"
        elif name == "adain":
            if encoder is None:
                raise WeightsUnavailableError(
                    f"{path} is a pytorch-AdaIN decoder: pass its encoder too, "
                    "load_model(decoder, name='adain', encoder='vgg_normalised.pth')", option="encoder")
            model = _create(name, options, path)
            load_encoder(model, encoder, sha256=encoder_sha256)
            _load_into(model.decoder, state, path, "adain", part="decoder")
            layout = "pytorch-AdaIN"
        else:
            raise WeightsUnavailableError(f"{path} is a bare state dict, which only the built-in 'johnson' and "
                                          f"'adain' models read; model {name!r} loads files saved by save_model")
    model.provenance = {**model.provenance, "file": str(path), "sha256": digest, "layout": layout}
    if layout == FORMAT and state["provenance"]:
        model.provenance["saved"] = state["provenance"]
    return model


def load_encoder(model: AdaIN, path: str | os.PathLike, *, sha256: str | None = None) -> None:
    """Load pytorch-AdaIN's ``vgg_normalised.pth`` into ``model``'s encoder (layers past relu4_1 dropped)."""
    path = Path(path).expanduser()
    state, digest = _read(path, sha256)
    _load_into(model.encoder, encoder_layout(state), path, model.name, part="encoder")
    model.provenance["encoder"] = {"file": str(path), "sha256": digest, "layout": "pytorch-AdaIN vgg_normalised"}


def _read(path: Path, sha256: str | None) -> tuple[dict[str, Any], str]:
    """The file's state dict and SHA-256, read with ``weights_only=True`` and checked."""
    # Imported here: the nst_engine.backbones package imports torchvision (seconds), which
    # building a model does not need.
    from ..backbones.weights import load_state_dict

    return load_state_dict(path, sha256=sha256)


def _from_saved(state: dict[str, Any], path: Path, name: str | None, options: dict[str, Any]) -> Model:
    if state.get("version") != FORMAT_VERSION:
        raise WeightsUnavailableError(f"{path} is nst-model version {state.get('version')!r}; this nst_engine "
                                      f"reads version {FORMAT_VERSION}: upgrade napari-nst")
    missing = [k for k in (*_HEADER, "state_dict", "sha256") if k not in state]
    if missing or not isinstance(state["state_dict"], dict) or not isinstance(state["options"], dict):
        raise WeightsUnavailableError(f"{path} is an incomplete nst-model file (missing {', '.join(missing) or 'parts'}):"
                                      " save the model again")
    try:
        recorded = _digest(state)
    except TypeError as exc:
        recorded = f"unreadable ({exc})"
    if recorded != state["sha256"]:
        raise WeightsUnavailableError(f"{path} was changed after it was saved: its contents no longer match the "
                                      "SHA-256 it records. Use the original file, or save the model again")
    if name is not None and name != state["name"]:
        raise WeightsUnavailableError(f"{path} holds model {state['name']!r}, not {name!r}")
    model = _create(state["name"], {**state["options"], **options}, path)
    _load_into(model, state["state_dict"], path, state["name"])
    return model


def _create(name: str, options: dict[str, Any], path: Path) -> Model:
    model = create_model(name, **options)
    if not isinstance(model, Model):
        raise WeightsUnavailableError(f"model {name!r} for {path} built a {type(model).__name__}, "
                                      "not an nst_engine.models.Model")
    return model


def _load_into(module: torch.nn.Module, state: dict[str, Any], path: Path, name: str, *, part: str = "") -> None:
    """``load_state_dict`` that names the keys and shapes that do not fit, and the file."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(getattr(state[k], 'shape', ()))} (needs {tuple(expected[k].shape)})"
             for k in expected if k in state
             and (not isinstance(state[k], torch.Tensor) or state[k].shape != expected[k].shape)]
    if missing or unexpected or wrong:
        problems = [f"{label} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                    if keys]
        whose = f"the {part} of model {name!r}" if part else f"model {name!r}"
        raise WeightsUnavailableError(
            f"{path} does not fit {whose} ({'; '.join(problems)}): it was saved for another network or "
            "options, or changed since. Use the file made for this model, or pass name= and its options")
    module.load_state_dict(state, strict=True)


def _infer_name(state: dict[str, Any], path: Path) -> str:
    """Which built-in a bare state dict is for, from its keys."""
    if "conv1.conv2d.weight" in state and "res1.conv1.conv2d.weight" in state:
        return "johnson"
    first = state.get("0.weight")
    if isinstance(first, torch.Tensor) and tuple(first.shape) == (3, 3, 1, 1):
        raise WeightsUnavailableError(
            f"{path} is pytorch-AdaIN's encoder (vgg_normalised.pth), not a model: "
            "load_model(decoder.pth, name='adain', encoder=this file)")
    if isinstance(state.get("1.weight"), torch.Tensor) and tuple(state["1.weight"].shape) == (256, 512, 3, 3):
        return "adain"
    raise WeightsUnavailableError(
        f"cannot tell which model {path} is for: it is neither an nst-model file (save_model) nor a "
        "pytorch/examples TransformerNet or pytorch-AdaIN decoder state dict; pass name=")
