"""Before a batch is submitted: does every worker have the plugins its jobs name?

A worker's environment may differ from the client's (another node, another install). Each
worker reports the registry entries it has, with their plugin and version; a job's entry
missing on a worker, or provided there by another version than here, stops the batch with
a message naming the worker and the plugin.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..errors import PluginError
from .jobs import Job

__all__ = ["required_entries", "worker_entries", "plugin_problems", "check_workers"]

_KIND = {"backbone": "backbones", "optimizer": "optimizers"}


def required_entries(jobs: Iterable[Job]) -> set[tuple[str, str]]:
    """``(kind, name)`` of every registry entry the jobs use."""
    needed: set[tuple[str, str]] = set()
    for job in jobs:
        if job.error is not None:
            continue
        options = job.options
        if job.task == "color":
            needed.add(("color_transfers", options.get("method", "histogram")))
            continue
        if job.task == "apply":
            needed.add(("models", options["model_name"]))
            mode = str(options.get("color") or "none")
            if ":" in mode:
                needed.add(("color_transfers", mode.split(":", 1)[1]))
            continue
        for option, kind in _KIND.items():
            needed.add((kind, options.get(option, "vgg19" if option == "backbone" else "lbfgs")))
        needed.update(("losses", name) for name in (options.get("losses") or {}))
        mode = str(options.get("color") or "none")
        if ":" in mode:
            needed.add(("color_transfers", mode.split(":", 1)[1]))
    return needed


def worker_entries() -> dict[str, dict[str, list[Any]]]:
    """Runs on a worker: every registry entry there, ``{kind: {name: [plugin, version]}}``."""
    from ..entries import KINDS
    from ..plugins import get_host

    host = get_host()
    return {kind: {name: [e.plugin, e.plugin_version] for name, e in host.entries(kind).items()} for kind in KINDS}


def plugin_problems(needed: set[tuple[str, str]], workers: dict[str, dict], here: dict[str, dict]) -> list[str]:
    """One line per worker lacking an entry, or having it from another plugin version than ``here``."""
    problems = []
    for address, entries in sorted(workers.items()):
        for kind, name in sorted(needed):
            found = entries.get(kind, {}).get(name)
            label = kind.rstrip("s").replace("_", " ")
            expected = here.get(kind, {}).get(name)
            if found is None:
                owner = f" (plugin {expected[0]} {expected[1]})" if expected else ""
                problems.append(f"worker {address} lacks {label} {name!r}{owner}")
            elif expected and list(found) != list(expected):
                problems.append(f"worker {address} has {label} {name!r} from plugin {found[0]} {found[1]}, "
                                f"this client {expected[0]} {expected[1]}")
    return problems


def check_workers(client: Any, jobs: Iterable[Job]) -> None:
    """Raise :class:`PluginError` naming each worker that lacks a plugin the jobs need."""
    needed = required_entries(jobs)
    if not needed:
        return
    problems = plugin_problems(needed, client.run(worker_entries), worker_entries())
    if problems:
        raise PluginError("; ".join(problems) + "; install the same plugins on every worker")
