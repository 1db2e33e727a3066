"""Flower's SecAgg+ against plain FedAvg on fbh's CNN, over a real loopback deployment (pytest-benchmark).

Small (3 SuperNodes, 1 round) so it runs in minutes; ``fbh bench flower`` measures the 10-client
setting and, with ``--fbh``, fbh itself in-process and on the deployment.
"""

from __future__ import annotations

import pytest

from fbh.bench.flower_bench import run_secagg_bench
from fbh.flower.loopback import LoopbackDeployment


@pytest.mark.flower
def test_bench_secagg_plus_vs_plain(benchmark, tmp_path):
    with LoopbackDeployment(tmp_path, [{"partition-id": i} for i in range(3)]) as deployment:
        result = benchmark.pedantic(run_secagg_bench, args=(deployment,),
                                    kwargs={"clients": 3, "rounds": 1, "num_shares": 3, "threshold": 2},
                                    rounds=1, iterations=1)
    # SecAgg+ sends its masked vector as 8-byte integers: twice plain float32, per CNN parameter.
    params = result["plain"]["parameters"]
    assert result["plain"]["up_bytes_per_client_round"] == pytest.approx(4 * params, rel=0.01)
    assert result["secagg+"]["up_bytes_per_client_round"] == pytest.approx(8 * params, rel=0.01)
    benchmark.extra_info.update(result)
