"""ServerApp: Flower's legacy FedAvg driven by DefaultWorkflow, its fit step optionally SecAgg+.

Each round's fit step is timed (the seconds SecAgg+ adds show up there) and every message's payload
is counted (:class:`fbh.flower.metering.MeteredGrid`); both, and the model's size, go to
``result-path`` as JSON.
"""

import json
import time
from pathlib import Path

import numpy as np
from flwr.common import Context, ndarrays_to_parameters
from flwr.server import Grid, LegacyContext, ServerApp, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.server.workflow.default_workflows import default_fit_workflow

from fbh.flower.metering import MeteredGrid

app = ServerApp()


def _initial_arrays(model: str) -> list[np.ndarray]:
    import jax  # noqa: PLC0415 - only the server builds the model, the clients get arrays
    from flax import nnx  # noqa: PLC0415

    from fbh.model import create_model  # noqa: PLC0415

    params = nnx.state(create_model(model, num_classes=10, seed=0), nnx.Param)
    return [np.asarray(leaf, dtype=np.float32) for leaf in jax.tree.leaves(params)]


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    grid = MeteredGrid(grid)
    arrays = _initial_arrays(str(cfg["model"]))
    nodes = len(list(grid.get_node_ids()))
    strategy = FedAvg(fraction_fit=1.0, min_fit_clients=nodes, min_available_clients=nodes,
                      fraction_evaluate=0.0, initial_parameters=ndarrays_to_parameters(arrays))
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=int(cfg["num-server-rounds"])),
                           strategy=strategy)
    inner = (SecAggPlusWorkflow(num_shares=int(cfg["num-shares"]),
                                reconstruction_threshold=int(cfg["reconstruction-threshold"]))
             if bool(cfg["secagg"]) else default_fit_workflow)
    fit_seconds: list[float] = []

    def timed_fit(grid: Grid, context: Context) -> None:
        start = time.perf_counter()
        inner(grid, context)
        fit_seconds.append(time.perf_counter() - start)

    DefaultWorkflow(fit_workflow=timed_fit)(grid, legacy)
    Path(str(cfg["result-path"])).write_text(json.dumps({
        "secagg": bool(cfg["secagg"]), "nodes": nodes, "fit_seconds": fit_seconds,
        "parameters": int(sum(a.size for a in arrays)), "bytes": grid.totals()}))
