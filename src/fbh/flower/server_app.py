"""``fbh.flower.server_app:app``: the Flower ``ServerApp`` of an fbh run (the server role).

Its run config (``[tool.flwr.app.config]`` or ``flwr run --run-config``) names
``out`` (the run directory), ``chain-url`` (the JSON-RPC URL all parties
share), ``config`` (a JSON object of :class:`fbh.protocol.config.RunConfig`
fields, e.g. ``{"dataset": "mnist", "model": "ann", "clients": 3}``) and,
optionally, ``timeout`` (seconds per stage).  From Python,
:func:`make_server_app` builds the same app with these given directly.
"""

from __future__ import annotations

import json
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fbh.flower.driver import FlowerRun
from fbh.protocol.config import RunConfig

__all__ = ["app", "make_server_app"]


def make_server_app(config: RunConfig, out_dir: str | Path, chain_url: str, *, timeout: float = 600.0,
                    result: dict | None = None) -> ServerApp:
    """A ``ServerApp`` that runs ``config`` into ``out_dir``; ``result`` (if given) receives the metrics."""
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:  # noqa: ARG001 - everything comes from the arguments
        metrics = FlowerRun(grid, config, out_dir, chain_url, timeout=timeout).run()
        if result is not None:
            result.update(metrics)

    return server_app


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    rc = context.run_config
    config = RunConfig.from_json(json.loads(str(rc.get("config", "{}"))))
    FlowerRun(grid, config, str(rc["out"]), str(rc["chain-url"]), timeout=float(rc.get("timeout", 600.0))).run()
