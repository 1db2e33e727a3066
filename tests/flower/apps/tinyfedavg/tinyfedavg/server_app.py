"""ServerApp: plain FedAvg over every connected node; writes the rounds' record as JSON."""

import json
from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.serverapp import Grid, ServerApp

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    weights = [np.zeros(4, dtype=np.float64)]
    rounds = []
    for server_round in range(1, int(context.run_config["num-server-rounds"]) + 1):
        nodes = sorted(grid.get_node_ids())
        content = RecordDict({"arrays": ArrayRecord(weights), "config": ConfigRecord({"round": server_round})})
        replies = grid.send_and_receive([Message(content=content, dst_node_id=node, message_type="train",
                                                 group_id=str(server_round)) for node in nodes],
                                      timeout=float(context.run_config["reply-timeout"]))
        ok = [r for r in replies if not r.has_error()]
        updates = [r.content["arrays"].to_numpy_ndarrays()[0] for r in ok]
        counts = np.array([r.content["metrics"]["num-examples"] for r in ok], dtype=np.float64)
        weights = [np.tensordot(counts / counts.sum(), np.stack(updates), axes=1)]
        rounds.append({"round": server_round, "nodes": len(nodes), "replies": len(ok),
                       "partitions": sorted(int(r.content["metrics"]["partition-id"]) for r in ok)})
    Path(str(context.run_config["result-path"])).write_text(
        json.dumps({"rounds": rounds, "weights": weights[0].tolist()}))
