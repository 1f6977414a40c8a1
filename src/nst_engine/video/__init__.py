"""Video and time-lapse style transfer with temporal coherence (Ruder, Dosovitskiy & Brox 2016).

:mod:`.flow` estimates optical flow between input frames and warps results along it,
:mod:`.occlusion` says where that warp is reliable, :mod:`.stylize` runs the frames.
"""
