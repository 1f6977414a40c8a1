"""``nst train``: a model that load_model reads back with its provenance, resuming, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import run

import nst_engine
from nst_engine.files import write_image

#: Flags that make a training step take a fraction of a second on one core.
FAST = ["--backbone", "random-multiscale", "-p", "backbone.channels=16", "-p", "backbone.scales=3",
        "--size", "32", "--batch-size", "2"]


@pytest.fixture
def inputs(tmp_path, content_image, style_image):
    """A style file and a folder of three frames."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        write_image(frames / f"frame_{i}.png", np.clip(content_image / 255 * (0.8 + 0.1 * i), 0, 1))
    write_image(tmp_path / "style.png", style_image / 255)
    return tmp_path / "style.png", frames


def test_nst_train_writes_a_model_load_model_reads_with_provenance_and_resumes(inputs, tmp_path, capsys):
    style, frames = inputs
    model = tmp_path / "model.pt"
    code, _, err = run(["train", str(style), "--images", str(frames), "-o", str(model), "--steps", "3",
                        "--validation", str(frames / "frame_0.png"), *FAST], capsys)
    assert code == 0, err
    assert "step 3/3  content" in err and "it/s" in err and "img/s" in err
    assert f"wrote {model} (3 steps" in err
    assert sorted(p.name for p in (tmp_path / "model.pt.previews").iterdir()) == ["step000003-0.png"]
    loaded = nst_engine.load_model(model)
    saved = loaded.provenance["saved"]
    assert saved["steps_run"] == 3 and saved["styles"][0]["file"] == str(style)
    assert saved["images"]["count"] == 3 and saved["images"]["source"] == str(frames)
    assert saved["options"]["batch_size"] == 2 and set(saved["final_losses"]) == {"content", "gram", "tv", "total"}
    assert loaded.apply(np.zeros((20, 24, 3), np.float32)).shape == (20, 24, 3)

    code, _, err = run(["train", str(style), "--images", str(frames), "-o", str(model), "--steps", "4", "-q",
                        *FAST], capsys)
    assert code == 0 and err == ""
    assert nst_engine.load_model(model).provenance["saved"]["resumed_from"] == 3


@pytest.mark.parametrize("what", ["empty folder", "unreadable video"])
def test_bad_training_images_are_one_line_naming_the_path_and_the_fix(inputs, tmp_path, capsys, what):
    style, _ = inputs
    if what == "empty folder":
        source = tmp_path / "empty"
        source.mkdir()
        expected = f"error: no training images in {source}: it holds no PNG, JPEG or TIFF files; give images as"
    else:
        source = tmp_path / "clip.mp4"
        source.write_bytes(b"not a video")
        expected = f"error: cannot decode {source}: "
    code, _, err = run(["train", str(style), "--images", str(source), "-o", str(tmp_path / "m.pt"), "-q", *FAST],
                       capsys)
    assert code == 1
    assert err.startswith(expected) and err.count("\n") == 1
    assert not (tmp_path / "m.pt").exists()
