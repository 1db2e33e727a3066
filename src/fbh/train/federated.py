"""All clients' local training in ONE jitted call: ``vmap`` over ``local_train``.

The NNX model is split into ``graphdef`` and a pure state once, here; the
round function broadcasts the global state to every client
(``in_axes=None``) and maps the clients' data and keys (axis 0), returning
stacked client states with the client axis ``C`` first. Clients are padded to
a common ``N`` (see ``fbh.train.local`` for the masking rules): a client with
fewer examples takes the same number of scan steps, but its all-padding
steps change nothing.

Speed notes (XLA CPU, 2 cores, 10 clients x 600 images, best of 3): the
convolutions are patches x matmul, so under ``vmap`` the per-client weights
become one batched matmul and the weight gradient stays a matmul inside
``lax.scan`` (unroll 2 and 5 measured no faster). Still, a ``vmap`` over all
10 clients ran 0.82x a Python loop over clients on a quiet machine: every
activation becomes 10x larger and leaves the cache. Vmapping ONE client at
a time under ``lax.map`` (``client_batch=1``, the CPU default) ran 0.92x
the loop and 1.27x PyTorch CPU (quiet machine; 1.17x and 1.9x when the
machine was loaded). On GPU the full ``vmap`` (``client_batch=None``) is
the default. ``fbh.bench.train_bench`` measures all variants.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from fbh.model import create_model, param_count
from fbh.train.evaluate import evaluate, predict
from fbh.train.fedavg import fedavg
from fbh.train.local import LocalConfig, State, init_state, local_train

__all__ = ["FederatedTrainer", "default_client_batch", "make_local_fn", "make_round_impl"]


def make_round_impl(graphdef: nnx.GraphDef, cfg: LocalConfig, client_batch: int | None = None):
    """The pure round function ``(state, x_c, y_c, mask, key) -> (client_states, metrics)``.

    Args:
      graphdef: the model's NNX graphdef.
      cfg: local hyper-parameters.
      client_batch: clients trained simultaneously by ``vmap``; ``None``
        vmaps all ``C`` at once (best on GPU). A smaller value vmaps chunks
        of that many clients and runs the chunks one after another with
        ``lax.map`` inside the same compiled call: on a CPU the activations
        of one or two clients stay in cache, which beats one ``C``-wide
        ``vmap`` (see ``fbh.bench.train_bench``). Results do not depend on
        it (up to float rounding).

    Returns:
      An un-jitted function; ``x_c`` is ``[C, N, 28, 28, 1]``, ``y_c``
      ``int32[C, N]``, ``mask`` ``bool[C, N]``, ``key`` one PRNG key (split
      into one key per client inside). Outputs carry ``C`` first.
    """
    client = functools.partial(local_train, graphdef, cfg)

    def round_impl(state: State, x_c, y_c, mask, key):
        c = x_c.shape[0]
        keys = jax.random.split(key, c)
        if client_batch is None or client_batch >= c:
            return jax.vmap(client, in_axes=(None, 0, 0, 0, 0))(state, x_c, y_c, mask, keys)
        # lax.map vmaps `batch_size` clients at a time (remainder included).
        return jax.lax.map(lambda a: client(state, *a), (x_c, y_c, mask, keys), batch_size=client_batch)

    return round_impl


def default_client_batch() -> int | None:
    """``client_batch`` default: 1 on CPU (cache-resident clients), ``None`` (all) elsewhere."""
    return 1 if jax.default_backend() == "cpu" else None


def make_local_fn(graphdef: nnx.GraphDef, cfg: LocalConfig):
    """Jitted ``local_train`` for one client: ``(state, x, y, mask, key) -> (state, metrics)``."""
    return jax.jit(functools.partial(local_train, graphdef, cfg))


class FederatedTrainer:
    """Entry point for the protocol code: init, one compiled round, evaluation.

    Example::

        trainer = FederatedTrainer("cnn", num_classes=10, lr=0.05)
        state = trainer.init()
        client_states, metrics = trainer.round(state, x_c, y_c, mask, key)
        state = fedavg(client_states, metrics["num_examples"])
        acc, loss = trainer.evaluate(state, x_test, y_test)
    """

    def __init__(
        self,
        model_name: str = "cnn",
        num_classes: int = 10,
        lr: float = 0.05,
        momentum: float = 0.0,
        batch_size: int = 10,
        local_epochs: int = 1,
        seed: int = 0,
        unroll: int = 1,
        client_batch: int | None | str = "auto",
    ):
        """Builds the model and the jitted round.

        Args:
          model_name: ``"cnn"`` or ``"ann"``.
          num_classes: output classes.
          lr: SGD learning rate.
          momentum: SGD momentum (reset each round).
          batch_size: local batch size ``B``.
          local_epochs: local epochs ``E`` per round.
          seed: seed of the initial global model.
          unroll: ``lax.scan`` unroll factor over local steps.
          client_batch: clients per ``vmap`` chunk (see :func:`make_round_impl`);
            ``"auto"`` picks :func:`default_client_batch`.
        """
        self.model_name = model_name
        self.num_classes = num_classes
        self.seed = seed
        self.config = LocalConfig(lr, momentum, batch_size, local_epochs, unroll)
        self.graphdef, self._init_state = init_state(create_model(model_name, num_classes, seed))
        self.num_traces = 0  # Python side effect at trace time: counts compilations

        if client_batch == "auto":
            client_batch = default_client_batch()
        self.client_batch = client_batch
        impl = make_round_impl(self.graphdef, self.config, client_batch)

        def counted(*args):
            self.num_traces += 1
            return impl(*args)

        self._round = jax.jit(counted)

    @property
    def num_params(self) -> int:
        """Trainable parameters of the model (batch statistics excluded)."""
        return param_count(self._init_state["params"])

    def init(self) -> State:
        """The initial global state ``{"params", "batch_stats"}`` (seeded)."""
        return jax.tree.map(jnp.array, self._init_state)

    def round(self, state: State, x_c, y_c, mask, key: jax.Array) -> tuple[State, dict[str, jax.Array]]:
        """Trains all clients from ``state`` for ``local_epochs`` (one compiled call).

        Args:
          state: the global state, broadcast to every client.
          x_c: ``[C, N, 28, 28, 1]`` uint8 or float32 client images.
          y_c: ``int32[C, N]`` labels.
          mask: ``bool[C, N]``, True for real examples.
          key: PRNG key of the round (one key per client is split from it).

        Returns:
          ``(client_states, metrics)``: leaves ``[C, ...]``; metrics
          ``loss``, ``accuracy``, ``num_examples``, ``steps``, each ``[C]``.

        Raises:
          ValueError: on inconsistent shapes.
        """
        c, n = np.shape(mask)
        if np.shape(x_c)[:2] != (c, n) or np.shape(y_c) != (c, n):
            msg = f"x_c {np.shape(x_c)}, y_c {np.shape(y_c)} and mask {(c, n)} disagree on [C, N]"
            raise ValueError(msg)
        return self._round(state, x_c, jnp.asarray(y_c, jnp.int32), jnp.asarray(mask, bool), key)

    def aggregate(self, client_states: State, num_examples) -> State:
        """Plaintext FedAvg of the clients' states (the encrypted path's oracle)."""
        return fedavg(client_states, num_examples)

    def evaluate(self, state: State, x, y, batch_size: int = 1000) -> tuple[float, float]:
        """``(accuracy, loss)`` on a labelled set, using running batch statistics."""
        return evaluate(self.graphdef, state, x, y, batch_size)

    def predict(self, state: State, x, batch_size: int = 1000) -> np.ndarray:
        """Predicted labels ``int32[N]``."""
        return predict(self.graphdef, state, x, batch_size)

    def meta(self) -> dict[str, Any]:
        """What a checkpoint needs to rebuild this model."""
        return {"model": self.model_name, "num_classes": self.num_classes, "seed": self.seed}
