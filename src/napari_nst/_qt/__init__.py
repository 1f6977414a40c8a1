"""Qt widgets of napari-nst: one module per dock widget, each a magicgui ``Container``."""
