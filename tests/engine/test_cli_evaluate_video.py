"""``nst evaluate`` on clips: the temporal error beside per-frame means; flicker scores higher; mismatches named."""

from __future__ import annotations

import json

import imageio.v2 as iio
import numpy as np
import pytest
import tifffile

from nst_engine.cli.evaluate import _FLOWS
from nst_engine.evaluation import evaluate_frames
from nst_engine.files import write_image
from nst_engine.images import to_uint
from nst_engine.video.flow import FLOW_METHODS
from nst_engine.video.synthetic import pan

from cli_helpers import run

FRAMES = 5


@pytest.fixture
def clips(tmp_path):
    """The pan as a frame folder, a TIFF stack of it (coherent) and one with fresh noise per frame (flickering)."""
    clip = pan(frames=FRAMES, size=40, speed=(2, 1))
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(clip.frames):
        write_image(folder / f"frame_{index}.png", frame)
    noise = np.random.default_rng(0).normal(0, 0.08, clip.frames.shape)
    paths = {"folder": folder, "coherent": tmp_path / "coherent.tif", "flicker": tmp_path / "flicker.tif"}
    tifffile.imwrite(paths["coherent"], to_uint(clip.frames), photometric="rgb")
    tifffile.imwrite(paths["flicker"], to_uint(np.clip(clip.frames + noise, 0, 1)), photometric="rgb")
    return paths


def figures(capsys, *args):
    code, out, err = run(["evaluate", *map(str, args), "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_a_frame_folder_against_a_tiff_stack_gets_the_temporal_error_and_per_frame_means(clips, capsys):
    result = figures(capsys, clips["folder"], clips["coherent"])
    assert result["frames"] == FRAMES and result["flow"] == "dis"
    assert [r["frame"] for r in result["per_frame"]] == list(range(FRAMES))
    assert result["per_frame"][0]["temporal_error"] is None
    pairs = [r["temporal_error"] for r in result["per_frame"][1:]]
    assert result["temporal_error"] == pytest.approx(np.mean(pairs))
    assert result["ssim"] > 0.99 and set(result["kl"]) == {"R", "G", "B"}


def test_a_flickering_stack_scores_higher_than_a_coherent_one_with_every_flow(clips, capsys):
    coherent = figures(capsys, clips["coherent"], clips["coherent"])["temporal_error"]
    for flow in ("dis", "ilk"):
        flicker = figures(capsys, clips["coherent"], clips["flicker"], "--flow", flow)
        assert flicker["flow"] == flow and flicker["temporal_error"] > 10 * coherent


def test_the_text_table_names_the_frames_and_the_flow(clips, capsys):
    code, out, err = run(["evaluate", str(clips["folder"]), str(clips["flicker"]), "--flow", "ilk"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{FRAMES} frames") and lines[1].startswith("temporal error (ilk)")
    assert lines[2].startswith("KL(original||processed)") and lines[3].startswith("SSIM (luminance)")


def test_a_video_file_is_a_clip_too(clips, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    writer = iio.get_writer(video, format="FFMPEG", fps=12, quality=9, macro_block_size=1, ffmpeg_log_level="error")
    for frame in tifffile.imread(clips["coherent"]):
        writer.append_data(frame)
    writer.close()
    assert figures(capsys, video, clips["folder"])["frames"] == FRAMES


def test_frame_counts_that_differ_are_named_in_one_line(clips, tmp_path, capsys):
    short = tmp_path / "short.tif"
    tifffile.imwrite(short, tifffile.imread(clips["coherent"])[:3], photometric="rgb")
    code, _, err = run(["evaluate", str(clips["folder"]), str(short)], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"has {FRAMES} frames" in err and "short.tif has 3" in err


def test_a_clip_against_a_single_image_is_refused(clips, tmp_path, capsys):
    single = tmp_path / "single.png"
    write_image(single, tifffile.imread(clips["coherent"])[0])
    code, _, err = run(["evaluate", str(clips["folder"]), str(single)], capsys)
    assert code == 1 and f"a clip of {FRAMES} frames" in err and "single.png is a single image" in err


def test_flow_on_two_single_images_is_refused(tmp_path, capsys):
    image = tmp_path / "image.png"
    write_image(image, np.zeros((16, 16, 3), np.float32))
    code, _, err = run(["evaluate", str(image), str(image), "--flow", "dis"], capsys)
    assert code == 1 and "--flow measures clips" in err and "drop --flow" in err


def test_the_flow_choices_are_the_engines():
    assert _FLOWS == list(FLOW_METHODS)


def test_evaluate_frames_adds_each_frames_gram_distance_with_a_style():
    clip = pan(frames=3, size=32, speed=(2, 0))
    result = evaluate_frames(clip.frames, clip.frames[:, ::-1].copy(), style=clip.frames[0], backbone="random-multiscale",
                             backbone_options={"channels": 8})
    distances = [r["gram_distance"] for r in result["per_frame"]]
    assert len(distances) == 3 and result["gram_distance"] == pytest.approx(np.mean(distances))
    assert result["gram_backbone"] == "random-multiscale"
