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

from fbh.model import BUILTIN_MODELS, ModelSpec, create_model, param_count
from fbh.train.evaluate import evaluate, predict, predict_proba
from fbh.train.fedavg import fedavg
from fbh.train.local import LocalConfig, State, init_state, local_train

__all__ = ["FederatedTrainer", "build_model", "default_client_batch", "make_local_fn", "make_round_impl"]


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

    def train_impl(state: State, x_c, y_c, mask, keys):
        if client_batch is None or client_batch >= x_c.shape[0]:
            return jax.vmap(client, in_axes=(None, 0, 0, 0, 0))(state, x_c, y_c, mask, keys)
        # lax.map vmaps `batch_size` clients at a time (remainder included).
        return jax.lax.map(lambda a: client(state, *a), (x_c, y_c, mask, keys), batch_size=client_batch)

    def round_impl(state: State, x_c, y_c, mask, key):
        return train_impl(state, x_c, y_c, mask, jax.random.split(key, x_c.shape[0]))

    round_impl.with_keys = train_impl  # one key per client given: a client training on its own node
    return round_impl


def default_client_batch() -> int | None:
    """``client_batch`` default: 1 on CPU (cache-resident clients), ``None`` (all) elsewhere."""
    return 1 if jax.default_backend() == "cpu" else None


def make_local_fn(graphdef: nnx.GraphDef, cfg: LocalConfig):
    """Jitted ``local_train`` for one client: ``(state, x, y, mask, key) -> (state, metrics)``."""
    return jax.jit(functools.partial(local_train, graphdef, cfg))


def build_model(model, num_classes: int, seed: int, input_shape) -> tuple[nnx.Module, ModelSpec | None]:
    """``(module, spec)`` from a name, a ``"module:callable"`` path, a :class:`ModelSpec` or a module.

    A module instance is used as given (its spec is unknown: ``None``).
    """
    if isinstance(model, nnx.Module):
        return model, None
    if isinstance(model, str) and model not in BUILTIN_MODELS and ":" not in model:
        create_model(model)  # raises the "unknown model" error
    spec = model if isinstance(model, ModelSpec) else ModelSpec(model)
    spec = spec.completed(num_classes, input_shape)
    return spec.build(seed), spec


class FederatedTrainer:
    """Entry point for the protocol code: init, one compiled round, evaluation.

    Example::

        trainer = FederatedTrainer("cnn", num_classes=10, lr=0.05)
        state = trainer.init()
        client_states, metrics = trainer.round(state, x_c, y_c, mask, key)
        state = fedavg(client_states, metrics["num_examples"])
        acc, loss = trainer.evaluate(state, x_test, y_test)

    Any Flax NNX module works (see :mod:`fbh.model.spec` for the calling
    convention): ``FederatedTrainer(MyMLP(rngs=nnx.Rngs(0)))`` or, so that
    checkpoints can rebuild it, ``FederatedTrainer(ModelSpec("mypkg.nets:MyMLP", {"hidden": 64}))``.
    """

    def __init__(
        self,
        model_name="cnn",
        num_classes: int = 10,
        lr: float = 0.05,
        momentum: float = 0.0,
        batch_size: int = 10,
        local_epochs: int = 1,
        seed: int = 0,
        unroll: int = 1,
        client_batch: int | None | str = "auto",
        *,
        input_shape=(28, 28, 1),
        mu: float = 0.0,
        trainable: tuple[str, ...] | None = None,
        norm=None,
    ):
        """Builds the model and the jitted round.

        Args:
          model_name: ``"cnn"``, ``"ann"``, a ``"package.module:callable"``
            factory, a :class:`~fbh.model.ModelSpec`, or an ``nnx.Module``.
          num_classes: output classes (passed to factories that take it).
          lr: SGD learning rate.
          momentum: SGD momentum (reset each round).
          batch_size: local batch size ``B``.
          local_epochs: local epochs ``E`` per round.
          seed: seed of the initial global model.
          unroll: ``lax.scan`` unroll factor over local steps.
          client_batch: clients per ``vmap`` chunk (see :func:`make_round_impl`);
            ``"auto"`` picks :func:`default_client_batch`.
          input_shape: ``(H, W, C)`` of the images (passed to factories that take it).
          mu: FedProx proximal weight (0: plain local SGD).
          trainable: state leaf paths that train (``None``: all); see
            :func:`fbh.train.select_trainable`.
          norm: the dataset's per-channel ``(mean, std)`` or ``None``.
        """
        module, self.spec = build_model(model_name, num_classes, seed, input_shape)
        self.model_name = model_name if isinstance(model_name, str) else type(module).__name__
        self.num_classes = num_classes
        self.input_shape = tuple(int(v) for v in input_shape)
        self.seed = seed
        if norm is not None:
            norm = tuple(tuple(float(v) for v in np.ravel(part)) for part in norm)
        self.config = LocalConfig(lr, momentum, batch_size, local_epochs, unroll, mu,
                                  None if trainable is None else tuple(trainable), norm)
        self.graphdef, self._init_state = init_state(module)
        self.num_traces = 0  # Python side effect at trace time: counts compilations

        if client_batch == "auto":
            client_batch = default_client_batch()
        self.client_batch = client_batch
        impl = make_round_impl(self.graphdef, self.config, client_batch)

        def counted(*args):
            self.num_traces += 1
            return impl(*args)

        self._round = jax.jit(counted)
        self._train_clients = jax.jit(impl.with_keys)

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

    def train_clients(self, state: State, x_c, y_c, mask, keys: jax.Array) -> tuple[State, dict[str, jax.Array]]:
        """:meth:`round` with the clients' keys given (``keys[C]``) instead of split from one round key.

        A hospital training alone on its own node passes its own key
        (:func:`fbh.protocol.round.client_keys`); on CPU (``client_batch=1``)
        it then computes bit for bit what :meth:`round` computes for it among all clients.
        """
        c, n = np.shape(mask)
        if np.shape(x_c)[:2] != (c, n) or np.shape(y_c) != (c, n) or np.shape(keys)[0] != c:
            msg = f"x_c {np.shape(x_c)}, y_c {np.shape(y_c)}, keys {np.shape(keys)} and mask {(c, n)} disagree on C, N"
            raise ValueError(msg)
        return self._train_clients(state, x_c, jnp.asarray(y_c, jnp.int32), jnp.asarray(mask, bool), keys)

    def aggregate(self, client_states: State, num_examples) -> State:
        """Plaintext FedAvg of the clients' states (the encrypted path's oracle)."""
        return fedavg(client_states, num_examples)

    def evaluate(self, state: State, x, y, batch_size: int = 1000) -> tuple[float, float]:
        """``(accuracy, loss)`` on a labelled set, using running batch statistics."""
        return evaluate(self.graphdef, state, x, y, batch_size, self.config.norm)

    def predict(self, state: State, x, batch_size: int = 1000) -> np.ndarray:
        """Predicted labels ``int32[N]``."""
        return predict(self.graphdef, state, x, batch_size, self.config.norm)

    def predict_proba(self, state: State, x, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities ``float32[N, K]``."""
        return predict_proba(self.graphdef, state, x, batch_size, self.config.norm)

    def meta(self) -> dict[str, Any]:
        """What a checkpoint needs to rebuild this model (``model_spec`` is None for a bare module)."""
        return {
            "model": self.model_name, "num_classes": self.num_classes, "seed": self.seed,
            "input_shape": list(self.input_shape),
            "model_spec": None if self.spec is None else self.spec.to_json(),
            "norm": None if self.config.norm is None else [list(v) for v in self.config.norm],
        }
