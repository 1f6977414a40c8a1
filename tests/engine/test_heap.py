"""A CPU run keeps freed memory in the heap for its next step, and hands it back at the end."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from nst_engine import heap

glibc = pytest.mark.skipif(heap._glibc() is None, reason="the kept heap is glibc's")

# A child process, so that no other test's allocations share the heap: RSS in MiB after a
# 256 MiB buffer (above glibc's 32 MiB mmap threshold) is written and freed, inside the
# context and after it.
_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from nst_engine.heap import kept_heap

    def rss_mib():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 2**20

    before = rss_mib()
    with kept_heap(peak_bytes=1, available_bytes=None):
        buffer = np.empty(2**28, dtype=np.uint8)
        buffer.fill(1)
        del buffer
        inside = rss_mib()
    print(inside - before, rss_mib() - before)
""")


def _child_rss(env_keep: str) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True,
                         env={**os.environ, "NST_KEEP_HEAP": env_keep})
    inside, after = map(float, out.stdout.split())
    return inside, after


@glibc
def test_freed_large_blocks_stay_during_the_run_and_go_back_after_it():
    inside, after = _child_rss("1")
    assert inside > 200, "a freed 256 MiB block should stay in the process for the next step"
    assert after < 50, "after the run the kept memory should be handed back to the system"


@glibc
def test_nst_keep_heap_0_leaves_glibcs_defaults():
    inside, after = _child_rss("0")
    assert inside < 50 and after < 50


@glibc
def test_a_run_without_room_for_fragmentation_keeps_the_defaults(monkeypatch):
    monkeypatch.delenv("NST_KEEP_HEAP", raising=False)
    gib = 2**30
    assert heap.keeps_heap(4 * gib, 8 * gib)
    assert heap.keeps_heap(4 * gib, None)
    assert not heap.keeps_heap(4 * gib, int(4 * gib * heap.FRAGMENTATION_MARGIN) - 1)
    monkeypatch.setenv("NST_KEEP_HEAP", "0")
    assert not heap.keeps_heap(4 * gib, 8 * gib)


def test_concurrent_runs_restore_the_defaults_only_when_the_last_one_ends(monkeypatch):
    calls = []

    class FakeLibc:
        def mallopt(self, parameter, value):
            calls.append(("mallopt", parameter, value))

        def malloc_trim(self, pad):
            calls.append(("trim",))

    monkeypatch.setattr(heap, "_glibc", lambda: FakeLibc())
    monkeypatch.delenv("NST_KEEP_HEAP", raising=False)
    first, second = heap.kept_heap(1, None), heap.kept_heap(1, None)
    first.__enter__()
    second.__enter__()
    assert calls == [("mallopt", heap._M_MMAP_MAX, 0), ("mallopt", heap._M_TRIM_THRESHOLD, heap._NEVER_TRIM)]
    first.__exit__(None, None, None)
    assert ("trim",) not in calls, "the other run still steps: its heap must stay kept"
    second.__exit__(None, None, None)
    assert calls[2:] == [("mallopt", heap._M_MMAP_MAX, heap._DEFAULT_MMAP_MAX),
                         ("mallopt", heap._M_TRIM_THRESHOLD, heap._DEFAULT_TRIM_THRESHOLD), ("trim",)]


def _kept_while_iterating(events) -> list[bool]:
    """Whether the heap was kept at each event of ``events``, and (last) after they ended."""
    kept = [heap._runs > 0 for _ in events]
    return kept + [heap._runs > 0]


@glibc
def test_a_cpu_run_a_clip_and_training_keep_the_heap_while_they_step_and_hand_it_back(
        monkeypatch, content_image, style_image):
    from nst_engine.models import johnson
    from nst_engine.models.applying import iter_apply_frames
    from nst_engine.pipeline import iter_stylize
    from nst_engine.training import train

    monkeypatch.delenv("NST_KEEP_HEAP", raising=False)
    tiny = {"backbone": "random-multiscale", "backbone_options": {"channels": 16, "scales": 3}, "size": 32}
    stylized = iter_stylize(content_image, style_image, steps=3, scales=1, device="cpu", preview_every=0, **tiny)
    applied = iter_apply_frames(johnson(seed=0), [content_image] * 3, size=32, device="cpu")
    trained = train(style_image, [content_image] * 2, steps=3, batch_size=2, device="cpu", **tiny)
    for events in (stylized, applied, trained):
        assert _kept_while_iterating(events) == [True] * 3 + [False]
