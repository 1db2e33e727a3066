"""The ServerApp ``fbh bench flower`` runs: fbh's server role over a metered ``Grid``.

The same :class:`fbh.flower.driver.FlowerRun` as ``fbh.flower.server_app:app``; the only
difference is :class:`fbh.flower.metering.MeteredGrid`, whose per-node byte counts go to
the run config's ``bytes-path`` as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fbh.flower.driver import FlowerRun
from fbh.flower.metering import MeteredGrid
from fbh.protocol.config import RunConfig

__all__ = ["app"]

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    rc = context.run_config
    metered = MeteredGrid(grid)
    config = RunConfig.from_json(json.loads(str(rc["config"])))
    FlowerRun(metered, config, str(rc["out"]), str(rc["chain-url"]), timeout=float(rc["timeout"])).run()
    Path(str(rc["bytes-path"])).write_text(json.dumps(metered.totals()))
