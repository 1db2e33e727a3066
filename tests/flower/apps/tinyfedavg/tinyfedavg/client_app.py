"""ClientApp: a stand-in for local training that moves every weight by (partition id + 1)."""

import time

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    partition = int(context.node_config["partition-id"])
    time.sleep(float(context.run_config["train-seconds"]))  # room for a test to kill the node mid-round
    weights = msg.content["arrays"].to_numpy_ndarrays()[0] + (partition + 1)
    metrics = MetricRecord({"num-examples": partition + 1, "partition-id": partition})
    return Message(content=RecordDict({"arrays": ArrayRecord([weights]), "metrics": metrics}), reply_to=msg)
