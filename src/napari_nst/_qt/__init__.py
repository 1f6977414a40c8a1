"""Qt widgets of napari-nst: one module per dock widget, each a magicgui ``Container``.

napari imports a widget's module only when the user opens it, after its OpenGL canvas
exists; the modules import the engine (torch, torchvision) at import time, so the triton
guard must run before any of them (see ``napari_nst._torch_guard``).
"""

from .._torch_guard import guard_triton

guard_triton()
