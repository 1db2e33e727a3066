"""fbh.train: local (one client), federated (vmap), FedAvg, evaluation, checkpoints."""

from fbh.train.centralized import train_centralized
from fbh.train.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint
from fbh.train.evaluate import evaluate, predict
from fbh.train.fedavg import fedavg, num_params, ravel, ravel_clients, unravel
from fbh.train.federated import FederatedTrainer, default_client_batch, make_local_fn, make_round_impl
from fbh.train.local import LocalConfig, State, init_state, local_train, make_optimizer

__all__ = [
    "FederatedTrainer",
    "LocalConfig",
    "State",
    "default_client_batch",
    "evaluate",
    "fedavg",
    "init_state",
    "load_checkpoint",
    "local_train",
    "make_local_fn",
    "make_optimizer",
    "make_round_impl",
    "num_params",
    "predict",
    "ravel",
    "ravel_clients",
    "read_checkpoint_meta",
    "save_checkpoint",
    "train_centralized",
    "unravel",
]
