"""The engine never needs napari or Qt: it imports and runs with them made unimportable."""

import subprocess
import sys
import textwrap

BLOCK_GUI = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoGui(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6",
                                      "magicgui", "superqt", "vispy"}:
                raise ImportError(f"{name} is blocked: the engine must stay headless")

    sys.meta_path.insert(0, NoGui())
    """
)


def test_engine_imports_and_runs_without_any_gui_package(tmp_path):
    script = BLOCK_GUI + textwrap.dedent(
        f"""
        import nst_engine, nst_engine.pipeline, nst_engine.cli, nst_engine.color, nst_engine.metrics
        from nst_engine.cli import main
        assert not any(p["errors"] for p in nst_engine.get_plugins()), nst_engine.get_plugins()
        try:
            main(["stylize", "--sample", "-o", r"{tmp_path / 'out.png'}", "--backbone", "random-multiscale",
                  "-p", "backbone.channels=8", "--steps", "2", "--size", "48", "--scales", "1", "-q"])
        except SystemExit as done:
            assert done.code == 0, done.code
        assert not [m for m in sys.modules if m.split(".")[0] in {{"napari", "qtpy", "PyQt6", "magicgui"}}]
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out.png").is_file()
