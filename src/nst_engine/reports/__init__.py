"""``nst report``: the seeds' tables reproduced on bundled images.

:func:`color_report` measures every registered color transfer (seed 000's experiments);
:func:`nst_report` compares plain Gatys, dynamic weighting and the multi-scale loss (seed
002's table); :func:`video_report` compares the coherence modes of video style transfer
on a synthetic pan. Each writes Markdown, CSV and JSON into a folder.
"""

from .color import color_report
from .nst import nst_report
from .video import video_report

__all__ = ["color_report", "nst_report", "video_report"]
