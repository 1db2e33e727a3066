"""`fbh bench threshold` runs end to end on a small aggregate and checks its own results."""

from __future__ import annotations

from fbh.bench.threshold_bench import format_report, run_threshold_bench
from fbh.cli import main


def test_threshold_bench_small():
    r = run_threshold_bench(values=100, guardians=3, threshold=2, k=4, constant_time=False, threads=1, repeat=1)
    assert len(r["per_guardian_s"]) == 2 and r["ratio"] > 0
    assert "t = 2 of 3" in format_report(r)


def test_bench_threshold_rejects_bad_threshold(capsys):
    try:
        main(["bench", "threshold", "--guardians", "2", "--threshold", "3"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("expected a usage error")
