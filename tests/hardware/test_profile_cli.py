"""`fbh profile --quick` end to end, and `fbh run --profile PATH|auto` applying it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from fbh.bench import profile as fprofile
from fbh.bench.profile_machine import describe_machine, fingerprint
from fbh.cli import main


@pytest.fixture(scope="module")
def quick_profile(tmp_path_factory) -> tuple[Path, str, Path]:
    """One quick profile for the module (~15 s on 2 busy cores): its folder, printed table, cache."""
    out = tmp_path_factory.mktemp("profile")
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FBH_CACHE_DIR", str(cache))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["profile", "--quick", "--no-progress", "--max-threads", "2", "--params", "5000",
                         "--out", str(out)]) == 0
    return out, buf.getvalue(), cache


def test_quick_profile_writes_json_png_and_cache(quick_profile):
    out, printed, cache = quick_profile
    profile = json.loads((out / "profile.json").read_text())
    assert (cache / "profile.json").read_text() == (out / "profile.json").read_text()
    assert (out / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = profile["machine"]
    assert 1 <= m["available_cpus"] <= m["affinity_cpus"] <= m["os_cpus"]
    assert m["cpu_model"] and m["jax_backend"] and m["versions"]["jax"]
    # every op timed at every thread count, with positive rates
    threads = profile["setting"]["threads"]
    assert threads == sorted(threads) and threads[0] == 1 and threads[-1] <= 2
    for op, curve in profile["crypto"]["curves"].items():
        assert sorted(int(t) for t in curve) == threads, op
        assert all(rate > 0 for rate in curve.values())
    assert {r["client_batch"] for r in profile["train"]["rows"]} == {1, 2}
    rec = profile["recommend"]
    assert rec["threads"] in threads and rec["client_batch"] >= 1
    assert rec["round"]["params"] == 5000 and rec["round"]["clients"] == 10
    assert rec["round"]["fast"]["secure_total"] < rec["round"]["constant_time"]["secure_total"] + 1e-9
    assert profile["memory_peak_bytes"] > 10 * 2**20
    for line in ("cores", "recommended", "expected seconds per round", "client_batch", "decoding table"):
        assert line in printed


def _plain_run(tmp_path: Path, data_dir: Path, *extra: str) -> list[str]:
    return ["run", "--no-encrypt", "--model", "ann", "--clients", "2", "--rounds", "1", "--train-examples", "200",
            "--validation-size", "100", "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), *extra]


def test_run_applies_a_profile_unless_told_otherwise(quick_profile, data_dir, tmp_path, capsys):
    out, _, _ = quick_profile
    profile = json.loads((out / "profile.json").read_text())
    profile["recommend"].update(threads=1, client_batch=2)  # distinct from both defaults
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile))
    assert main(_plain_run(tmp_path, data_dir, "--profile", str(path))) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["threads"], config["client_batch"]) == (1, 2)
    assert "threads 1, client_batch 2" in capsys.readouterr().err
    # an explicit option wins over the profile
    (tmp_path / "b").mkdir()
    assert main(_plain_run(tmp_path / "b", data_dir, "--profile", str(path), "--client-batch", "1")) == 0
    config = json.loads((tmp_path / "b" / "run" / "config.json").read_text())
    assert (config["threads"], config["client_batch"]) == (1, 1)


def test_profile_auto_reuses_the_cached_profile_of_this_machine(quick_profile, monkeypatch):
    _, _, cache = quick_profile
    monkeypatch.setenv("FBH_CACHE_DIR", str(cache))
    monkeypatch.setattr(fprofile, "run_profile", lambda **kw: pytest.fail("re-measured a known machine"))
    profile, source = fprofile.resolve_profile("auto")
    assert str(cache) in source and profile["fingerprint"] == fingerprint(describe_machine())


def test_profile_auto_measures_when_the_cache_describes_another_machine(quick_profile, tmp_path, monkeypatch):
    _, _, cache = quick_profile
    other = json.loads((cache / "profile.json").read_text())
    other["fingerprint"]["cpu_model"] = "some other CPU"
    (tmp_path / "profile.json").write_text(json.dumps(other))
    monkeypatch.setenv("FBH_CACHE_DIR", str(tmp_path))
    fresh = dict(other, fingerprint=fingerprint(describe_machine()))
    monkeypatch.setattr(fprofile, "run_profile", lambda **kw: fresh)
    monkeypatch.setattr(fprofile, "plot_curves", lambda *a: pytest.fail("auto writes no plot"))
    profile, source = fprofile.resolve_profile("auto", progress=False)
    assert profile is fresh and "quick profile" in source
    assert json.loads((tmp_path / "profile.json").read_text())["fingerprint"] == fresh["fingerprint"]


@pytest.mark.parametrize(("content", "message"), [
    (None, "profile not found"),
    ("not json", "is not a profile"),
    ('{"format": 1}', "is not a profile"),
    ('{"format": 99, "recommend": {"threads": 2, "client_batch": 1}}', "unsupported profile"),
    ('{"format": 1, "recommend": {"threads": 0, "client_batch": 1}}', "unsupported profile"),
])
def test_bad_profiles_are_refused_with_exit_code_2(tmp_path, capsys, content, message):
    path = tmp_path / "profile.json"
    if content is not None:
        path.write_text(content)
    assert main(["run", "--profile", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_profile_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["profile", "--clients", "0"])
    assert exc.value.code == 2
    assert "--clients must be >= 1" in capsys.readouterr().err


def test_profile_refuses_an_unwritable_out_before_measuring(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fprofile, "run_profile", lambda **kw: pytest.fail("measured before checking --out"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["profile", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "cannot write to" in err and "Traceback" not in err
