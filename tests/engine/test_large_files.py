"""Large files in and out: BigTIFF and OME-Zarr read lazily, reduced by area, written whole and atomically."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tifffile
from cli_helpers import run
from skimage.transform import resize

from nst_engine import large_writing
from nst_engine.errors import ImageError
from nst_engine.files import (
    check_output,
    read_image,
    read_provenance,
    sidecar_path,
    write_image,
)
from nst_engine.images import to_uint
from nst_engine.large_reading import image_shape, is_zarr, open_image, read_reduced

FAST_ARGS = ["--backbone", "random-multiscale", "-p", "backbone.channels=16", "--steps", "2",
             "--size", "64", "--scales", "1", "-q"]


def pattern(y0: int, y1: int, x0: int, x1: int, n: int) -> np.ndarray:
    """Rows ``y0:y1``, columns ``x0:x1`` of a smooth ``n×n`` RGB test image (uint8), made a tile at a time."""
    y, x = np.arange(y0, y1, dtype=np.float64)[:, None], np.arange(x0, x1, dtype=np.float64)[None, :]
    red = 127 + 100 * np.sin(y / 300) * np.cos(x / 400)
    return np.rint(np.stack(np.broadcast_arrays(red, 255 * x / n, 255 * y / n), axis=-1)).astype(np.uint8)


def write_tiled_bigtiff(path, n: int, tile: int = 256) -> None:
    """A BigTIFF of :func:`pattern` written from a generator of tiles: never whole in memory."""
    tiles = (pattern(y, min(y + tile, n), x, min(x + tile, n), n)
             for y in range(0, n, tile) for x in range(0, n, tile))
    tifffile.imwrite(path, tiles, shape=(n, n, 3), dtype=np.uint8, tile=(tile, tile), bigtiff=True,
                     photometric="rgb", compression="zlib")


def write_ome_zarr_lazily(path, n: int, chunk: int = 1024) -> None:
    """An OME-Zarr of :func:`pattern` written by ome-zarr from a dask array made chunk by chunk."""
    import dask.array as da
    import zarr
    from ome_zarr.writer import write_image as ome_write

    def block(block_info=None):
        _, (y0, y1), (x0, x1) = block_info[None]["array-location"]
        return pattern(y0, y1, x0, x1, n).transpose(2, 0, 1)

    sides = (chunk,) * (n // chunk) + ((n % chunk,) if n % chunk else ())
    lazy = da.map_blocks(block, dtype=np.uint8, chunks=((3,), sides, sides))
    ome_write(lazy, zarr.open_group(str(path), mode="w"), axes="cyx", scale_factors=(),
              storage_options={"chunks": (3, chunk, chunk)})


@pytest.fixture
def smooth():
    """A 1500×1300 smooth RGB image, small enough to resize whole with skimage."""
    return pattern(0, 1500, 0, 1300, 1500)


def test_a_tiled_bigtiff_opens_without_reading_pixels_and_reads_a_region(tmp_path, smooth):
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(path, smooth, bigtiff=True, tile=(256, 256), photometric="rgb")
    with open_image(path) as image:
        assert image.shape == smooth.shape and image.dtype == np.uint8
        assert np.array_equal(image.read_region(300, 700, 1000, 1300), smooth[300:700, 1000:1300])
    assert image_shape(path) == smooth.shape and not is_zarr(path)


def test_an_ome_zarr_0_4_on_zarr_2_reads_with_its_pyramid(tmp_path, smooth, caplog):
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image as ome_write

    path = tmp_path / "v04.zarr"
    ome_write(smooth.transpose(2, 0, 1), zarr.open_group(str(path), mode="w", zarr_format=2), axes="cyx",
              fmt=FormatV04(), scale_factors=(2,))
    caplog.clear()
    with open_image(path) as image:
        assert [level.shape for level in image.levels] == [(1500, 1300, 3), (750, 650, 3)]
        assert np.array_equal(image.read_region(0, 10, 5, 20), smooth[:10, 5:20])
    assert "mismatch" not in caplog.text


@pytest.mark.parametrize("kind", ["tiff", "bigtiff-pyramid", "ome-zarr"])
def test_a_reduced_read_matches_skimage_resize_of_the_whole_image(tmp_path, smooth, kind):
    if kind == "tiff":
        path = tmp_path / "plain.tif"
        tifffile.imwrite(path, smooth, tile=(256, 256), photometric="rgb")
    else:
        path = tmp_path / ("pyramid.tif" if kind == "bigtiff-pyramid" else "image.zarr")
        write_image(path, smooth, format="bigtiff" if kind == "bigtiff-pyramid" else "ome-zarr")
    with open_image(path) as image:
        assert len(image.levels) == (1 if kind == "tiff" else 3)  # 1500, 750, 375
        reduced = read_reduced(image, (200, 173))
    expected = resize(smooth.astype(np.float64), (200, 173, 3), anti_aliasing=True, preserve_range=True)
    error = np.abs(reduced.astype(np.float64) - expected)
    assert reduced.dtype == np.uint8 and reduced.shape == (200, 173, 3)
    assert error.mean() < 0.6 and error.max() < 3


_CHILD = textwrap.dedent("""
    import json, resource, sys, threading
    threading.stack_size(1 << 20)  # dask's and zarr's threads: 1 MiB of address space each, not 8
    import numpy as np, tifffile, zarr, dask, dask.array
    import ome_zarr.reader, ome_zarr.writer
    from nst_engine import files, large_reading
    np.dot(np.ones((512, 512)), np.ones((512, 512)))  # OpenBLAS reserves its buffers now, not under the limit

    def vm(key="VmSize"):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith(key))

    budget, n, source, target, fmt = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:]
    resource.setrlimit(resource.RLIMIT_AS, (vm() + budget, vm() + budget))
    base = vm()
    with dask.config.set(num_workers=2):
        with large_reading.open_image(source) as image:
            report = {
                "shape": list(image.shape), "region": image.read_region(n - 300, n - 200, 100, 200).tolist(),
                "reduced": large_reading.read_reduced(image, (500, 500)).tolist(),
            }
            files.write_image(target, image.levels[0], provenance={"from": source}, format=fmt)
        with large_reading.open_image(target) as written:
            report["written"] = {
                "shape": list(written.shape), "region": written.read_region(n - 300, n - 200, 100, 200).tolist(),
                "levels": len(written.levels),
            }
    report.update(peak_over_base=vm("VmPeak") - base, torch="torch" in sys.modules)
    print(json.dumps(report))
