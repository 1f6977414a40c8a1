"""The training images on disk: the crops in-memory images gave, bounded memory, the file freed, disk refusals."""

from __future__ import annotations

import os
import tracemalloc
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run

import nst_engine.files
from nst_engine.errors import ResourceError
from nst_engine.files import write_image
from nst_engine.training import loop, train, train_model
from nst_engine.training.data import TrainingImages, _reduced, read_training_images

FAST = {"backbone": "random-multiscale", "backbone_options": {"channels": 16, "scales": 3}, "size": 32,
        "batch_size": 2}


class _InMemory:
    """The old storage: the reduced float16 arrays themselves, sliced in memory."""

    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays)

    def shape(self, index: int) -> tuple[int, int]:
        return self.arrays[index].shape[:2]

    def rows(self, index: int, start: int, stop: int) -> np.ndarray:
        return self.arrays[index][start:stop]


@pytest.fixture
def mixed(content_image) -> list[np.ndarray]:
    """Images of different sizes, kinds and dtypes: kept, reduced (a shorter side above 48), gray."""
    rng = np.random.default_rng(3)
    return [content_image, rng.random((100, 130, 3)).astype(np.float32), (rng.random((210, 60)) * 65535).astype(
        np.uint16), rng.random((40, 40, 4)).astype(np.float32)]


@pytest.fixture
def stores(monkeypatch) -> list[TrainingImages]:
    """Every training-image set the trainer reads from now on."""
    seen = []

    def reading(*args, **kwargs):
        seen.append(read_training_images(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(loop, "read_training_images", reading)
    return seen


@pytest.fixture
def inputs(tmp_path, content_image, style_image) -> tuple[Path, Path]:
    """A style file and a folder of three 48×64 frames."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        write_image(frames / f"frame_{i}.png", content_image)
    write_image(tmp_path / "style.png", style_image)
    return tmp_path / "style.png", frames


def _open_in(folder: Path) -> list[str]:
    """The files this process holds open in ``folder`` (Linux: /proc/self/fd), unnamed ones included."""
    fds = Path("/proc/self/fd")
    links = []
    for fd in fds.iterdir():
        try:
            links.append(os.readlink(fd))
        except OSError:
            continue
    return [link for link in links if link.startswith(str(folder))]


def test_the_file_gives_the_very_crops_the_in_memory_arrays_gave(mixed, tmp_path):
    with read_training_images(mixed, size=32, folder=tmp_path) as data:
        old = [_reduced(image, 32, "old") for image in mixed]
        assert data.store.shapes == [(48, 64), (48, 62), (168, 48), (40, 40)]
        for index, array in enumerate(old):
            assert np.array_equal(data.store.rows(index, 0, len(array)), array)  # same float16 pixels
        before = TrainingImages(_InMemory(old), 32, data.source, data.kind, data.sha256)
        for step in range(6):
            assert torch.equal(data.batch(step, 3, seed=5), before.batch(step, 3, seed=5)), step
        assert data.store.nbytes == sum(array.nbytes for array in old)
        assert data.storage() == {"count": 4, "bytes": data.store.nbytes, "folder": str(tmp_path)}
    assert data.store.closed and list(tmp_path.iterdir()) == []


def test_memory_holds_an_index_of_the_images_not_their_pixels(tmp_path):
    """200 images: reading them keeps under 1 KiB an image in memory (their pixels are 18 KiB an image)."""
    frames = [np.full((60, 80, 3), i, np.uint8) for i in range(200)]
    pixels = 200 * 48 * 64 * 3 * 2  # as float16, reduced for size 32
    read_training_images(frames[:1], size=32, folder=tmp_path).close()  # the imports, before measuring
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        data = read_training_images(frames, size=32, folder=tmp_path)
        kept = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.reset_peak()
        for step in range(20):
            data.batch(step, 4, seed=0)
        batch_peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert data.store.nbytes == pixels
    assert kept < 200 * 1024, kept
    assert batch_peak < pixels / 20, batch_peak  # a batch reads its crops' rows only
    assert not any(isinstance(value, np.ndarray) for value in vars(data.store).values())
    data.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists open files through /proc")
def test_the_file_is_freed_when_training_ends_is_stopped_or_closed(style_image, content_image, tmp_path, stores):
    frames = [content_image, content_image[::-1]]
    checkpoint = tmp_path / "model.pt.ckpt"
    train_model(style_image, frames, steps=2, checkpoint=checkpoint, **FAST)
    events = train(style_image, frames, steps=5, checkpoint=checkpoint, resume=False, **FAST)
    first = next(events)
    assert first.storage == {"count": 2, "bytes": 2 * 48 * 64 * 3 * 2, "folder": str(tmp_path)}
    assert len(_open_in(tmp_path)) == 1 and [p.name for p in tmp_path.iterdir()] == ["model.pt.ckpt"]  # unnamed
    with pytest.raises(StopIteration):
        events.send("stop")
    events = train(style_image, frames, steps=5, checkpoint=checkpoint, resume=False, **FAST)
    next(events)
    events.close()
    assert [store.store.folder for store in stores] == [tmp_path] * 3
    assert all(store.store.closed for store in stores)
    assert _open_in(tmp_path) == [] and [p.name for p in tmp_path.iterdir()] == ["model.pt.ckpt"]


def test_too_little_disk_space_is_refused_in_one_line_before_anything_is_decoded(inputs, content_image, tmp_path,
                                                                                capsys, monkeypatch):
    style, frames = inputs
    decoded, read_image = [], nst_engine.files.read_image
    monkeypatch.setattr(nst_engine.files, "read_image",
                        lambda path, **kw: decoded.append(path) or read_image(path, **kw))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("nst_engine.training.image_store.shutil.disk_usage", lambda path: usage(10**6, 10**6, 40_000))
    code, _, err = run(["train", str(style), "--images", str(frames), "-o", str(tmp_path / "m.pt"),
                        "-q", "--backbone", "random-multiscale", "--size", "32"], capsys)
    assert code == 1 and decoded == [str(style)]  # no frame
    assert err.startswith(f"error: not enough disk space for the training images: 3 need 54.0 KiB as float16 in "
                          f"{tmp_path}, which has 39.1 KiB free; free some there") and err.count("\n") == 1
    with pytest.raises(ResourceError, match="fewer images or a smaller size"):
        read_training_images([content_image] * 3, size=32, folder=tmp_path)


def test_nst_train_says_where_the_images_go_and_how_big_they_are(inputs, tmp_path, capsys):
    style, frames = inputs
    code, _, err = run(["train", str(style), "--images", str(frames), "-o", str(tmp_path / "m.pt"),
                        "--steps", "1", "--backbone", "random-multiscale", "-p", "backbone.channels=16",
                        "-p", "backbone.scales=3", "--size", "32", "--batch-size", "1"], capsys)
    assert code == 0, err
    assert f"3 training images, 54.0 KiB as float16 in an unnamed temporary file in {tmp_path} " in err
