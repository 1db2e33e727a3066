"""fbh profile's conclusions on synthetic curves: knees, threads, client_batch, round prediction."""

from __future__ import annotations

import pytest

from fbh.bench.profile import apply_profile
from fbh.bench.profile_measure import thread_counts
from fbh.bench.profile_report import best_threads, knee, predict_round, recommend

# values/s per thread count: encrypt scales to 8 then flattens; decrypt to 4; 16 threads oversubscribe.
CURVES = {
    "encrypt_fast": {1: 100.0, 2: 200.0, 4: 390.0, 8: 760.0, 16: 700.0},
    "encrypt_ct": {1: 40.0, 2: 80.0, 4: 158.0, 8: 300.0, 16: 310.0},
    "validate": {1: 1e4, 2: 2e4, 4: 4e4, 8: 8e4, 16: 8e4},
    "aggregate": {1: 1e4, 2: 2e4, 4: 4e4, 8: 8e4, 16: 8e4},
    "decrypt_fast": {1: 50.0, 2: 100.0, 4: 190.0, 8: 200.0, 16: 200.0},
    "decrypt_ct": {1: 40.0, 2: 80.0, 4: 150.0, 8: 160.0, 16: 150.0},
}
CRYPTO = {"curves": CURVES, "bytes_per_value": 128.0, "sha256_bytes_per_s": 1.28e10}


def test_thread_counts():
    assert thread_counts(1) == [1]
    assert thread_counts(2) == [1, 2]
    assert thread_counts(6) == [1, 2, 3, 4, 6]
    assert thread_counts(16) == [1, 2, 3, 4, 8, 16]
    assert thread_counts(24) == [1, 2, 3, 4, 8, 16, 24]


def test_knee_is_the_fewest_threads_near_the_best_rate():
    assert knee(CURVES["encrypt_fast"]) == 8
    assert knee(CURVES["decrypt_fast"]) == 4  # 190 >= 0.9 * 200
    assert knee({1: 10.0, 2: 9.0}) == 1  # more threads only hurt
    assert knee({1: 10.0}) == 1


def test_predicted_round_adds_the_protocol_stages():
    slow_hash = dict(CRYPTO, sha256_bytes_per_s=1.28e6)
    s = predict_round(slow_hash, 2, params=1000, clients=10, constant_time=True, train_images=500,
                      images_per_s=100.0)
    hash_one = 10 * 1000 * 128 / 1.28e6  # one SHA-256 pass over every blob: 1 s
    assert s["encrypt"] == pytest.approx(10 * 1000 / 80 + 2 * hash_one)
    assert s["encrypt_per_hospital"] == pytest.approx(s["encrypt"] / 10)
    assert s["verify"] == pytest.approx(10_000 / 2e4 + 4 * hash_one)
    assert s["aggregate"] == pytest.approx(10_000 / 2e4 + 2 * hash_one)
    assert s["decrypt"] == pytest.approx(0.5 + 0.5 + 1000 / 80 + hash_one)  # the KGC re-derives the sum
    assert s["train"] == pytest.approx(5.0)
    assert s["secure_total"] == pytest.approx(s["encrypt"] + s["verify"] + s["aggregate"] + s["decrypt"])
    assert s["secure_over_train"] == pytest.approx(s["secure_total"] / 5.0)


def test_best_threads_stops_where_the_round_stops_getting_faster():
    def predict(t):
        return predict_round(CRYPTO, t, params=1000, clients=10, constant_time=True, train_images=1,
                             images_per_s=1.0)

    assert best_threads([1, 2, 4, 8, 16], predict) == 8  # 16 is no faster for the dominant encrypt_ct


def test_recommend_picks_fastest_client_batch_at_the_runs_batch_size():
    train = {"clients": 4, "rows": [
        {"client_batch": 1, "batch_size": 10, "images_per_s": 900.0},
        {"client_batch": 2, "batch_size": 10, "images_per_s": 1000.0},
        {"client_batch": 4, "batch_size": 10, "images_per_s": 800.0},
        {"client_batch": 4, "batch_size": 32, "images_per_s": 5000.0},  # another batch size: reported only
    ]}
    rec = recommend(CRYPTO, train, params=1000, clients=10, train_images=55_000, batch_size=10)
    assert rec["client_batch"] == 2 and rec["threads"] == 8
    assert rec["round"]["images_per_s"] == 1000.0
    assert rec["constant_time_cost"]["encrypt"] == pytest.approx(760 / 300)
    assert rec["constant_time_cost"]["round_seconds"] > 0
    assert rec["knees"]["decrypt_ct"] == 4


def test_recommend_all_clients_at_once_scales_to_the_runs_clients():
    train = {"clients": 4, "rows": [{"client_batch": 1, "batch_size": 10, "images_per_s": 100.0},
                                    {"client_batch": 4, "batch_size": 10, "images_per_s": 900.0}]}
    rec = recommend(CRYPTO, train, params=10, clients=10, train_images=100, batch_size=10)
    assert rec["client_batch"] == 10 and rec["client_batch_all"]  # a GPU-style "vmap everything"
    profile = {"recommend": rec}
    assert apply_profile({"clients": 25}, profile) == {"clients": 25, "threads": rec["threads"], "client_batch": 25}
    assert apply_profile({"clients": 25, "client_batch": 3, "threads": 1}, profile)["client_batch"] == 3


def test_interleaved_best_alternates_thread_counts_and_keeps_the_fastest(monkeypatch):
    import fbh.bench.profile_measure as pm

    clock = iter([0, 5, 5, 6, 6, 8, 8, 9, 100, 101])  # perf_counter readings: run t1=5, t2=1, t1=2, t2=1
    monkeypatch.setattr(pm.time, "perf_counter", lambda: next(clock))
    calls = []
    best = pm.interleaved_best(lambda t: calls.append(t) or t * 10, [1, 2], target=1.0)
    assert calls == [1, 2, 1, 2]  # one run per thread count per round, two rounds
    assert best == {1: (2, 10), 2: (1, 20)}
