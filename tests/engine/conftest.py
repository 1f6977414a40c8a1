"""Engine fixtures: an isolated plugin host and helpers that install throwaway plugins."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from nst_engine import set_host
from nst_engine.plugins import PluginHost

#: Options that make a style-transfer run take well under a second on one core.
FAST = {"backbone": "random-multiscale", "backbone_options": {"channels": 16, "scales": 3},
        "steps": 6, "size": 48, "scales": 1}


@pytest.fixture
def fast() -> dict:
    """Keyword options for a style-transfer run that takes well under a second."""
    return dict(FAST)


@pytest.fixture
def fresh_host():
    """A host with built-ins only, installed as the process-wide host for one test."""
    host = PluginHost(entry_points=False)
    previous = set_host(host)
    yield host
    set_host(previous)


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch) -> Callable[..., Path]:
    """Write a module and a ``*.dist-info`` with an ``nst_engine`` entry point onto sys.path.

    The next :class:`PluginHost` created finds it exactly as it would find a pip-installed plugin.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    modules: list[str] = []

    def install(name: str, source: str, *, version: str = "1.0", module: str | None = None) -> Path:
        module = module or name.replace("-", "_")
        sys.modules.pop(module, None)
        modules.append(module)
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[nst_engine]\n{name} = {module}\n")
        importlib.invalidate_caches()
        return tmp_path

    yield install
    for module in modules:
        sys.modules.pop(module, None)
    set_host(None)
