"""TF32 safety, checked on the CPU: the compiled programs ask for full float32 where it matters.

On Ampere/Hopper GPUs XLA runs DEFAULT-precision float32 matmuls in TF32 (~5e-4 relative
error), which broke three equality tests on an H100. A CPU ignores the precision setting,
so these tests read the lowered program instead of the numbers: they fail if FedAvg loses
its HIGHEST contraction, or if the trainer's cached jit stops honouring
``jax.default_matmul_precision`` (the fix the equality tests rely on).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fbh.train import FederatedTrainer, fedavg


def test_fedavg_contracts_at_highest_precision():
    jaxpr = jax.make_jaxpr(fedavg)({"w": jnp.ones((3, 2, 2))}, jnp.ones(3))
    dots = [e for e in jaxpr.eqns if e.primitive.name == "dot_general"]
    assert dots and all(e.params["precision"] == (jax.lax.Precision.HIGHEST,) * 2 for e in dots)


def test_default_matmul_precision_reaches_the_jitted_round():
    trainer = FederatedTrainer("ann", client_batch=None)
    args = (trainer.init(), np.zeros((2, 4, 28, 28, 1), np.uint8), np.zeros((2, 4), np.int32),
            np.ones((2, 4), bool), jax.random.key(0))
    default = trainer._round.lower(*args).as_text()
    with jax.default_matmul_precision("highest"):
        highest = trainer._round.lower(*args).as_text()
    dots = [line for line in highest.splitlines() if "dot_general" in line]
    assert dots and all("precision = [HIGHEST, HIGHEST]" in line for line in dots)
    assert "HIGHEST" not in default  # training itself keeps the fast default
