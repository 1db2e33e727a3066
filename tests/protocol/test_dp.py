"""Distributed discrete Gaussian DP: accountant, mechanism, noise of decrypted sums, refusal, a run."""

from __future__ import annotations

import dataclasses
import json
import math

import dp_accounting as dpa
import numpy as np
import pytest

from fbh import crypto as fc
from fbh import data as fdata
from fbh.cli import main
from fbh.protocol.config import RunConfig
from fbh.protocol.dp import DPConfigError, DistributedDiscreteGaussian
from fbh.protocol.privacy import DifferentialPrivacy, PrivacyLedger, calibrate_noise_multiplier, max_sampled_weight
from fbh.protocol.simulation import run


def _mechanism(**changes) -> DistributedDiscreteGaussian:
    args = dict(l2_clip=1.0, clip=4.0, noise_multiplier=1.5, num_clients=4, max_weight=0.25,
                dimension=20_000, bound=2**20, rounds=3)
    return DistributedDiscreteGaussian(**{**args, **changes})


# --- accountant ---------------------------------------------------------------------------
@pytest.mark.parametrize(("epsilon", "rounds", "rate"), [(1.0, 10, 1.0), (3.0, 5, 1.0), (8.0, 20, 0.5)])
def test_calibrated_noise_meets_the_target_in_dp_accountings_own_rdp_accountant(epsilon, rounds, rate):
    z = calibrate_noise_multiplier(epsilon, 1e-5, rounds, rate)
    event = dpa.GaussianDpEvent(z)
    if rate < 1:
        event = dpa.PoissonSampledDpEvent(rate, event)
    reference = dpa.rdp.RdpAccountant()
    reference.compose(event, rounds)
    assert reference.get_epsilon(1e-5) == pytest.approx(epsilon, rel=1e-3)
    assert reference.get_epsilon(1e-5) <= epsilon * (1 + 1e-9)
    # The ledger composes round by round: the same curve, the same epsilon.
    ledger = PrivacyLedger(1e-5)
    spent = [ledger.spend(z, rate) for _ in range(rounds)]
    assert spent[-1] == pytest.approx(reference.get_epsilon(1e-5), rel=1e-9)
    assert all(a < b for a, b in zip(spent, spent[1:], strict=False))


def test_ledger_matches_the_zcdp_conversion_of_the_gaussian():
    """RDP of a Gaussian at z is alpha / (2 z^2): never looser than the zCDP bound rho + 2 sqrt(rho log 1/d)."""
    z, rounds, delta = 2.0, 10, 1e-5
    ledger = PrivacyLedger(delta)
    for _ in range(rounds):
        eps = ledger.spend(z)
    rho = rounds / (2 * z**2)
    assert eps <= rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert eps >= 0.8 * (rho + 2 * math.sqrt(rho * math.log(1 / delta)))


def test_accountant_rejects_bad_parameters():
    with pytest.raises(ValueError, match="epsilon"):
        calibrate_noise_multiplier(0.0, 1e-5, 3)
    with pytest.raises(ValueError, match="sampling rate"):
        PrivacyLedger(1e-5).spend(1.0, 1.5)


# --- mechanism ------------------------------------------------------------------------------
def test_noise_of_the_decrypted_sum_has_the_intended_variance():
    # Prepare: four hospitals with zero updates, so the decrypted sum is pure noise.
    mech = _mechanism()
    ks = fc.KeySet.generate(k=16)
    ctx = [f"round 1, hospital {h}".encode() for h in range(4)]
    # Execute: privatize -> packed encrypt -> aggregate -> decrypt.
    blobs = [fc.encrypt_packed(ks.public, mech.privatize(np.zeros(mech.dimension), 0.25, seed=h)[0],
                               context=ctx[h], constant_time=False).to_bytes() for h in range(4)]
    total = fc.decrypt_packed(ks, fc.aggregate_packed(blobs, contexts=ctx), bound=mech.bound)
    # Assert: variance C * sigma_c^2 within 5 standard errors (sqrt(2/d) = 1 %).
    target = mech.num_clients * mech.variance_per_client
    assert abs(total.var() / target - 1) < 0.05
    assert abs(total.mean()) < 5 * math.sqrt(target / mech.dimension)
    assert np.abs(total).max() <= mech.bound


def test_under_client_sampling_the_sampled_hospitals_noise_sums_to_the_accounted_variance():
    """3 of 10 hospitals per round: their shares (not 3 of 10 shares sized for 10) make sigma^2."""
    # Prepare: unequal hospitals; the draw with the biggest and the two smallest has the
    # largest renormalized weight, which the mechanism must accept.
    counts = np.arange(1, 11) * 100
    cfg = RunConfig(clients=10, clients_per_round=3, noise_multiplier=1.5, rounds=3)
    dp = DifferentialPrivacy.from_config(cfg, counts, 20_000, 4.0)
    mech, chosen = dp.mechanism, [9, 0, 1]
    assert mech.num_clients == 3 and mech.max_weight == pytest.approx(1000 / 1300)
    ks = fc.KeySet.generate(k=16)
    ctx = [f"round 1, hospital {h}".encode() for h in chosen]
    weights = counts[chosen] / counts[chosen].sum()
    # Execute: privatize zero updates -> packed encrypt -> aggregate -> decrypt.
    blobs = [fc.encrypt_packed(ks.public, mech.privatize(np.zeros(mech.dimension), float(w), seed=i)[0],
                               context=ctx[i], constant_time=False).to_bytes() for i, w in enumerate(weights)]
    total = fc.decrypt_packed(ks, fc.aggregate_packed(blobs, contexts=ctx), bound=mech.bound)
    # Assert: the sum carries sigma^2 = (z * Delta)^2, the variance the accountant is told about
    # (within 5 standard errors, sqrt(2/d) = 1 %), and z is what the ledger records.
    sigma2 = (cfg.noise_multiplier * mech.sensitivity) ** 2
    assert abs(total.var() / sigma2 - 1) < 0.05
    assert dp.after_round(3)["dp_noise_multiplier"] == pytest.approx(1.5, rel=1e-3)


