"""Finding, verifying and safely loading pretrained weights.

Files are checked by SHA-256 before they are read, and read with ``weights_only=True`` so a
pickle that would run code is refused. torchvision's file names carry the first hex digits of
the file's SHA-256 (``vgg19-dcbb9e9d.pth``); that prefix is checked when no full hash is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import re
import urllib.error
from pathlib import Path
from typing import Any, Iterator

import torch

from ..errors import WeightsUnavailableError

__all__ = ["sha256_of", "load_state_dict", "cached_or_downloaded", "random_weights", "OFFLINE_HINT", "RANDOM_SEED"]

OFFLINE_HINT = "The weight-free backbone 'random-multiscale' works offline (--backbone random-multiscale)."

#: The seed of ``weights="random"``: every run, in every process, gets the same untrained network.
RANDOM_SEED = 0

_HUB_HASH = re.compile(r"-([a-f0-9]{6,64})\.")


def sha256_of(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def expected_prefix(path: Path) -> str | None:
    """The hash prefix a torch-hub style file name promises, if any."""
    match = _HUB_HASH.search(Path(path).name)
    return match.group(1) if match else None


def load_state_dict(path: str | Path, *, sha256: str | None = None) -> tuple[dict[str, Any], str]:
    """Verify and load a state dict; return it with the file's full SHA-256.

    ``sha256`` may be the full digest or a prefix of at least 8 hex digits; without it the
    prefix in a torch-hub style file name is checked.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file {path} does not exist. {OFFLINE_HINT}")
    digest = sha256_of(path)
    expected = (sha256 or expected_prefix(path) or "").lower()
    if sha256 is not None and len(expected) < 8:
        raise WeightsUnavailableError("sha256 must have at least 8 hex digits")
    if expected and not digest.startswith(expected):
        raise WeightsUnavailableError(
            f"weights file {path} has SHA-256 {digest}, expected {expected}...: "
            "the file is corrupt or not the one named; download it again"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsUnavailableError(
            f"refused to load {path}: it holds Python objects beyond tensors, which could run "
            f"code ({str(exc).splitlines()[0]}). Save a plain state dict instead."
        ) from None
    except Exception as exc:
        raise WeightsUnavailableError(f"cannot read weights file {path}: {exc}") from None
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state, digest


def cached_or_downloaded(url: str, *, what: str, download: bool = True) -> Path:
    """The torch hub cache path of ``url``, downloading it there first if needed and allowed."""
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if target.is_file():
        return target
    reason = "downloading is turned off (download=false)"
    if download:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(target), hash_prefix=expected_prefix(target), progress=False)
            return target
        except (urllib.error.URLError, OSError, RuntimeError) as exc:
            reason = f"the download failed ({exc})"
    raise WeightsUnavailableError(
        f"{what} weights are not in the torch hub cache and {reason}. Expected file: {target}. "
        f"Fetch {url} on a connected machine and copy it there, or pass the file with "
        f"weights=PATH (-p backbone.weights=PATH). {OFFLINE_HINT}"
    )


@contextlib.contextmanager
def random_weights(seed: int = RANDOM_SEED) -> Iterator[None]:
    """Build modules inside this to draw their initial weights from ``seed``, not the global RNG.

    Two runs with untrained weights are then comparable (the same network, so a difference
    between them is the options'), and the caller's random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
