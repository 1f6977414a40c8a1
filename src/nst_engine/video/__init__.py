"""Video and time-lapse style transfer with temporal coherence.

Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR 2016: each frame is
stylised starting from the previous result warped along the optical flow, and a temporal
loss, weighted by per-pixel reliabilities from a forward-backward consistency check, keeps
consecutive results alike where the motion is trusted. ``flow`` estimates and applies the
optical flow, ``occlusion`` computes the reliabilities, ``synthetic`` builds clips with known
motion for tests and benchmarks. See ``docs/video.md``.
"""
