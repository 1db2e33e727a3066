"""Chain seconds per round (10 hospitals) and gas per call, embedded vs anvil.

Each backend's group holds the round and its baseline: as many plain ether
transfers as a round has transactions, on the same chain in the same run.
Gas per call goes into ``extra_info``. Targets (issue 4): commitUpdate
<= 80k gas, <= 1 s per round on anvil.

    pytest benchmarks/test_bench_chain.py --benchmark-only
"""

from __future__ import annotations

import itertools
import os

import pytest

import fbh.chain
from fbh.bench.chain_bench import gas_by_function, run_round, setup_cast, transfer_baseline
from fbh.chain.anvil import find_anvil
from fbh.chain.errors import ChainConfigError

HOSPITALS = 10
BACKENDS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]


@pytest.fixture(scope="module", params=BACKENDS)
def deployed(request: pytest.FixtureRequest):
    if request.param == "anvil":
        try:
            find_anvil()
        except ChainConfigError as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(str(exc))
            pytest.skip(str(exc))
    with fbh.chain.connect(request.param) as ledger:
        yield request.param, ledger, setup_cast(ledger, HOSPITALS), itertools.count(1)


def test_bench_chain_round(benchmark, deployed) -> None:
    kind, ledger, cast, rounds = deployed
    benchmark.group = f"chain-round-{kind}"
    benchmark.extra_info.update(backend=kind, hospitals=HOSPITALS, transactions=HOSPITALS + 3)

    def one_round() -> int:
        r = next(rounds)  # every timed call needs a fresh, higher round number
        run_round(ledger, cast, r)
        return r

    last = benchmark.pedantic(one_round, rounds=5, iterations=1, warmup_rounds=1)
    record = ledger.round(last)
    assert record.approved and len(record.updates) == HOSPITALS
    gas = gas_by_function(ledger)
    benchmark.extra_info["gas"] = gas
    assert gas["commitUpdate"]["max"] <= 80_000


def test_bench_chain_round_baseline(benchmark, deployed) -> None:
    kind, ledger, cast, _ = deployed
    benchmark.group = f"chain-round-{kind}"
    benchmark.extra_info.update(backend=kind, transactions=HOSPITALS + 3, baseline="ether transfers")
    before = len(ledger.transactions)
    benchmark.pedantic(transfer_baseline, args=(ledger, cast), rounds=5, iterations=1, warmup_rounds=1)
    assert len(ledger.transactions) - before == 6 * (HOSPITALS + 3)
