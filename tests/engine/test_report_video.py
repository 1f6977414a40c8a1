"""``nst report --video``: the four coherence modes in one table, at a tiny size."""

from __future__ import annotations

import csv
import json

from nst_engine.reports.video import MODES

from cli_helpers import run


def test_video_report_writes_a_row_per_coherence_mode(tmp_path, capsys):
    code, _, err = run(["report", "--video", "-o", str(tmp_path), "--video-frames", "3", "--video-size", "32",
                        "--video-steps", "4", "--video-threads", "1"], capsys)
    assert code == 0, err
    assert "wrote" in err and "video-report.md (4 rows)" in err
    rows = list(csv.DictReader(open(tmp_path / "video-report.csv")))
    assert [r["coherence"] for r in rows] == list(MODES) == ["independent", "warm", "warped", "temporal"]
    assert all(float(r["temporal error"]) > 0 and float(r["Gram distance (style)"]) > 0 and float(r["s/frame"]) > 0
               for r in rows)
    assert rows[0]["× independent"] == "1.00"
    payload = json.loads((tmp_path / "video-report.json").read_text())
    assert payload["settings"]["frames"] == 3 and payload["settings"]["size"] == 32
    assert "| temporal | 3 | 32² | random-multiscale |" in (tmp_path / "video-report.md").read_text()


def test_video_and_nst_reports_are_asked_one_at_a_time(tmp_path, capsys):
    code, _, err = run(["report", "--video", "--nst", "-o", str(tmp_path)], capsys)
    assert code == 2 and "one at a time" in err
