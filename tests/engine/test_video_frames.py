"""Clips in and out: video files, frame folders and TIFF stacks; whole frames, resumable, with provenance."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from nst_engine.errors import ImageError
from nst_engine.video.frame_reading import open_frames
from nst_engine.video.frame_writing import FrameStore, check_video_output, read_video_provenance, video_output_format

FPS = 12.0


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """Six 48×64 RGB frames of a scene panning right, exact in 8 bits (so in 16 too)."""
    base = data.astronaut()[::8, ::8][:48, :64] / 255.0
    return [np.roll(base, 3 * i, axis=1).astype(np.float32) for i in range(6)]


def _write(path, clip, **store_options):
    store = FrameStore(path, **store_options)
    for index, frame in enumerate(clip):
        store.put(index, frame, f"key-{index}")
    return store.finish({"run": "test"}, fps=FPS)


@pytest.mark.parametrize("name", ["clip.mp4", "frames", "clip.tif"])
def test_a_clip_written_reads_back_with_its_frames_rate_and_provenance(tmp_path, clip, name):
    out = _write(tmp_path / name, clip)
    with open_frames(out) as frames:
        got = np.stack(list(frames))
        assert len(frames) == 6 and frames.shape == (48, 64) and frames.fps == FPS
    assert got.shape == (6, 48, 64, 3) and got.dtype == np.float32
    error = np.abs(got - np.stack(clip))
    assert error.mean() < 0.05 if name.endswith(".mp4") else error.max() < 1 / 65535
    record = read_video_provenance(out)
    assert record["run"] == "test" and record["frame_count"] == 6 and record["fps"] == FPS
    assert not any(entry.name.endswith(".frames") for entry in tmp_path.iterdir())  # staging removed


def test_a_video_keeps_its_provenance_in_the_container_too(tmp_path, clip):
    out = _write(tmp_path / "clip.mp4", clip)
    os.unlink(f"{out}.json")
    assert read_video_provenance(out)["run"] == "test"


def test_frames_are_random_access_and_a_frame_folder_is_read_in_natural_order(tmp_path, clip):
    out = _write(tmp_path / "clip.mp4", clip)
    with open_frames(out) as frames:
        assert np.abs(frames[4] - clip[4]).mean() < 0.05
        assert np.abs(frames[1] - clip[1]).mean() < 0.05  # back: the decoder is reopened
        assert np.abs(frames[-1] - clip[5]).mean() < 0.05
    folder = tmp_path / "in"
    folder.mkdir()
    for index in (10, 2, 1):
        Image.fromarray(np.full((8, 8), index, np.uint8)).save(folder / f"frame_{index}.png")
    frames = open_frames(folder)
    assert frames.names == ("frame_1", "frame_2", "frame_10")
    assert [round(float(f[0, 0]) * 255) for f in frames] == [1, 2, 10]


def test_a_stack_array_is_read_frame_by_frame():
    stack = np.arange(4 * 5 * 6, dtype=np.uint8).reshape(4, 5, 6)
    frames = open_frames(stack)
    assert len(frames) == 4 and frames.shape == (5, 6) and frames.fps is None
    np.testing.assert_allclose(frames[3], stack[3] / 255, atol=1e-7)
    with pytest.raises(ImageError, match=r"\(T, H, W\)"):
        open_frames(np.zeros((2, 3, 4, 5, 3)))


def test_frames_of_different_sizes_are_refused_naming_the_frame(tmp_path):
    for name, size in [("a_1.png", (8, 8)), ("a_2.png", (8, 8)), ("a_3.png", (9, 8))]:
        Image.fromarray(np.zeros(size[::-1], np.uint8)).save(tmp_path / name)
    with pytest.raises(ImageError, match=r"a_3\.png is 8×9.*a_1\.png is 8×8"):
        open_frames(tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda p: (p / "empty").mkdir(), "no frames in"),
    (lambda p: None, "no video, frame folder or TIFF stack"),
])
def test_an_empty_folder_or_a_missing_path_is_refused(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(ImageError, match=message):
        open_frames(tmp_path / "empty")


def test_an_undecodable_video_gets_one_line_naming_the_file(tmp_path, monkeypatch):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all" * 20)
    with pytest.raises(ImageError) as refused:
        open_frames(bad)
    message = str(refused.value)
    assert "\n" not in message and "clip.mp4" in message and "Invalid data" in message
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if it were not installed
    with pytest.raises(ImageError, match=r"clip\.mp4: no ffmpeg backend \(pip install imageio-ffmpeg\)"):
        open_frames(bad)


@pytest.mark.parametrize("name", ["clip.mp4", "frames", "clip.tif"])
def test_an_interrupted_run_leaves_whole_frames_only_and_resumes(tmp_path, clip, name, monkeypatch):
    out = tmp_path / name
    store = FrameStore(out)
    written = [store.put(index, clip[index] * 0.5, f"key-{index}") for index in range(3)]

    def interrupted(path, data):
        with open(path, "wb") as stream:
            stream.write(data[: len(data) // 2])
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(Path, "write_bytes", interrupted)
        store.put(3, clip[3], "key-3")  # Ctrl-C halfway through frame 3
    assert out.is_dir() if name == "frames" else not out.exists()
    assert sorted(p.name for p in store.folder.iterdir()) == [f"frame_{i:05d}.png" for i in range(3)]
    again = FrameStore(out)
    for index in range(3):
        np.testing.assert_array_equal(again.reusable(index, f"key-{index}"), written[index])
        np.testing.assert_allclose(written[index], clip[index] * 0.5, atol=0.5 / 65535)
    assert again.reusable(0, "another key") is None and again.reusable(3, "key-3") is None
    for index in range(3, 6):
        again.put(index, clip[index], f"key-{index}")
    gap = FrameStore(out)
    gap.reusable(1, "key-1")
    with pytest.raises(ImageError, match=r"frames \[0\] were never stored"):
        gap.finish({})
    assert len(open_frames(again.finish({}, fps=FPS))) == 6


def test_a_shorter_run_into_a_frame_folder_removes_the_stale_frames(tmp_path, clip):
    _write(tmp_path / "frames", clip)
    (tmp_path / "frames" / "notes.png").write_bytes(b"not ours")
    out = _write(tmp_path / "frames", clip[:4], names=["a", "b", "c", "d"])
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png", "d.png", "notes.png", "provenance.json"]


def test_outputs_are_named_by_their_extension_and_checked_before_any_frame(tmp_path):
    assert video_output_format(tmp_path / "out") == "frames"
    assert video_output_format(f"{tmp_path}/out.d/") == "frames"
    assert video_output_format(tmp_path / "x.MOV") == "video"
    assert video_output_format(tmp_path / "x.tif", format="tiff") == "tiff"
    with pytest.raises(ImageError, match=r"\.png is not a video output"):
        check_video_output(tmp_path / "out.png")
    with pytest.raises(ImageError, match="name it x.mp4"):
        check_video_output(tmp_path / "x.tif", format="video")
    with pytest.raises(ImageError, match="does not exist"):
        check_video_output(tmp_path / "nowhere" / "out.mp4")


def test_an_unwritable_folder_is_refused(tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("nst_engine.files.tempfile.mkstemp", refuse)  # chmod does not stop root
    with pytest.raises(ImageError, match=f"cannot write to {tmp_path}: Permission denied"):
        check_video_output(tmp_path / "out.mp4")
