"""Tiled optimisation with exact global statistics: images larger than memory, same result.

:mod:`~nst_engine.tiling.layout` lays out aligned tiles with halos,
:mod:`~nst_engine.tiling.objective` evaluates an objective over them with the untiled value
and gradient, :mod:`~nst_engine.tiling.choice` decides which scales tile.
"""
