"""``nst apply``: a saved model over images, folders, stacks and frame folders; options, refusals, resume."""

from __future__ import annotations

import json

import imageio.v2 as iio
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from models_reference import TransformerNet as ExamplesNet
from models_reference import adain_decoder, adain_vgg, randomized, visible

from nst_engine.backbones.weights import sha256_of
from nst_engine.files import read_image, read_provenance, write_image
from nst_engine.images import to_uint
from nst_engine.models import TransformerNet, adain, load_model, save_model
from nst_engine.video.frame_reading import open_frames
from nst_engine.precision import has_bf16
from nst_engine.video.frame_writing import FrameStore, read_video_provenance

from cli_helpers import run

#: 8-bit PNG outputs: one level of rounding apart at most.
LEVEL = 1 / 255 + 1e-6


@pytest.fixture(scope="module")
def cin():
    """A two-style CIN network whose styles differ, its output spread over [0, 1]."""
    model = randomized(TransformerNet(styles=2)).eval()
    visible(model.deconv3.conv2d, gain=50.0, offset=127.5)
    return model


@pytest.fixture
def model_file(tmp_path, cin):
    return save_model(cin, tmp_path / "cin.pt")


@pytest.fixture
def image_dir(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"im{i}.png", rng.random((24, 30, 3)))
    return folder


@pytest.fixture
def stack(tmp_path):
    path = tmp_path / "stack.tif"
    frames = (np.random.default_rng(1).random((4, 20, 24, 3)) * 255).astype(np.uint8)
    tifffile.imwrite(path, frames, photometric="rgb")
    return path, frames


def _expected(model, path, **options):
    return to_uint(model.apply(read_image(path), **options)) / 255


