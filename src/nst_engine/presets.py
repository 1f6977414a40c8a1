"""Quality presets: how many steps over how many scales, by what a run is for.

Shared by the CLI (``--quality``) and the napari panel. Importing this module imports nothing
heavy: ``nst --help`` lists the presets. What each costs is measured in docs/performance.md
("Quality presets").
"""

from __future__ import annotations

__all__ = ["QUALITY_PRESETS", "DEFAULT_QUALITY", "steps_and_scales"]

#: ``steps`` is the most iterations over all scales; with ``until="converged"`` (the default)
#: a scale ends as soon as its loss stops falling, so a run usually takes fewer.
QUALITY_PRESETS: dict[str, dict[str, int]] = {
    "draft": {"steps": 100, "scales": 3},
    "standard": {"steps": 300, "scales": 3},
    "fine": {"steps": 600, "scales": 3},
}
DEFAULT_QUALITY = "standard"


def steps_and_scales(quality: str, steps: int | None = None, scales: int | None = None) -> tuple[int, int]:
    """The preset's ``steps`` and ``scales``, each overridden where given."""
    preset = QUALITY_PRESETS[quality]
    return (preset["steps"] if steps is None else steps), (preset["scales"] if scales is None else scales)
