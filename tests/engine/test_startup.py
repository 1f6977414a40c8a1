"""Start-up: listing commands, color transfer and evaluation without a style never import torch."""

import subprocess
import sys

import pytest

from nst_engine.files import write_image

#: Runs the CLI's main in a fresh interpreter, then says which heavy modules it imported.
_SCRIPT = """
import sys
from nst_engine.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print("exit", code, "torch" in sys.modules, "torchvision" in sys.modules)
"""


def _heavy_imports(*args: str) -> str:
    done = subprocess.run([sys.executable, "-c", _SCRIPT, *args], capture_output=True, text=True, timeout=300)
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def two_images(tmp_path, content_image):
    """The content and a darker copy: nst evaluate compares images of one size."""
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    write_image(a, content_image / 255)
    write_image(b, content_image / 255 * 0.8)
    return str(a), str(b)


def test_help_does_not_import_torch():
    assert _heavy_imports("--help") == "exit 0 False False"


def test_color_does_not_import_torch(two_images, tmp_path):
    out = str(tmp_path / "out.png")
    assert _heavy_imports("color", *two_images, "-o", out, "--method", "reinhard") == "exit 0 False False"


def test_evaluate_without_a_style_does_not_import_torch(two_images):
    assert _heavy_imports("evaluate", *two_images) == "exit 0 False False"


def test_stylize_says_what_it_will_do_before_it_imports_torch(tmp_path):
    script = _SCRIPT.replace("from nst_engine.cli import main", """from nst_engine.cli import main
import click
def echo(message=None, **kwargs):
    print("first line", "torch" in sys.modules, message)
    sys.exit(0)
click.echo = echo""")
    done = subprocess.run([sys.executable, "-c", script, "stylize", "--sample", "-o", str(tmp_path / "o.png"),
                           "--steps", "1"], capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("first line False stylize chelsea (sample) with immunohistochemistry (sample)")
    assert "the step ≈" in done.stdout  # the estimate, from the calibration on a fresh cache