@pytest.fixture
def scheduler():
    """An in-process scheduler and worker thread: the Dask path without starting worker processes (seconds each)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def test_a_folder_of_images_gets_one_output_each_equal_to_model_apply_and_a_rerun_skips_them(
        cin, model_file, image_dir, tmp_path, capsys, scheduler):
    out = tmp_path / "out"
    code, _, err = run(["apply", str(model_file), str(image_dir), "-o", str(out), "--scheduler", scheduler, "-q"],
                       capsys)
    assert code == 0, err
    for i in range(3):
        got = read_image(out / f"im{i}.png") / 255
        np.testing.assert_allclose(got, _expected(cin, image_dir / f"im{i}.png"), atol=LEVEL)
        provenance = read_provenance(out / f"im{i}.png")
        assert provenance["model_file"] == "cin.pt" and len(provenance["model_sha256"]) == 64
        assert provenance["method"] == "feed-forward" and provenance["model"]["name"] == "johnson"
    stamp = (out / "im1.png").stat().st_mtime_ns
    code, _, err = run(["apply", str(model_file), str(image_dir), "-o", str(out)], capsys)
    assert code == 0, err
    # Nothing left to do: no cluster is started (none is given), no output rewritten.
    assert "0 done, 3 skipped, 0 failed" in err and (out / "im1.png").stat().st_mtime_ns == stamp


def test_one_image_runs_here_with_provenance_and_a_rerun_skips_it(cin, model_file, image_dir, tmp_path, capsys):
    out = tmp_path / "one.png"
    code, _, err = run(["apply", str(model_file), str(image_dir / "im0.png"), "-o", str(out)], capsys)
    assert code == 0 and f"wrote {out}" in err
    np.testing.assert_allclose(read_image(out) / 255, _expected(cin, image_dir / "im0.png"), atol=LEVEL)
    with Image.open(out) as png:  # in the image too, not only in the sidecar
        embedded = json.loads(png.text["nst"])
    assert embedded["model_file"] == "cin.pt" and embedded == json.loads((tmp_path / "one.png.json").read_text())
    code, _, err = run(["apply", str(model_file), str(image_dir / "im0.png"), "-o", str(out)], capsys)
    assert code == 0 and "skipped" in err
    code, _, err = run(["apply", str(model_file), str(image_dir / "im0.png"), "-o", str(out), "--style-index", "1"],
                       capsys)
    assert code == 0 and "wrote" in err  # other options: made again


def test_style_index_picks_a_style_and_a_one_hot_mix_equals_it(cin, model_file, image_dir, tmp_path, capsys):
    source = str(image_dir / "im0.png")
    outs = {}
    for name, flags in {"i0": ["--style-index", "0"], "i1": ["--style-index", "1"], "mix": ["--style-mix", "1,0"]}.items():
        code, _, err = run(["apply", str(model_file), source, "-o", str(tmp_path / f"{name}.png"), *flags, "-q"], capsys)
        assert code == 0, err
        outs[name] = read_image(tmp_path / f"{name}.png")
    assert np.abs(outs["i0"].astype(int) - outs["i1"].astype(int)).mean() > 5
    assert np.array_equal(outs["mix"], outs["i0"])
    assert read_provenance(tmp_path / "mix.png")["call_options"] == {"style_mix": [1.0, 0.0]}


def test_a_tiff_stack_becomes_a_stack_of_all_frames_at_the_size_asked(cin, model_file, stack, tmp_path, capsys):
    path, frames = stack
    out = tmp_path / "out.tif"
    code, _, err = run(["apply", str(model_file), str(path), "-o", str(out), "--batch-size", "3", "--size", "48"],
                       capsys)
    assert code == 0, err
    assert "4 frames, 0 reused" in err
    written = tifffile.imread(out)
    assert written.shape == (4, 40, 48, 3) and written.dtype == np.uint16
    provenance = read_video_provenance(out)
    assert provenance["frame_count"] == 4 and provenance["model_file"] == "cin.pt" and provenance["size"] == 48
    code, _, err = run(["apply", str(model_file), str(path), "-o", str(out), "--batch-size", "3", "--size", "48"],
                       capsys)
    assert code == 0 and "skipped" in err


def test_a_frame_folder_becomes_a_stack_or_with_clip_a_frame_folder(cin, model_file, stack, tmp_path, capsys):
    _, frames = stack
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        write_image(folder / f"frame_{i}.png", frame / 255)
    code, _, err = run(["apply", str(model_file), str(folder), "-o", str(tmp_path / "o.tif"), "-q"], capsys)
    assert code == 0, err
    assert tifffile.imread(tmp_path / "o.tif").shape == (4, 20, 24, 3)
    out = tmp_path / "styled"
    code, _, err = run(["apply", str(model_file), str(folder), "-o", str(out), "--clip"], capsys)
    assert code == 0, err
    with open_frames(out) as written:
        assert len(written) == 4
        expected = cin.apply(read_image(folder / "frame_2.png"))
        np.testing.assert_allclose(written[2], expected, atol=1e-4)  # 16-bit frames
    assert json.loads((out / "provenance.json").read_text())["frames"] == 4


def test_adain_needs_a_style_image_and_takes_its_alpha(tmp_path, image_dir, capsys):
    path = save_model(adain(seed=0), tmp_path / "adain.pt")
    source, out = str(image_dir / "im0.png"), str(tmp_path / "a.png")
    code, _, err = run(["apply", str(path), source, "-o", out, "-q"], capsys)
    assert code == 1 and err.strip() == "error: model 'adain' (adain.pt) takes its style from an image: add --style IMAGE"
    code, _, err = run(["apply", str(path), source, "-o", out, "--style", str(image_dir / "im1.png"), "--alpha", "0.5",
                        "--color", "before:histogram"], capsys)
    assert code == 0, err
    provenance = read_provenance(out)
    assert provenance["call_options"] == {"alpha": 0.5} and provenance["color"]["mode"] == "before:histogram"


def test_before_color_is_refused_for_a_model_without_a_style_image(model_file, image_dir, tmp_path, capsys):
    code, _, err = run(["apply", str(model_file), str(image_dir / "im0.png"), "-o", str(tmp_path / "o.png"),
                        "--color", "before:histogram"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 2  # the announcement, then the one-line error
    assert "after:histogram" in err and not (tmp_path / "o.png").exists()


def test_a_tampered_model_or_a_wrong_sha256_is_refused_in_one_line(model_file, image_dir, tmp_path, capsys):
    source, out = str(image_dir / "im0.png"), str(tmp_path / "o.png")
    code, _, err = run(["apply", str(model_file), source, "-o", out, "--sha256", "00000000", "-q"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "expected 00000000" in err
    payload = torch.load(model_file, weights_only=True)
    payload["state_dict"]["in1.bias"][0, 0] += 1e-3
    torch.save(payload, model_file)
    code, _, err = run(["apply", str(model_file), source, "-o", out, "-q"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "changed after it was saved" in err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("bad", ["missing.png", "notes.txt"])
def test_a_bad_input_path_gets_one_line_naming_it(model_file, tmp_path, capsys, bad):
    if bad.endswith(".txt"):
        (tmp_path / bad).write_text("hello")
    code, _, err = run(["apply", str(model_file), str(tmp_path / bad), "-o", str(tmp_path / "o.png")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and bad in err


def test_an_output_that_is_an_input_is_refused(model_file, image_dir, capsys):
    code, _, err = run(["apply", str(model_file), str(image_dir), "-o", str(image_dir)], capsys)
    assert code == 1 and "never overwritten" in err


def test_an_interrupted_clip_resumes_from_the_frames_it_finished(model_file, stack, tmp_path, capsys, monkeypatch):
    path, _ = stack
    out = tmp_path / "out.tif"
    put = FrameStore.put

    def interrupted(self, index, image, key):
        if index == 2:
            raise KeyboardInterrupt  # Ctrl-C while the third frame is being written
        return put(self, index, image, key)

    monkeypatch.setattr(FrameStore, "put", interrupted)
    code, _, _ = run(["apply", str(model_file), str(path), "-o", str(out), "-q"], capsys)
    assert code == 130 and not out.exists()
    monkeypatch.setattr(FrameStore, "put", put)
    code, _, err = run(["apply", str(model_file), str(path), "-o", str(out)], capsys)
    assert code == 0 and "4 frames, 2 reused" in err and tifffile.imread(out).shape[0] == 4


def test_a_video_keeps_its_frame_rate(model_file, stack, tmp_path, capsys):
    _, frames = stack
    video = tmp_path / "clip.mp4"
    writer = iio.get_writer(video, format="FFMPEG", fps=12, quality=9, macro_block_size=1, ffmpeg_log_level="error")
    for frame in frames:
        writer.append_data(frame)
    writer.close()
    out = tmp_path / "styled.mp4"
    code, _, err = run(["apply", str(model_file), str(video), "-o", str(out), "-q"], capsys)
    assert code == 0, err
    with open_frames(out) as written:
        assert len(written) == 4 and written.fps == 12
    assert read_video_provenance(out)["model_file"] == "cin.pt"


@pytest.mark.skipif(has_bf16(torch.device("cpu")), reason="this CPU computes bf16")
def test_bf16_is_refused_in_one_line_where_the_cpu_lacks_it(model_file, image_dir, tmp_path, capsys):
    code, _, err = run(["apply", str(model_file), str(image_dir / "im0.png"), "-o", str(tmp_path / "o.png"),
                        "--precision", "bf16", "--device", "cpu", "-q"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "fp32" in err and "--precision" in err


@pytest.fixture(scope="module")
def adain_files(tmp_path_factory):
    """pytorch-AdaIN's two files, as its repository publishes them: ``decoder.pth`` and ``vgg_normalised.pth``."""
    folder = tmp_path_factory.mktemp("adain")
    decoder = randomized(adain_decoder(), seed=1)
    visible(decoder[28], gain=0.25, offset=0.1)
    torch.save(decoder.state_dict(), folder / "decoder.pth")
    torch.save(randomized(adain_vgg(), seed=0).state_dict(), folder / "vgg_normalised.pth")
    rng = np.random.default_rng(2)
    for name in ("a", "b", "s"):
        write_image(folder / f"{name}.png", rng.random((32, 32, 3)))
    return folder


