"""The `fbh bench crypto` harness and its coincurve baseline: they run, check sums, and report consistent numbers."""

from __future__ import annotations

import json

import pytest

from fbh.bench.crypto_baseline import PAIR_BYTES, BaselineTable, CoincurveElGamal
from fbh.bench.crypto_bench import main, run_crypto_bench
from fbh.bench.crypto_report import format_table


def test_bench_report_is_consistent(tmp_path):
    path = tmp_path / "bench.json"
    report = run_crypto_bench(n=48, threads=1, json_path=path, baseline_n=16, include_context=False,
                              progress=False, print_table=False, bound=2**19, k=4)
    assert json.loads(path.read_text()) == json.loads(json.dumps(report))
    rows = report["rows"]
    ops = {(r["op"], r["impl"], r["mode"]) for r in rows if r["threads"] == 1}
    for op in ("encrypt", "decrypt"):
        for mode in ("fast", "ct"):
            assert (op, "fbh", mode) in ops
        assert (op, "baseline", "-") in ops
    assert ("aggregate", "fbh", "-") in ops and ("table build", "fbh", "-") in ops
    for op in ("encrypt", "decrypt"):
        for mode in ("fast", "ct"):
            assert (op, "packed", mode) in ops
    assert ("aggregate", "packed", "-") in ops
    assert report["bytes_per_value"]["packed"] > 0
    for r in rows:
        assert r["seconds"] > 0
        if r["n"]:
            assert abs(r["us_per_value"] * r["values_per_s"] - 1e6) < 1e-3 * 1e6
        if r["impl"] == "baseline":
            assert r["n"] in (16, 0) and r["speedup_vs_baseline"] == 1.0
    assert report["bytes_per_value"]["baseline"] == 66
    assert 128 <= report["bytes_per_value"]["fbh"] < 130
    text = format_table(report)
    assert text.count("\n") >= len(rows) + 4
    assert "coincurve baseline (Python): first 16" in text


def test_cli_prints_one_table(capsys, tmp_path):
    assert main(["--n", "20", "--baseline-n", "8", "--context-n", "0", "--no-progress",
                 "--json", str(tmp_path / "b.json"), "--modes", "fast"]) == 0
    out = capsys.readouterr().out
    assert out.count("fbh crypto benchmark") == 1
    assert "coincurve baseline" in out
    assert json.loads((tmp_path / "b.json").read_text())["meta"]["n"] == 20


def test_coincurve_baseline_round_trip_and_bounds():
    base = CoincurveElGamal()
    for bound in (1, 2, 5, 40):
        table = BaselineTable(bound, max_giant_steps=2)
        values = list(range(-bound, bound + 1))
        blob = base.encrypt(values)
        assert len(blob) == PAIR_BYTES * len(values)
        assert base.decrypt(base.parse(blob), table) == values
        for beyond in (bound + 1, -bound - 1, 3 * bound + 7):
            with pytest.raises(ValueError, match="index 1"):
                base.decrypt(base.parse(base.encrypt([0, beyond])), table)
    table = BaselineTable(40)
    halves = [base.encrypt([3, -7, 0]), base.encrypt([-3, 7, 0])]
    assert base.decrypt(base.aggregate(halves), table) == [0, 0, 0]
    with pytest.raises(ValueError, match="differ in length"):
        base.aggregate([halves[0], base.encrypt([1])])
