"""Training Johnson et al.'s network: the loss falls, CIN styles differ, checkpoints resume exactly."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tifffile
import torch

import nst_engine
from nst_engine.errors import ImageError, OptionError
from nst_engine.files import write_image
from nst_engine.models import TransformerNet
from nst_engine.training import train, train_model
from nst_engine.training.checkpoints import read_checkpoint, write_checkpoint
from nst_engine.training.data import read_training_images
from run_helpers import drain

#: Options that make a training step take a fraction of a second on one core.
FAST = {"backbone": "random-multiscale", "backbone_options": {"channels": 16, "scales": 3}, "size": 32,
        "batch_size": 2}


@pytest.fixture
def frames(content_image) -> list[np.ndarray]:
    """Four 48×64 frames of a slowly brightening time-lapse."""
    return [np.clip(content_image.astype(np.float32) / 255 * (0.7 + 0.1 * i), 0, 1) for i in range(4)]


def test_a_few_steps_lower_the_loss_and_previews_come_with_the_events(style_image, frames):
    events, result = drain(train(style_image, frames, steps=12, validation=frames[0], preview_every=6, **FAST))
    totals = [event.losses["total"] for event in events]
    assert [event.step for event in events] == list(range(1, 13))
    assert np.mean(totals[-3:]) < 0.9 * np.mean(totals[:3])
    assert [event.step for event in events if event.previews is not None] == [6, 12]
    (preview,) = events[-1].previews
    assert preview.shape == (24, 32, 3) and preview.dtype == np.float32  # the 48×64 frame at most 32 a side
    assert isinstance(result.model, TransformerNet) and result.model.styles == 1
    provenance = result.provenance
    assert provenance["steps_run"] == 12 and not provenance["cancelled"]
    assert provenance["images"]["count"] == 4 and provenance["images"]["kind"] == "arrays"
    assert len(provenance["styles"]) == 1 and len(provenance["styles"][0]["sha256"]) == 64
    assert provenance["final_losses"] == events[-1].losses
    assert provenance["options"]["backbone_options"]["kernel_size"] == 7  # defaults recorded too
    assert provenance["version"] == nst_engine.__version__


def test_two_styles_train_one_cin_network_whose_styles_differ(style_image, content_image, frames):
    events, result = drain(train([style_image, 255 - content_image], frames, steps=4, lr=3e-2,
                                  validation=frames[:1], preview_every=0, **FAST))
    model = result.model
    assert model.styles == 2 and len(result.provenance["styles"]) == 2
    assert len(events[-1].previews) == 2  # the validation image in each style
    first, second = model.apply(frames[0], style_index=0), model.apply(frames[0], style_index=1)
    assert np.abs(first - second).mean() > 1e-3


def test_a_stopped_run_resumes_from_its_checkpoint_to_the_uninterrupted_result(style_image, frames, tmp_path):
    whole = train_model(style_image, frames, steps=4, **FAST).model.state_dict()
    checkpoint = tmp_path / "model.pt.ckpt"
    events = train(style_image, frames, steps=4, checkpoint=checkpoint, checkpoint_every=1, **FAST)
    assert next(events).checkpoint == checkpoint
    next(events)
    try:
        events.send("stop")
    except StopIteration as done:
        stopped = done.value
    assert stopped.cancelled and stopped.provenance["steps_run"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt.ckpt"]  # no temporary file left
    assert read_checkpoint(checkpoint)["step"] == 2
    resumed = train_model(style_image, frames, steps=4, checkpoint=checkpoint, **FAST)
    assert resumed.provenance["resumed_from"] == 2 and resumed.provenance["steps_run"] == 4
    assert read_checkpoint(checkpoint)["step"] == 4
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(value, whole[key]), key


def test_a_cancel_set_from_another_thread_ends_with_a_checkpoint_of_the_last_step(style_image, frames, tmp_path):
    cancel, checkpoint = threading.Event(), tmp_path / "c.ckpt"
    events = train(style_image, frames, steps=5, checkpoint=checkpoint, cancel=cancel, **FAST)
    next(events)
    cancel.set()
    seen, result = drain(events)
    assert seen == [] and result.cancelled and result.provenance["steps_run"] == 1
    assert read_checkpoint(checkpoint)["step"] == 1


def test_resume_refuses_a_checkpoint_of_another_training(style_image, frames, tmp_path):
    checkpoint = tmp_path / "c.ckpt"
    train_model(style_image, frames, steps=1, checkpoint=checkpoint, **FAST)
    with pytest.raises(OptionError, match="another training.*--no-resume"):
        train_model(style_image, frames, steps=2, checkpoint=checkpoint, resume=True, **{**FAST, "lr": 5e-3})
    with pytest.raises(OptionError, match="no checkpoint at .*missing.ckpt"):
        train_model(style_image, frames, steps=1, checkpoint=tmp_path / "missing.ckpt", resume=True, **FAST)


def test_a_failed_checkpoint_write_leaves_the_previous_one(tmp_path, monkeypatch):
    model, path = TransformerNet(), tmp_path / "c.ckpt"
    optimizer = torch.optim.Adam(model.parameters())
    write_checkpoint(path, step=1, fingerprint="f", model=model, optimizer=optimizer, history=[])

    def broken(payload, file):
        open(file, "wb").write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(path, step=2, fingerprint="f", model=model, optimizer=optimizer, history=[])
    assert read_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.ckpt"]


def test_batches_are_a_function_of_the_seed_and_the_step(frames):
    data = read_training_images(frames, size=32)
    assert data.batch(3, 2, seed=0).shape == (2, 3, 32, 32)
    assert torch.equal(data.batch(3, 2, seed=0), data.batch(3, 2, seed=0))
    assert not torch.equal(data.batch(3, 2, seed=0), data.batch(4, 2, seed=0))
    epoch = [i for step in range(2) for i in data.indices(step, 2, seed=0)]
    assert sorted(epoch) == [0, 1, 2, 3]  # every image once per epoch


def test_images_come_from_a_folder_a_glob_or_a_tiff_stack(frames, tmp_path):
    for i, frame in enumerate(frames):
        write_image(tmp_path / f"f{i}.png", frame)
    write_image(tmp_path / "larger.png", np.zeros((100, 120, 3), np.float32))
    folder = read_training_images(tmp_path, size=32)
    assert (len(folder), folder.kind) == (5, "folder")  # any sizes
    assert folder.store.shape(4) == (48, 58)  # 100×120 reduced to a shorter side of 1.5 × 32
    assert len(read_training_images(str(tmp_path / "f*.png"), size=32)) == 4
    tifffile.imwrite(tmp_path / "stack.tif", (np.stack(frames) * 255).astype(np.uint8), photometric="rgb")
    stack = read_training_images(tmp_path / "stack.tif", size=32)
    assert (len(stack), stack.kind) == (4, "tiff")
    assert stack.store.shape(0) == (48, 64)  # shorter side 48 = 1.5 × 32: kept


def test_an_empty_folder_or_an_unreadable_video_is_refused_by_name(tmp_path):
    with pytest.raises(ImageError, match=f"no training images in {tmp_path}.*folder of PNG.*glob.*--images"):
        read_training_images(tmp_path, size=32)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not a video at all")
    with pytest.raises(ImageError, match=f"cannot decode {video}.*convert it"):
        read_training_images(video, size=32)
    with pytest.raises(ImageError, match="no training images match"):
        read_training_images(str(tmp_path / "*.png"), size=32)


def test_vgg_reconstructs_content_at_johnson_et_al_s_relu2_2(style_image, frames):
    result = train_model(style_image, frames[:1], backbone="vgg19", backbone_options={"weights": "random"}, size=32,
                         steps=1, batch_size=1)
    layers = {term["name"]: term["layers"] for term in result.provenance["losses"]}
    assert layers["content"] == ["relu2_2"] and len(layers["gram"]) == 5
