"""ClientApp: a stand-in for local training that moves every weight by (partition id + 1)."""

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    partition = int(context.node_config["partition-id"])
    weights = msg.content["arrays"].to_numpy_ndarrays()[0] + (partition + 1)
    metrics = MetricRecord({"num-examples": partition + 1, "partition-id": partition})
    return Message(content=RecordDict({"arrays": ArrayRecord([weights]), "metrics": metrics}), reply_to=msg)