def test_a_pytorch_adain_decoder_applies_with_its_encoder(adain_files, tmp_path, capsys):
    decoder, encoder, style = adain_files / "decoder.pth", adain_files / "vgg_normalised.pth", adain_files / "s.png"
    out = tmp_path / "out.png"
    code, _, err = run(["apply", str(decoder), str(adain_files / "a.png"), "-o", str(out), "--style", str(style),
                        "--encoder", str(encoder), "--encoder-sha256", sha256_of(encoder)[:8], "-q"], capsys)
    assert code == 0, err
    got = read_image(out) / 255
    assert got.shape == (32, 32, 3)
    model = load_model(decoder, encoder=encoder)
    np.testing.assert_allclose(got, _expected(model, adain_files / "a.png", style=read_image(style)), atol=LEVEL)
    assert read_provenance(out)["model"]["provenance"]["encoder"]["sha256"] == sha256_of(encoder)


def test_a_folder_through_the_batch_path_loads_the_encoder_and_a_changed_encoder_redoes_it(
        adain_files, tmp_path, capsys, scheduler):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.png").write_bytes((adain_files / f"{name}.png").read_bytes())
    encoder = tmp_path / "vgg_normalised.pth"
    encoder.write_bytes((adain_files / "vgg_normalised.pth").read_bytes())
    out = tmp_path / "out"
    argv = ["apply", str(adain_files / "decoder.pth"), str(folder), "-o", str(out), "--style",
            str(adain_files / "s.png"), "--encoder", str(encoder), "--scheduler", scheduler]
    code, _, err = run(argv, capsys)
    assert code == 0 and "2 done, 0 skipped, 0 failed" in err, err
    model = load_model(adain_files / "decoder.pth", encoder=encoder)
    for name in ("a", "b"):
        got = read_image(out / f"{name}.png") / 255
        assert got.shape == (32, 32, 3)
        np.testing.assert_allclose(got, _expected(model, folder / f"{name}.png", style=read_image(adain_files / "s.png")),
                                   atol=LEVEL)
        options = read_provenance(out / f"{name}.png")["options"]
        assert options["encoder"] == str(encoder.resolve()) and options["encoder_sha256"] == sha256_of(encoder)
    before = read_image(out / "a.png")
    torch.save(randomized(adain_vgg(), seed=3).state_dict(), encoder)  # other weights: the job hash changes
    code, _, err = run(argv, capsys)
    assert code == 0 and "2 done, 0 skipped, 0 failed" in err, err
    assert not np.array_equal(read_image(out / "a.png"), before)


