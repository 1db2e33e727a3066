"""ClientApp: a NumPyClient whose fit is a fixed small step (a stand-in for local training,
so that both runs do identical client work and only the aggregation protocol differs)."""

import numpy as np
from flwr.client import ClientApp, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.common import Context


class StepClient(NumPyClient):
    def __init__(self, partition: int) -> None:
        self.partition = partition

    def fit(self, parameters, config):
        rng = np.random.default_rng(self.partition)
        stepped = [p + np.float32(1e-3) * rng.standard_normal(p.shape, dtype=np.float32) for p in parameters]
        return stepped, 1, {}


def client_fn(context: Context):
    return StepClient(int(context.node_config["partition-id"])).to_client()


def secagg_when_asked(msg, context: Context, call_next):
    """Flower's SecAgg+ mod for the SecAgg+ run; it expects SecAgg+ stages, so plain runs skip it."""
    if bool(context.run_config["secagg"]):
        return secaggplus_mod(msg, context, call_next)
    return call_next(msg, context)


app = ClientApp(client_fn=client_fn, mods=[secagg_when_asked])
