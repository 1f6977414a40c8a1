"""The ``nst`` command end to end: outputs, provenance, exit codes, messages."""

import json

import pytest
from cli_helpers import run
import torch

from nst_engine.files import read_image, read_provenance, write_image

FAST_ARGS = ["--backbone", "random-multiscale", "-p", "backbone.channels=16", "--steps", "3",
             "--size", "48", "--scales", "1", "-q"]




@pytest.fixture
def image_files(tmp_path, content_image, style_image):
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    write_image(content, content_image / 255)
    write_image(style, style_image / 255)
    return content, style


def test_stylize_files_writes_the_image_and_its_provenance(image_files, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, err = run(["stylize", *map(str, image_files), "-o", str(out), *FAST_ARGS, "--seed", "5",
                        "--loss", "tv=0", "-p", "gram.layers=scale1,scale2"], capsys)
    assert code == 0, err
    assert read_image(out).shape == (36, 48, 3)
    provenance = read_provenance(out)
    assert provenance["seed"] == 5 and provenance["content"] == str(image_files[0])
    assert [t["name"] for t in provenance["losses"]] == ["content", "gram"]
    assert provenance["losses"][1]["layers"] == ["scale1", "scale2"]
    assert provenance["backbone"]["options"] == {"channels": 16}


def test_stylize_sample(tmp_path, capsys):
    out = tmp_path / "sample.tif"
    code, _, err = run(["stylize", "--sample", "-o", str(out), *FAST_ARGS], capsys)
    assert code == 0, err
    assert read_provenance(out)["style"] == ["sample:immunohistochemistry"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["stylize", "--sample"], "Missing option '-o'"),
        (["stylize", "a.png", "-o", "x.png"], "give both CONTENT and STYLE"),
        (["stylize", "--sample", "-o", "x.png", "-p", "pooling=avg"], "GROUP.OPTION"),
        (["stylize", "--sample", "-o", "x.png", "--loss", "gram"], "NAME=WEIGHT"),
        (["stylize", "--sample", "-o", "x.png", "--steps", "-3"], "--steps"),
        (["colorize"], "No such command"),
    ],
)
def test_usage_errors_exit_2(args, message, capsys):
    code, _, err = run(args, capsys)
    assert code == 2 and message in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--backbone", "vgg91"], "error: no backbone named 'vgg91'"),
        (["-p", "backbone.channels=many"], "error: backbone 'random-multiscale': option 'channels' takes an int"),
        (["-p", "gram.layers=relu4_1"], "error: RandomMultiscale has no layer 'relu4_1'"),
    ],
)
def test_errors_exit_1_with_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "out.png"
    code, _, err = run(["stylize", "--sample", "-o", str(out), *FAST_ARGS, *extra], capsys)
    assert code == 1 and err.strip().startswith(message) and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_bad_option_names_its_entry_and_the_flag_that_sets_it(tmp_path, capsys):
    code, _, err = run(["stylize", "--sample", "-o", str(tmp_path / "o.png"), *FAST_ARGS, "-p", "optimizer.lr=-1"], capsys)
    assert code == 1
    assert err.strip() == (
        "error: optimizer 'lbfgs': option 'lr' must be >= 1e-06; got -1.0 (set with -p optimizer.lr=VALUE)"
    )


def test_missing_vgg_weights_explain_the_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    args = ["stylize", "--sample", "-o", str(tmp_path / "o.png"), "-q", "-p", "backbone.download=false"]
    code, _, err = run(args, capsys)
    assert code == 1 and "Traceback" not in err
    assert "vgg19-dcbb9e9d.pth" in err and "random-multiscale" in err
    code, _, err = run(["--debug", *args], capsys)
    assert code == 1 and "Traceback" in err


