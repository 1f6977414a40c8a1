"""``nst report``: the seeds' tables reproduced on bundled images.

:func:`color_report` measures every registered color transfer (seed 000's experiments);
:func:`nst_report` compares plain Gatys, dynamic weighting and the multi-scale loss (seed
002's table). Both write Markdown, CSV and JSON into a folder.
"""

from .color import color_report
from .nst import nst_report

__all__ = ["color_report", "nst_report"]
