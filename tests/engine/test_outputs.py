"""Output paths checked before any work; an image and its sidecar always from the same run."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_engine.errors import ImageError
from nst_engine.files import check_output, sidecar_path, write_image


@pytest.mark.parametrize(
    "name, alpha, message",
    [
        ("out.bmp", False, r"'.bmp' is not an image type; use a .png, .jpg or .tif"),
        ("out", False, "there is no extension"),
        ("missing/out.png", False, r"missing does not exist; create the folder"),
        ("file/out.png", False, "file is a file, not a folder"),
        ("folder", False, "it is a folder"),
        ("folder.png", False, "it is a folder"),
        ("out.jpg", True, "JPEG has no alpha channel; write out.png"),
        ("side.png", False, r"side.png.json is a folder"),
    ],
)
def test_check_output_names_the_problem_and_the_fix(tmp_path, name, alpha, message):
    (tmp_path / "file").write_text("x")
    for folder in ("folder", "folder.png", "side.png.json"):
        (tmp_path / folder).mkdir()
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(ImageError, match=message):
        check_output(tmp_path / name, alpha=alpha)
    assert sorted(os.listdir(tmp_path)) == before


def test_check_output_accepts_what_write_image_can_write(tmp_path):
    assert check_output(tmp_path / "a.PNG", alpha=True) == tmp_path / "a.PNG"
    check_output(tmp_path / "a.jpeg")
    check_output(tmp_path / "a.tiff", alpha=True)
    assert list(tmp_path.iterdir()) == []  # the probe file is gone


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_check_output_refuses_a_read_only_folder(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ImageError, match="cannot write to .*choose a folder you can write to"):
            check_output(tmp_path / "out.png")
    finally:
        tmp_path.chmod(0o700)


def test_a_sidecar_that_is_a_folder_leaves_no_image_behind(tmp_path):
    sidecar_path(tmp_path / "o.png").mkdir()
    with pytest.raises(ImageError, match="is a folder"):
        write_image(tmp_path / "o.png", np.zeros((4, 4, 3), np.float32), provenance={"run": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png.json"]


def test_writing_without_provenance_removes_a_stale_sidecar(tmp_path):
    path = write_image(tmp_path / "o.png", np.zeros((4, 4, 3), np.float32), provenance={"run": 1})
    write_image(path, np.ones((4, 4, 3), np.float32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]


def _embedded(path):
    with Image.open(path) as im:
        return json.loads(im.text["nst"])


def test_concurrent_writers_leave_an_image_with_its_own_sidecar(tmp_path):
    path = tmp_path / "o.png"
    image = np.zeros((8, 8, 3), np.float32)
    mismatched = []

    def writer(name):
        for run in range(25):
            write_image(path, image, provenance={"writer": name, "run": run})

    def reader(stop):
        from nst_engine.files import _folder_lock

        while not stop.is_set():
            with _folder_lock(tmp_path, shared=True):
                if path.exists() and sidecar_path(path).exists():
                    if _embedded(path) != json.loads(sidecar_path(path).read_text()):
                        mismatched.append(1)

    stop = threading.Event()
    watcher = threading.Thread(target=reader, args=(stop,))
    watcher.start()
    threads = [threading.Thread(target=writer, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert not mismatched
    assert _embedded(path) == json.loads(sidecar_path(path).read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "o.png.json"]


def test_an_interrupt_while_writing_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt  # what SIGINT, and SIGTERM in nst, raise

    monkeypatch.setattr(Path, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "o.png", np.zeros((4, 4, 3), np.float32), provenance={"run": 1})
    assert list(tmp_path.iterdir()) == []


_WRITER = """
import json, pathlib, sys
import numpy as np
from PIL import Image
from nst_engine.files import _folder_lock, write_image
path = pathlib.Path(sys.argv[1])
for run in range(15):
    write_image(path, np.zeros((8, 8, 3), np.float32), provenance={"writer": sys.argv[2], "run": run})
    with _folder_lock(path.parent, shared=True), Image.open(path) as im:
        if json.loads(im.text["nst"]) != json.loads(path.with_name(path.name + ".json").read_text()):
            sys.exit(3)
"""


def test_concurrent_processes_leave_an_image_with_its_own_sidecar(tmp_path):
    path = tmp_path / "o.png"
    for _ in range(2):
        writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name]) for name in "ab"]
        assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
        assert _embedded(path) == json.loads(sidecar_path(path).read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "o.png.json"]