def test_an_unwritable_output_fails_and_leaves_nothing(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(["stylize", "--sample", "-o", str(blocker / "out.png"), *FAST_ARGS], capsys)
    assert code == 1 and "cannot write" in err
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_plugins_prints_json(capsys):
    code, out, _ = run(["plugins", "--options"], capsys)
    listing = json.loads(out)
    assert code == 0
    backbones = next(p for p in listing if p["name"] == "nst_engine.default_plugins.backbones")
    assert set(backbones) >= {"name", "version", "hooks", "provides", "errors", "options"}
    assert "vgg19" in backbones["provides"]["backbones"]
    assert {"name": "pooling", "type": "str", "default": "max", "choices": ["max", "avg", "l2"]} in backbones["options"]["backbones"]["vgg19"]


@pytest.mark.parametrize("command", [[], ["stylize"], ["plugins"]])
def test_every_command_has_help(command, capsys):
    code, out, _ = run([*command, "--help"], capsys)
    assert code == 0 and "Usage: nst" in out


COMMAND_PLUGIN = """
import click
from nst_engine import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("name")
    def hello(name):
        '''Say hello.'''
        click.echo(f"hello {name}")
"""


def test_a_plugin_adds_a_subcommand(install_plugin, capsys):
    from nst_engine import set_host

    install_plugin("nst-hello", COMMAND_PLUGIN)
    set_host(None)
    code, out, _ = run(["hello", "world"], capsys)
    assert code == 0 and out == "hello world\n"


def test_a_plugin_whose_command_hook_raises_is_reported(install_plugin, capsys):
    from nst_engine import set_host

    install_plugin("nst-hello", "from nst_engine import hookimpl\n@hookimpl\ndef register_commands(cli):\n    raise ValueError('no')\n")
    set_host(None)
    code, out, _ = run(["plugins"], capsys)
    assert code == 0
    record = next(p for p in json.loads(out) if p["name"] == "nst-hello")
    assert record["errors"] == ["register_commands raised ValueError: no"]


def test_color_and_evaluate_commands(image_files, tmp_path, capsys):
    content, style = image_files
    mask = tmp_path / "mask.png"
    import numpy as np

    half = np.zeros((48, 64), np.float32)
    half[:, :32] = 1
    write_image(mask, half)
    out = tmp_path / "recoloured.png"
    code, _, err = run(["color", str(content), str(style), "-o", str(out), "-m", "idt", "-p", "iterations=3",
                        "--source-mask", str(mask)], capsys)
    assert code == 0, err
    provenance = read_provenance(out)
    assert provenance["method"] == "idt" and provenance["options"]["iterations"] == 3
    code, out_text, _ = run(["evaluate", str(content), str(out), "--json"], capsys)
    figures = json.loads(out_text)
    assert code == 0 and set(figures["kl"]) == {"R", "G", "B"} and 0 < figures["ssim"] < 1
    code, out_text, _ = run(["evaluate", str(content), str(out), "--style", str(style),
                             "--backbone", "random-multiscale", "-p", "backbone.channels=8"], capsys)
    assert code == 0 and "KL(original||processed)" in out_text and "Gram distance" in out_text
    code, _, err = run(["color", str(content), str(style), "-o", str(out), "-m", "nope"], capsys)
    assert code == 1 and "no color transfer named 'nope'" in err


def test_several_styles_with_a_label_mask_and_dynamic_weights(image_files, tmp_path, capsys):
    import numpy as np

    content, style = image_files
    labels = np.ones((48, 64), np.uint8)
    labels[:, 32:] = 2
    mask = tmp_path / "labels.png"
    import imageio.v3 as iio

    iio.imwrite(mask, labels)
    out = tmp_path / "out.png"
    code, _, err = run(["stylize", str(content), str(style), str(content), "-o", str(out), *FAST_ARGS,
                        "--mask", str(mask), "--dynamic-weights", "--loss", "gram=1"], capsys)
    assert code == 0, err
    provenance = read_provenance(out)
    assert provenance["styles"] == 2 and provenance["mask"] and provenance["dynamic_weights"]
    code, _, err = run(["stylize", str(content), str(style), "-o", str(out), *FAST_ARGS,
                        "--style-weight", "1", "--style-weight", "2"], capsys)
    assert code == 1 and "style_weights needs 1" in err
