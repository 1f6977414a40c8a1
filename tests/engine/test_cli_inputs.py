"""``nst`` refuses bad inputs and outputs before any work, and leaves nothing partial behind."""

import signal
import time

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from cli_helpers import run, start_long_run
from PIL import Image

from nst_engine.cli import build_cli
from nst_engine.cli.option_flags import flag_for_option
from nst_engine.errors import OptionError
from nst_engine.files import read_provenance, write_image

FAST_ARGS = ["--backbone", "random-multiscale", "-p", "backbone.channels=16", "--steps", "2",
             "--size", "32", "--scales", "1", "-q"]


@pytest.fixture
def files(tmp_path):
    rows, cols = np.mgrid[0:24, 0:32]
    picture = np.stack([rows / 23, cols / 31, (rows + cols) / 53], axis=-1)
    content, style, rgba = tmp_path / "content.png", tmp_path / "style.png", tmp_path / "rgba.png"
    write_image(content, picture)
    write_image(style, picture[::-1])
    write_image(rgba, np.dstack([picture, np.ones((24, 32))]))
    return content, style, rgba


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the optimisation starts."""

    def refuse(*args, **kwargs):
        raise AssertionError("the run started before the inputs were checked")

    monkeypatch.setattr("nst_engine.pipeline.iter_stylize", refuse)


@pytest.mark.parametrize(
    "output, use_rgba, message",
    [
        ("out.bmp", False, "'.bmp' is not an image type"),
        ("missing/out.png", False, "does not exist; create the folder"),
        ("out.jpg", True, "JPEG has no alpha channel; write out.png"),
        ("side.png", False, "side.png.json is a folder"),
    ],
)
def test_a_bad_output_is_refused_before_any_work(files, tmp_path, capsys, no_work, output, use_rgba, message):
    (tmp_path / "side.png.json").mkdir()
    content, style, rgba = files
    code, _, err = run(["stylize", str(rgba if use_rgba else content), str(style), "-o", str(tmp_path / output),
                        *FAST_ARGS], capsys)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_a_mask_of_another_size_is_refused_before_any_work(files, tmp_path, capsys, no_work):
    content, style, _ = files
    iio.imwrite(tmp_path / "m.png", np.ones((24, 30), np.uint8))
    code, _, err = run(["stylize", str(content), str(style), "-o", str(tmp_path / "o.png"), *FAST_ARGS,
                        "--mask", str(tmp_path / "m.png")], capsys)
    assert code == 1 and "is 30×24 but the image it controls is 32×24" in err


def test_a_palette_label_image_drives_two_styles_and_extra_labels_are_refused(files, tmp_path, capsys):
    content, style, _ = files
    labels = np.zeros((24, 32), np.uint8)
    labels[:, :16], labels[:, 16:] = 1, 2

    def save(plane):
        palette = Image.fromarray(plane, mode="P")
        palette.putpalette([0, 0, 0, 200, 30, 30, 30, 30, 200, 9, 9, 9] + [0] * 756)
        palette.save(tmp_path / "labels.png")

    save(labels)
    out = tmp_path / "o.png"
    args = ["stylize", str(content), str(style), str(content), "-o", str(out), *FAST_ARGS, "--mask", str(tmp_path / "labels.png")]
    code, _, err = run(args, capsys)
    assert code == 0, err
    assert read_provenance(out)["styles"] == 2
    labels[0, 0] = 3
    save(labels)
    code, _, err = run(args, capsys)
    assert code == 1 and "labels 3 but there are 2 style images" in err


def test_an_int32_tiff_reads_like_its_8_bit_png(files, tmp_path, capsys):
    content = files[0]
    tifffile.imwrite(tmp_path / "wide.tif", iio.imread(content).astype(np.int32), photometric="rgb")
    code, out, err = run(["evaluate", str(content), str(tmp_path / "wide.tif"), "--json"], capsys)
    assert code == 0, err
    assert '"ssim": 1.0' in out


def test_an_empty_input_file_gets_one_line(files, tmp_path, capsys):
    (tmp_path / "empty.png").write_bytes(b"")
    code, _, err = run(["stylize", str(tmp_path / "empty.png"), str(files[1]), "-o", str(tmp_path / "o.png"), *FAST_ARGS], capsys)
    assert code == 1 and err.strip() == f"error: cannot read {tmp_path / 'empty.png'}: expected a PNG, JPEG or TIFF image (it is empty)"


@pytest.mark.parametrize(
    "command, option, flag",
    [
        ("stylize", "optimizer lr", "-p optimizer.lr=VALUE"),
        ("stylize", "backbone_options channels", "-p backbone.channels=VALUE"),
        ("stylize", "loss_options gram", "-p gram.KEY=VALUE"),
        ("stylize", "losses gram", "--loss gram=WEIGHT"),
        ("stylize", "steps", "--steps"),
        ("stylize", "style_weights", "--style-weight"),
        ("stylize", "cancel", None),
        ("color", "color iterations", "-p iterations=VALUE"),
        ("evaluate", "steps", None),
    ],
)
def test_engine_option_names_map_to_the_commands_flags(command, option, flag):
    assert flag_for_option(option, build_cli().commands[command]) == flag


def test_an_option_error_names_the_flag(files, tmp_path, capsys, monkeypatch):
    def diverge(*args, **kwargs):
        raise OptionError("loss term 'gram' became nan at step 1: lower the optimizer lr", option="optimizer lr")

    monkeypatch.setattr("nst_engine.pipeline.iter_stylize", diverge)
    code, _, err = run(["stylize", *map(str, files[:2]), "-o", str(tmp_path / "o.png"), *FAST_ARGS], capsys)
    assert code == 1 and err.strip().endswith("lower the optimizer lr (set with -p optimizer.lr=VALUE)")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_run_exits_with_its_code_and_leaves_nothing(tmp_path, signum, code):
    process = start_long_run(tmp_path / "out.png")
    time.sleep(0.3)
    process.send_signal(signum)
    assert process.wait(timeout=60) == code
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command, extra", [("stylize", FAST_ARGS), ("color", ["--method", "reinhard"])])
@pytest.mark.parametrize("which", ["content", "style"])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(files, tmp_path, capsys, command, extra, which):
    content, style, _ = files
    target = content if which == "content" else style
    before = target.read_bytes()
    other_spelling = tmp_path / "sub" / ".." / target.name  # the same file, named another way
    (tmp_path / "sub").mkdir()
    code, _, err = run([command, str(content), str(style), "-o", str(other_spelling), *extra], capsys)
    assert code == 1 and f"it is the input {target}" in err and "name another output" in err
    assert target.read_bytes() == before