def test_a_decoder_without_its_encoder_is_refused_in_one_line_naming_the_flag(adain_files, tmp_path, capsys):
    code, _, err = run(["apply", str(adain_files / "decoder.pth"), str(adain_files / "a.png"), "-o",
                        str(tmp_path / "o.png"), "--style", str(adain_files / "s.png"), "-q"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "pytorch-AdaIN decoder" in err and "--encoder" in err and not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("kind", ["saved", "examples"])
def test_an_encoder_with_a_model_that_takes_none_is_refused_in_one_line(kind, model_file, adain_files, image_dir,
                                                                       tmp_path, capsys):
    model = model_file
    if kind == "examples":  # a pytorch/examples TransformerNet state dict
        model = tmp_path / "candy.pth"
        torch.save(randomized(ExamplesNet()).state_dict(), model)
    code, _, err = run(["apply", str(model), str(image_dir / "im0.png"), "-o", str(tmp_path / "o.png"),
                        "--encoder", str(adain_files / "vgg_normalised.pth"), "-q"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert ("whole saved model" if kind == "saved" else "'johnson' state dict") in err and "encoder" in err
    assert not (tmp_path / "o.png").exists()


def test_a_stack_applies_in_process_with_the_decoder_and_its_encoder(adain_files, tmp_path, capsys):
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, (np.random.default_rng(3).random((3, 32, 32, 3)) * 255).astype(np.uint8), photometric="rgb")
    out = tmp_path / "out.tif"
    code, _, err = run(["apply", str(adain_files / "decoder.pth"), str(stack), "-o", str(out), "--style",
                        str(adain_files / "s.png"), "--encoder", str(adain_files / "vgg_normalised.pth"), "-q"], capsys)
    assert code == 0, err
    assert tifffile.imread(out).shape == (3, 32, 32, 3)
    encoder = read_video_provenance(out)["model"]["provenance"]["encoder"]
    assert encoder["sha256"] == sha256_of(adain_files / "vgg_normalised.pth")
