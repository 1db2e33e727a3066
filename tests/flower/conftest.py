"""A real Flower deployment on loopback for the tests in this folder.

Each deployment is a SuperLink and N SuperNodes started as separate OS processes with TLS and
SuperNode authentication on (:class:`fbh.flower.loopback.LoopbackDeployment`); the fixtures stop
them on teardown, and the kernel kills them if the test process dies first.
Deselect with ``-m "not flower"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fbh.flower.loopback import LoopbackDeployment


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LoopbackDeployment]]:
    """Starts loopback deployments (``deploy(node_configs)``); all are stopped when the module ends."""
    started: list[LoopbackDeployment] = []

    def start(node_configs: list[dict[str, Any]], **kwargs: Any) -> LoopbackDeployment:
        deployment = LoopbackDeployment(tmp_path_factory.mktemp("flower"), node_configs, **kwargs)
        started.append(deployment)
        return deployment.__enter__()

    yield start
    for deployment in started:
        deployment.close()
