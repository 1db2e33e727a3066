"""Server strategies act on the decrypted mean update only; client sampling is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from fbh.protocol.config import RunConfig
from fbh.protocol.strategy import STRATEGIES, ServerStrategy, sample_clients


def test_fedavg_and_fedprox_take_the_mean_step_exactly():
    w = np.linspace(-1, 1, 7, dtype=np.float32)
    d = np.float32(0.1) * np.arange(7, dtype=np.float32)
    for name in ("fedavg", "fedprox"):
        np.testing.assert_array_equal(ServerStrategy(name).step(w, d), w + d)


def test_fedavgm_is_heavy_ball_on_the_pseudo_gradient():
    w0 = np.zeros(3, np.float32)
    d1, d2 = np.array([1.0, -2.0, 0.5], np.float32), np.array([0.5, 0.5, 0.5], np.float32)
    s = ServerStrategy("fedavgm", server_lr=0.5)
    w1 = s.step(w0, d1)
    w2 = s.step(w1, d2)
    v1 = d1  # momentum buffer of the negated pseudo-gradient
    v2 = d2 + 0.9 * v1
    np.testing.assert_allclose(w1, w0 + 0.5 * v1, rtol=1e-6)
    np.testing.assert_allclose(w2, w1 + 0.5 * v2, rtol=1e-6)


def test_fedadam_first_step_has_server_lr_size_and_spares_batch_stats():
    w = np.ones(4, np.float32)
    d = np.array([3.0, -3.0, 0.02, 5.0], np.float32)
    optimized = np.array([True, True, True, False])  # the last one is a batch statistic
    for name in ("fedadam", "fedyogi"):
        new = ServerStrategy(name, server_lr=0.01, optimized=optimized).step(w, d)
        # Adam/Yogi's bias-corrected first step is lr * g / (|g| + eps): about lr in the sign of delta
        np.testing.assert_allclose(new[:2], w[:2] + 0.01 * np.sign(d[:2]), rtol=1e-3)
        assert 0 < new[2] - 1 < 0.01
        assert new[3] == w[3] + d[3]  # running statistics take the plain mean


def test_unknown_strategy_and_bad_sampling_are_refused():
    with pytest.raises(ValueError, match="strategy must be one of"):
        RunConfig(strategy="fedsgd")
    with pytest.raises(ValueError, match="clients_per_round"):
        RunConfig(clients=3, clients_per_round=4)
    with pytest.raises(ValueError, match="sample_fraction"):
        RunConfig(sample_fraction=0)
    assert set(STRATEGIES) == {"fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi"}


def test_mu_applies_only_with_fedprox():
    assert RunConfig(strategy="fedavg", mu=0.5).local_mu == 0
    assert RunConfig(strategy="fedprox").local_mu == 0.01
    assert RunConfig(strategy="fedprox", mu=0.5).local_mu == 0.5


def test_client_sampling_is_seeded_and_uniform():
    cfg = RunConfig(clients=10, sample_fraction=0.3)
    assert cfg.clients_sampled == 3 and cfg.sampling_rate == 0.3
    assert RunConfig(clients=8, clients_per_round=2).sampling_rate == 0.25
    rounds = [sample_clients(10, 3, seed=0, round_=r) for r in range(1, 401)]
    assert all(r.size == 3 and np.all(np.diff(r) > 0) for r in rounds)
    np.testing.assert_array_equal(rounds[0], sample_clients(10, 3, seed=0, round_=1))
    assert not np.array_equal(rounds[0], sample_clients(10, 3, seed=1, round_=1))
    counts = np.bincount(np.concatenate(rounds), minlength=10)
    # each hospital takes part with probability q = 0.3: 120 expected of 400 rounds
    assert counts.min() > 85 and counts.max() < 155
    np.testing.assert_array_equal(sample_clients(4, 4, 0, 1), np.arange(4))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nowhere_pkg:Net"], "cannot import the module of model factory"),
        (["--init-from", "/no/such/run"], "does not exist"),
        (["--trainable", "no-such-layer"], "matches no parameter"),
        (["--trainable", "("], "not a valid regular expression"),
        (["--strategy", "fedprox", "--mu", "-1"], "mu must be >= 0"),
        (["--clients-per-round", "9"], "clients_per_round must be in 1..clients"),
    ],
)
def test_cli_names_bad_library_options(tmp_path, capsys, args, message):
    from fbh.cli import main

    argv = ["run", "--dataset", "breastmnist", "--clients", "3", "--rounds", "1", "--no-encrypt",
            "--out", str(tmp_path / "run"), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
