"""fbh.train: local (one client), federated (vmap), FedAvg, evaluation, checkpoints."""

from fbh.train.centralized import train_centralized
from fbh.train.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint
from fbh.train.evaluate import evaluate, predict, predict_proba, roc_auc
from fbh.train.fedavg import fedavg, num_params, ravel, ravel_clients, unravel
from fbh.train.federated import FederatedTrainer, build_model, default_client_batch, make_local_fn, make_round_impl
from fbh.train.local import LocalConfig, State, init_state, leaf_paths, local_train, make_optimizer
from fbh.train.transfer import load_pretrained, read_flat_checkpoint, select_trainable, trainable_indices

__all__ = [
    "FederatedTrainer",
    "LocalConfig",
    "State",
    "build_model",
    "default_client_batch",
    "evaluate",
    "fedavg",
    "init_state",
    "leaf_paths",
    "load_pretrained",
    "load_checkpoint",
    "local_train",
    "make_local_fn",
    "make_optimizer",
    "make_round_impl",
    "num_params",
    "predict",
    "predict_proba",
    "ravel",
    "ravel_clients",
    "read_checkpoint_meta",
    "read_flat_checkpoint",
    "roc_auc",
    "select_trainable",
    "save_checkpoint",
    "train_centralized",
    "trainable_indices",
    "unravel",
]