def test_max_sampled_weight():
    assert max_sampled_weight([5, 5, 5, 5], 2) == pytest.approx(0.5)
    assert max_sampled_weight([1, 2, 3, 10], 4) == pytest.approx(10 / 16)
    assert max_sampled_weight([1, 2, 3, 10], 2) == pytest.approx(10 / 11)
    assert max_sampled_weight([1, 2, 3, 10], 1) == 1.0
    with pytest.raises(ValueError, match="sampled"):
        max_sampled_weight([1, 2], 3)


def test_the_decoded_sum_is_unbiased_and_dequantizes_to_the_weighted_update():
    mech = _mechanism(noise_multiplier=0.05, dimension=5000)
    rng = np.random.default_rng(0)
    xs = rng.normal(0, 0.004, size=(4, mech.dimension))  # norm ~ 0.28: under the L2 clip
    summed = sum(mech.privatize(x, 0.25, seed=i)[0] for i, x in enumerate(xs))
    err = mech.dequantize(summed) - 0.25 * xs.sum(axis=0)
    noise_sd = math.sqrt(mech.num_clients * mech.variance_per_client) / mech.scale
    assert abs(err.mean()) < 5 * noise_sd / math.sqrt(mech.dimension)
    assert err.std() == pytest.approx(noise_sd, rel=0.1)


def test_privatize_clips_per_coordinate_then_in_l2():
    mech = _mechanism(noise_multiplier=1e-3, dimension=1000)
    x = np.zeros(mech.dimension)
    x[:3] = [10.0, -10.0, 3.0]  # two past the coordinate clip 4, then norm sqrt(41) > 1
    q, n_clipped = mech.privatize(x, 0.25, seed=1)
    assert n_clipped == 2
    expected = np.array([4.0, -4.0, 3.0]) / math.sqrt(41) * 0.25 * mech.scale
    np.testing.assert_allclose(q[:3], expected, atol=1 + 8 * math.sqrt(mech.variance_per_client))
    assert np.linalg.norm(q[:3]) < 0.25 * mech.scale * 1.01 + 3


def test_a_decoder_bound_the_noise_would_overflow_is_refused_with_what_to_change():
    with pytest.raises(DPConfigError, match=r"Raise --bound to at least \d+") as info:
        _mechanism(noise_multiplier=30.0, bound=2**14)
    needed = int(str(info.value).split("at least ")[1].split(",")[0])
    _mechanism(noise_multiplier=30.0, bound=needed)  # the advice works
    with pytest.raises(DPConfigError):
        _mechanism(noise_multiplier=30.0, bound=int(needed * 0.9))


def test_effective_noise_multiplier_counts_only_the_noise_the_sum_holds():
    mech = _mechanism(noise_multiplier=2.0)
    assert mech.effective_noise_multiplier(4) == pytest.approx(2.0, rel=1e-3)
    assert mech.effective_noise_multiplier(2) == pytest.approx(2.0 * math.sqrt(2 / 4), rel=1e-3)


# --- the protocol ---------------------------------------------------------------------------
def test_cli_refuses_a_dp_configuration_the_bound_cannot_carry(data_dir, tmp_path, capsys):
    argv = ["run", "--clients", "2", "--rounds", "1", "--train-examples", "300", "--validation-size", "100",
            "--noise-multiplier", "40", "--bound", "4096", "--chain", "none", "--fast-crypto",
            "--data-dir", str(data_dir), "--out", str(tmp_path / "dp")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot carry the DP noise" in err and "--bound" in err and "Traceback" not in err
    assert not (tmp_path / "dp").exists()  # no half-written run directory
    assert main(["run", "--dp-epsilon", "1", "--no-encrypt"]) == 2


@pytest.mark.parametrize(("clients", "per_round"), [(2, None), (3, 2)], ids=["all", "sampled"])
def test_a_dp_run_records_epsilon_spent_after_each_round(data_dir, tmp_path, clients, per_round):
    """Also under client sampling (before the fix a sampled hospital's renormalized weight
    exceeded the mechanism's maximum and the run died in round 1)."""
    ds = fdata.load_dataset("mnist", data_dir)
    small = fdata.Dataset("mnist", ds.x_train[:600], ds.y_train[:600], ds.x_test[:200], ds.y_test[:200], ds.classes)
    cfg = RunConfig(model="ann", clients=clients, clients_per_round=per_round, rounds=2, validation_size=100,
                    constant_time=False, chain="none", dp_epsilon=8.0, l2_clip=1e-3, seed=1)
    metrics = run(cfg, tmp_path / "dp-run", dataset=small, progress=False)
    rows = metrics["rounds"]
    assert [r["accepted"] for r in rows] == [2, 2]
    spent = [r["dp_epsilon_spent"] for r in rows]
    assert spent[0] < spent[1] <= 8.0 * (1 + 1e-6)
    assert spent[1] == pytest.approx(8.0, rel=1e-2)
    saved = json.loads((tmp_path / "dp-run" / "metrics.json").read_text())
    assert saved["rounds"][1]["dp_epsilon_spent"] == spent[1]
    assert dataclasses.asdict(cfg)["dp_epsilon"] == 8.0
    from fbh.protocol.report import build_report, format_report

    page = format_report(build_report(tmp_path / "dp-run", plots=False))
    assert f"privacy: epsilon {spent[1]:.3g} at delta 1e-05 spent after round 2" in page
