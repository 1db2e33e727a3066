"""A plain NumPy FedAvg Flower app (logistic regression) that adopts fbh with two lines.

Run as a script (its own process: ray stays out of pytest): ``python tiny_app.py OUT CHAIN_URL``
prints the final arrays as JSON.  ``local_train`` is imported by the test for the plaintext oracle.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

TRUE_W = np.array([1.0, -2.0, 0.5, 0.0])


def local_data(pid: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(pid)
    x = rng.normal(size=(40 + 10 * pid, 4))
    return x, (x @ TRUE_W + 0.1 * rng.normal(size=len(x)) > 0).astype(np.float64)


def local_train(arrays: list[np.ndarray], pid: int) -> tuple[list[np.ndarray], int]:
    w, b = (np.asarray(a, np.float64) for a in arrays)
    x, y = local_data(pid)
    for _ in range(10):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w, b = w - 0.5 * x.T @ (p - y) / len(y), b - 0.5 * np.mean(p - y)
    return [w.astype(np.float32), np.asarray(b, np.float32).reshape(1)], len(y)


def accuracy(arrays: list[np.ndarray], pid: int) -> float:
    x, y = local_data(pid)
    return float(np.mean(((x @ arrays[0] + arrays[1]) > 0) == (y > 0)))


def main(out: str, chain_url: str) -> None:
    from flwr.simulation import run_simulation

    from fbh.flower.mod import fbh_mod
    from fbh.flower.workflow import FbhFedAvg
    from fbh.protocol.config import RunConfig

    client = ClientApp(mods=[fbh_mod])  # fbh, line 1 of 2

    @client.train()
    def train(msg: Message, ctx: Context) -> Message:
        new, n = local_train(msg.content["arrays"].to_numpy_ndarrays(), int(ctx.node_config["partition-id"]))
        return Message(RecordDict({"arrays": ArrayRecord(new), "metrics": MetricRecord({"num-examples": n})}),
                       reply_to=msg)

    @client.evaluate()
    def evaluate(msg: Message, ctx: Context) -> Message:
        acc = accuracy(msg.content["arrays"].to_numpy_ndarrays(), int(ctx.node_config["partition-id"]))
        return Message(RecordDict({"metrics": MetricRecord({"accuracy": acc, "num-examples": 1})}), reply_to=msg)

    final: dict = {}
    server = ServerApp()

    @server.main()
    def run(grid: Grid, ctx: Context) -> None:  # noqa: ARG001
        initial = ArrayRecord([np.zeros(4, np.float32), np.zeros(1, np.float32)])
        strategy = FbhFedAvg(RunConfig(clients=3, clip=4.0, constant_time=False, guardians=0, range_samples=0), out, chain_url)  # fbh, line 2
        result = strategy.start(grid, initial, num_rounds=2)
        final["arrays"] = [a.tolist() for a in result.to_numpy_ndarrays()]

    run_simulation(server, client, num_supernodes=5,
                   backend_config={"client_resources": {"num_cpus": 1}, "init_args": {"num_cpus": 1}})
    print(json.dumps(final))


if __name__ == "__main__":
    main(*sys.argv[1:3])
