"""Training throughput: one-call round vs a per-client loop vs PyTorch CPU.

Run ``python -m fbh.bench.train_bench`` for a table and JSON. All variants
train the same 422k-parameter CNN (batch 10, SGD with momentum) on the same
random uint8 images; every variant is compiled/warmed up before timing, JAX
results are ``block_until_ready``-ed, and each figure is the best of
``repeats`` runs (the machine is shared: compare ratios within one run).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable

import jax
import numpy as np

from fbh.train import FederatedTrainer, make_local_fn

__all__ = ["run_train_bench", "torch_cnn"]


def _best_seconds(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return sorted(times)


def torch_cnn(num_classes: int = 10):
    """The same CNN in PyTorch (NCHW): 4 x (conv3x3-ReLU-maxpool), BN after conv2, 2 dense."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, num_classes),
    )  # fmt: skip


def _torch_round(x, y, batch_size, local_epochs, lr, momentum):
    """PyTorch: train each client in turn from the same global model."""
    import torch

    xt = torch.from_numpy(x.astype(np.float32) / 255.0).permute(0, 1, 4, 2, 3).contiguous()
    yt = torch.from_numpy(y.astype(np.int64))
    global_model = torch_cnn()
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        states = []
        for c in range(xt.shape[0]):
            model = torch_cnn()
            model.load_state_dict(global_model.state_dict())
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
            for _ in range(local_epochs):
                order = torch.randperm(xt.shape[1])
                for i in range(0, xt.shape[1], batch_size):
                    idx = order[i : i + batch_size]
                    opt.zero_grad(set_to_none=True)
                    loss_fn(model(xt[c, idx]), yt[c, idx]).backward()
                    opt.step()
            states.append(model.state_dict())
        return states

    return run, torch.__version__, torch.get_num_threads()


def run_train_bench(
    clients: int = 10,
    examples_per_client: int = 600,
    batch_size: int = 10,
    local_epochs: int = 1,
    repeats: int = 3,
    with_torch: bool = True,
    seed: int = 0,
) -> dict:
    """Measures images/s of one training round, three (or four) ways.

    Variants: ``round_vmap`` (one jitted call, ``vmap`` over all clients),
    ``round_chunked`` (one jitted call, ``vmap`` over one client at a time
    under ``lax.map``: the CPU default), ``loop_jit`` (a Python loop calling
    the same jitted local training per client) and ``torch`` (PyTorch CPU,
    client after client; skipped if torch is not importable).

    Args:
      clients: ``C``.
      examples_per_client: ``N`` per client.
      batch_size: local batch size.
      local_epochs: local epochs.
      repeats: timed repetitions per variant (best is reported).
      with_torch: include PyTorch if importable.
      seed: data and model seed.

    Returns:
      A JSON-serializable dict: the settings, ``images_per_s`` per variant
      (best run), ``median_images_per_s`` and ratios against ``torch`` and
      ``loop_jit``.
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (clients, examples_per_client, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, (clients, examples_per_client)).astype(np.int32)
    mask = np.ones((clients, examples_per_client), bool)
    key = jax.random.key(seed)
    images = clients * examples_per_client * local_epochs
    kw = dict(lr=0.01, momentum=0.9, batch_size=batch_size, local_epochs=local_epochs, seed=seed)

    variants: dict[str, Callable[[], object]] = {}
    xd, yd, md = jax.device_put(x), jax.device_put(y), jax.device_put(mask)
    for name, cb in (("round_vmap", None), ("round_chunked", 1)):
        trainer = FederatedTrainer("cnn", client_batch=cb, **kw)
        variants[name] = functools.partial(trainer.round, trainer.init(), xd, yd, md, key)
    local = make_local_fn(trainer.graphdef, trainer.config)
    state, keys = trainer.init(), jax.random.split(key, clients)
    per_client = [(xd[c], yd[c], md[c], keys[c]) for c in range(clients)]
    variants["loop_jit"] = lambda: [local(state, *args) for args in per_client]
    info = {}
    if with_torch:
        try:
            run, version, threads = _torch_round(x, y, batch_size, local_epochs, kw["lr"], kw["momentum"])
            variants["torch"] = run
            info = {"torch_version": version, "torch_threads": threads}
        except ImportError:
            info = {"torch_version": None}

    for fn in variants.values():  # compile / warm up
        jax.block_until_ready(fn())
    times = {name: [] for name in variants}
    for _ in range(repeats):  # interleave variants so load changes hit all of them
        for name, fn in variants.items():
            times[name] += _best_seconds(fn, 1)
    best = {k: images / min(v) for k, v in times.items()}
    median = {k: images / sorted(v)[len(v) // 2] for k, v in times.items()}
    ratios = {f"{k}/loop_jit": best[k] / best["loop_jit"] for k in best}
    if "torch" in best:
        ratios.update({f"{k}/torch": best[k] / best["torch"] for k in best})
    return {
        "clients": clients,
        "examples_per_client": examples_per_client,
        "batch_size": batch_size,
        "local_epochs": local_epochs,
        "repeats": repeats,
        "backend": jax.default_backend(),
        "images_per_s": best,
        "median_images_per_s": median,
        "ratios": ratios,
        **info,
    }


def _print_table(result: dict) -> None:
    print(f"{'variant':<15}{'best img/s':>12}{'median img/s':>14}{'vs loop_jit':>13}{'vs torch':>10}")
    for name, v in result["images_per_s"].items():
        vs_torch = result["ratios"].get(f"{name}/torch")
        torch_txt = f"{vs_torch:>9.2f}x" if vs_torch else f"{'-':>10}"
        print(f"{name:<15}{v:>12.0f}{result['median_images_per_s'][name]:>14.0f}"
              f"{result['ratios'][f'{name}/loop_jit']:>12.2f}x{torch_txt}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: prints the table, then the JSON."""
    p = argparse.ArgumentParser(prog="fbh bench train", description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--examples-per-client", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--local-epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-torch", action="store_true")
    a = p.parse_args(argv)
    result = run_train_bench(a.clients, a.examples_per_client, a.batch_size, a.local_epochs, a.repeats, not a.no_torch)
    _print_table(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
