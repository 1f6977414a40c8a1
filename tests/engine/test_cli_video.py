"""``nst video``: a clip in, its styled frames out whole with provenance; bad input named in one line; resume."""

from __future__ import annotations

import json

import imageio.v2 as iio
import pytest

from nst_engine.files import write_image
from nst_engine.images import to_uint
from nst_engine.video.frame_reading import open_frames
from nst_engine.video.frame_writing import FrameStore, read_video_provenance
from nst_engine.video.synthetic import pan

from cli_helpers import run

def read_frames(path):
    with open_frames(path) as frames:
        return list(frames), frames.fps


QUICK = ["--backbone", "random-multiscale", "--size", "32", "--steps", "12", "--frame-steps", "4", "-q"]


@pytest.fixture
def clip_files(tmp_path):
    clip = pan(frames=6, size=32, speed=(2, 1))
    video = tmp_path / "clip.mp4"
    writer = iio.get_writer(video, format="FFMPEG", fps=12, quality=9, macro_block_size=1, ffmpeg_log_level="error")
    for frame in clip.frames:
        writer.append_data(to_uint(frame))
    writer.close()
    style = tmp_path / "style.png"
    write_image(style, clip.frames[0][::-1].copy())
    return video, style


def test_a_six_frame_clip_becomes_a_six_frame_video_with_its_frame_rate_and_provenance(clip_files, tmp_path, capsys):
    video, style = clip_files
    out = tmp_path / "out.mp4"
    code, _, err = run(["video", str(video), str(style), "-o", str(out), *QUICK], capsys)
    assert code == 0, err
    frames, fps = read_frames(out)
    assert len(frames) == 6 and fps == 12 and frames[0].shape[:2] == (32, 32)
    provenance = json.loads((tmp_path / "out.mp4.json").read_text())
    assert provenance["video"]["frames"] == 6 and provenance["video"]["coherence"] == "temporal"
    assert provenance["source"] == str(video)
    assert not (tmp_path / ".out.mp4.frames").exists()


def test_a_frame_folder_output_holds_every_frame_and_the_provenance(clip_files, tmp_path, capsys):
    video, style = clip_files
    out = tmp_path / "frames"
    code, _, err = run(["video", str(video), str(style), "-o", str(out), *QUICK], capsys)
    assert code == 0, err
    assert len(read_frames(out)[0]) == 6
    assert json.loads((out / "provenance.json").read_text())["video"]["frames_done"] == 6


def test_a_video_that_cannot_be_decoded_gets_one_line_naming_the_file(tmp_path, clip_files, capsys):
    _, style = clip_files
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video" * 20)
    code, _, err = run(["video", str(bad), str(style), "-o", str(tmp_path / "o.mp4"), *QUICK], capsys)
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "broken.mp4" in err and "ffmpeg" in err


def test_an_interrupted_run_leaves_whole_frames_and_the_next_run_reuses_them(clip_files, tmp_path, capsys,
                                                                            monkeypatch):
    video, style = clip_files
    out = tmp_path / "out.tif"
    put = FrameStore.put

    def interrupted(self, index, image, key):
        if index == 3:
            raise KeyboardInterrupt  # Ctrl-C while the fourth frame is being written
        return put(self, index, image, key)

    monkeypatch.setattr(FrameStore, "put", interrupted)
    code, _, err = run(["video", str(video), str(style), "-o", str(out), *QUICK], capsys)
    assert code == 130 and not out.exists()
    staging = tmp_path / ".out.tif.frames"
    assert sorted(p.name for p in staging.glob("frame_*.png")) == [f"frame_0000{i}.png" for i in range(3)]
    assert read_frames(staging)[0][2].shape == (32, 32, 3)  # whole frames, readable
    monkeypatch.setattr(FrameStore, "put", put)
    code, _, err = run(["video", str(video), str(style), "-o", str(out), *QUICK[:-1]], capsys)
    assert code == 0, err
    assert "3 reused" in err and len(read_frames(out)[0]) == 6
    assert read_video_provenance(out)["video"]["per_frame"][2]["reused"] is True


def test_an_output_it_cannot_write_is_refused_before_any_frame(clip_files, tmp_path, capsys):
    video, style = clip_files
    code, _, err = run(["video", str(video), str(style), "-o", str(tmp_path / "out.xyz"), *QUICK], capsys)
    assert code == 1 and "out.xyz" in err and ".mp4" in err


def test_a_frame_folder_is_not_written_into_itself(clip_files, tmp_path, capsys):
    video, style = clip_files
    source = tmp_path / "frames"
    source.mkdir()
    for index, frame in enumerate(read_frames(video)[0][:3]):
        write_image(source / f"f{index}.png", frame)
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    code, _, err = run(["video", str(source), str(style), "-o", str(source), *QUICK], capsys)
    assert code == 1 and f"it is the input {source}" in err
    assert {p.name: p.read_bytes() for p in source.iterdir()} == before