""")


@pytest.mark.slow
def test_files_larger_than_the_memory_limit_are_read_lazily_and_written_whole(tmp_path):
    """A 7000×7000 RGB BigTIFF and OME-Zarr (140 MiB each) in a process limited to 112 MiB more.

    Each is read (a region, a 500² reduction) and written whole in the other format by a child
    process that limits its address space (``RLIMIT_AS``) to what it holds after its imports plus
    112 MiB, so neither image fits. ``RLIMIT_AS`` rather than ``RLIMIT_DATA``: both count
    thread stacks and malloc arenas, and only ``RLIMIT_AS`` also counts file mappings, so
    nothing escapes it. Torch is not imported (its CUDA build reserves gigabytes of address
    space); malloc gets one arena and returns large blocks at once, OpenBLAS one thread, dask
    two, so the limit measures the reader and the writers, not the allocator or the core count.
    """
    n = 7000
    tif, ome = tmp_path / "big.tif", tmp_path / "big.ome.zarr"
    write_tiled_bigtiff(tif, n)
    write_ome_zarr_lazily(ome, n)
    full_bytes = n * n * 3
    budget = 112 * 2**20
    assert budget < full_bytes
    env = dict(os.environ, MALLOC_ARENA_MAX="1", MALLOC_MMAP_THRESHOLD_="1048576", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    region = pattern(n - 300, n - 200, 100, 200, n)
    centres = (np.arange(500) + 0.5) * n / 500 - 0.5
    expected = np.stack(np.broadcast_arrays(
        127 + 100 * np.sin(centres[:, None] / 300) * np.cos(centres[None, :] / 400),
        255 * centres[None, :] / n, 255 * centres[:, None] / n), axis=-1)
    for source, target, fmt in [(tif, tmp_path / "from-tif.ome.zarr", "ome-zarr"),
                                (ome, tmp_path / "from-zarr.tif", "bigtiff")]:
        done = subprocess.run([sys.executable, "-c", _CHILD, str(budget), str(n), str(source), str(target), fmt],
                              check=False, capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        read = json.loads(done.stdout.strip().splitlines()[-1])
        assert read["torch"] is False and read["peak_over_base"] < budget
        assert read["shape"] == [n, n, 3] and read["written"]["shape"] == [n, n, 3]
        assert np.array_equal(read["region"], region) and np.array_equal(read["written"]["region"], region)
        assert read["written"]["levels"] == 5  # 7000 down to 437 by halves
        assert np.abs(np.array(read["reduced"]) - expected).max() < 1.5
        assert read_provenance(target) == {"from": str(source)}


@pytest.mark.parametrize("fmt, name", [("bigtiff", "out.tif"), ("ome-zarr", "out.ome.zarr"), ("tiff", "out.tiff")])
def test_both_writers_keep_the_pixels_and_the_provenance(tmp_path, fmt, name):
    rng = np.random.default_rng(0)
    image = rng.random((700, 600, 3))
    # A "shape" key, as a run's provenance has: tifffile must not take it for its own metadata.
    provenance = {"engine": "nst_engine", "steps": 3, "plan": {"shape": [700, 600]}}
    path = write_image(tmp_path / name, image, provenance=provenance, format=fmt)
    assert np.array_equal(read_image(path), to_uint(image, np.uint16))
    assert read_provenance(path) == provenance
    sidecar_path(path).unlink()
    assert read_provenance(path) == provenance  # from the TIFF description / the Zarr attributes
    if fmt == "bigtiff":
        with tifffile.TiffFile(path) as tif:
            assert tif.is_bigtiff and tif.pages[0].is_tiled and len(tif.series[0].levels) == 2
    assert is_zarr(path) == (fmt == "ome-zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_gray_image_round_trips_through_ome_zarr(tmp_path):
    gray = np.linspace(0, 1, 80 * 90).reshape(80, 90)
    path = write_image(tmp_path / "gray.zarr", gray)
    assert np.array_equal(read_image(path), to_uint(gray, np.uint16))


def _interrupt_after_three_tiles(real):
    def tiles(image, tile):
        for count, piece in enumerate(real(image, tile)):
            if count == 3:
                raise KeyboardInterrupt
            yield piece

    return tiles


@pytest.mark.parametrize("fmt, name", [("bigtiff", "out.tif"), ("ome-zarr", "out.zarr")])
@pytest.mark.parametrize("existing", [False, True])
def test_an_interrupted_write_leaves_no_target_and_no_temporaries(tmp_path, monkeypatch, fmt, name, existing):
    image = np.random.default_rng(1).random((600, 600, 3))
    if existing:
        write_image(tmp_path / name, image[::-1], provenance={"run": "old"}, format=fmt)
    before = sorted(p.name for p in tmp_path.iterdir())
    if fmt == "bigtiff":
        monkeypatch.setattr(large_writing, "_tiles", _interrupt_after_three_tiles(large_writing._tiles))
    else:
        real = large_writing.write_ome_zarr

        def write_then_fail(path, *args, **kwargs):
            real(path, *args, **kwargs)
            assert is_zarr(path) and path.name.startswith(f".{name}.tmp-")
            raise KeyboardInterrupt

        monkeypatch.setattr(large_writing, "write_ome_zarr", write_then_fail)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / name, image, provenance={"run": "new"}, format=fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if existing:
        assert read_provenance(tmp_path / name) == {"run": "old"}
        assert np.array_equal(read_image(tmp_path / name), to_uint(image[::-1], np.uint16))


def test_an_ome_zarr_output_replaces_an_ome_zarr_and_nothing_else(tmp_path):
    first = write_image(tmp_path / "o.zarr", np.zeros((40, 30, 3)), provenance={"run": 1})
    write_image(first, np.ones((20, 10, 3)), provenance={"run": 2})
    assert read_image(first).shape == (20, 10, 3) and read_provenance(first) == {"run": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.zarr", "o.zarr.json"]
    (tmp_path / "folder.zarr").mkdir()
    (tmp_path / "file.zarr").write_text("x")
    with pytest.raises(ImageError, match="folder.zarr: it is a folder that is not a Zarr"):
        check_output(tmp_path / "folder.zarr")
    with pytest.raises(ImageError, match="file.zarr: it is a file"):
        check_output(tmp_path / "file.zarr")


@pytest.mark.parametrize("name, fmt, message", [
    ("out.png", "bigtiff", "cannot write out.png as bigtiff: a bigtiff output is named .tif or .tiff; call it out.tif"),
    ("out.tif", "ome-zarr", "cannot write out.tif as ome-zarr: a ome-zarr output is named .zarr; call it out.zarr"),
    ("out.zarr", "png", "cannot write out.zarr as png"),
    ("out.tif", "gif", "unknown output format 'gif'"),
])
def test_a_format_that_does_not_fit_the_name_is_refused(tmp_path, name, fmt, message):
    with pytest.raises(ImageError, match=message):
        check_output(tmp_path / name, format=fmt)
    assert list(tmp_path.iterdir()) == []


def test_the_pixel_limit_names_the_lazy_route_and_a_smaller_size_takes_it(tmp_path, monkeypatch, smooth):
    path = write_image(tmp_path / "big.tif", smooth[:400, :300], format="bigtiff")
    monkeypatch.setenv("NST_MAX_IMAGE_PIXELS", "10000")
    with pytest.raises(ImageError, match=r"raise it with NST_MAX_IMAGE_PIXELS=N .*, or read it lazily at a "
                                         r"smaller size \(nst stylize does at a --size below 400"):
        read_image(path)
    with pytest.raises(ImageError, match="above the limit of 10,000"):
        read_image(path, max_side=400)  # not smaller: the limit holds
    assert read_image(path, max_side=80).shape == (80, 60, 3)
    zarr_path = write_image(tmp_path / "big.zarr", smooth[:400, :300])
    with pytest.raises(ImageError, match="or read it lazily"):
        read_image(zarr_path)
    assert read_image(zarr_path, max_side=80).shape == (80, 60, 3)


@pytest.fixture
def large_inputs(tmp_path):
    """A small BigTIFF content and an OME-Zarr style: they take the large-file routes all the same."""
    rows, cols = np.mgrid[0:96, 0:80]
    picture = np.stack([rows / 95, cols / 79, (rows + cols) / 174], axis=-1)
    content = write_image(tmp_path / "content.tif", picture, format="bigtiff")
    style = write_image(tmp_path / "style.ome.zarr", picture[::-1])
    return content, style


@pytest.mark.parametrize("name, fmt", [("out.zarr", None), ("out.tif", "bigtiff"), ("out.tiff", "tiff")])
def test_stylize_reads_bigtiff_and_ome_zarr_and_writes_the_chosen_format(tmp_path, capsys, large_inputs, name, fmt):
    content, style = large_inputs
    args = ["stylize", str(content), str(style), "-o", str(tmp_path / name), *FAST_ARGS]
    code, _, err = run([*args, "--output-format", fmt] if fmt else args, capsys)
    assert code == 0, err
    out = tmp_path / name
    assert read_image(out).shape == (64, 53, 3)
    assert read_provenance(out)["content"] == str(content)
    assert read_provenance(out)["content_reduced_from"] is None  # within the limit: read whole
    with open_image(out) as written:
        assert len(written.levels) == 1  # 64 px: no pyramid below it
    if fmt:
        with tifffile.TiffFile(out) as tif:
            assert tif.is_bigtiff == (fmt == "bigtiff")


def test_stylize_reads_a_file_above_the_limit_at_its_size(tmp_path, capsys, large_inputs, monkeypatch):
    content, style = large_inputs
    monkeypatch.setenv("NST_MAX_IMAGE_PIXELS", "5000")  # 96×80 is above it
    code, _, err = run(["stylize", str(content), str(style), "-o", str(tmp_path / "o.png"), *FAST_ARGS], capsys)
    assert code == 0, err
    assert read_provenance(tmp_path / "o.png")["content_reduced_from"] == [96, 80]
    code, _, err = run(["stylize", str(content), str(style), "-o", str(tmp_path / "p.png"), *FAST_ARGS,
                        "--size", "96"], capsys)
    assert code != 0 and "raise it with NST_MAX_IMAGE_PIXELS" in err and not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("command", ["stylize", "color"])
def test_an_output_format_that_does_not_fit_is_refused_before_any_work(tmp_path, capsys, large_inputs, monkeypatch,
                                                                      command):
    content, style = large_inputs

    def refuse(*args, **kwargs):
        raise AssertionError("an input was read before the output was checked")

    monkeypatch.setattr("nst_engine.files.read_image", refuse)
    extra = FAST_ARGS if command == "stylize" else []
    code, _, err = run([command, str(content), str(style), "-o", str(tmp_path / "out.png"),
                        "--output-format", "ome-zarr", *extra], capsys)
    assert code != 0
    assert err.strip().splitlines()[-1].endswith("cannot write out.png as ome-zarr: a ome-zarr output is named "
                                                 ".zarr; call it out.zarr, or leave the format to the name")
    assert not [p.name for p in tmp_path.iterdir() if "out" in p.name]


def test_color_writes_an_ome_zarr(tmp_path, capsys, large_inputs):
    content, style = large_inputs
    code, _, err = run(["color", str(content), str(style), "-o", str(tmp_path / "c.zarr"), "-m", "reinhard"], capsys)
    assert code == 0, err
    assert read_image(tmp_path / "c.zarr").shape == (96, 80, 3)
    assert read_provenance(tmp_path / "c.zarr")["source"] == str(content)
