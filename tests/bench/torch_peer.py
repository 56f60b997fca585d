#!/usr/bin/python3
"""The PyTorch peer of `make bench PEERS=1`: gdmpi's two benchmark problems in PyTorch
(Debian's python3-torch), on the same data and the same settings, so that bench.json can
put the ratio to PyTorch beside the ratio to the roofline.

usage: torch_peer.py TRAIN.h5 OUT.json [EPOCHS_SOFTMAX EPOCHS_MLP]

Problems (as configs/fmnist-softmax.cfg and configs/fmnist-mlp.cfg, no validation):
  softmax  784-10, SGD lr 0.1, batch 64
  mlp      784-256-128-10 relu, SGD momentum 0.9, lr 0.05, batch 64
Each runs single process (one thread: torch.set_num_threads(1), as gdmpi's one BLAS thread
per rank) and as DistributedDataParallel over gloo at np=2 (two processes on this machine,
64 rows per rank per step, each rank's contiguous half shuffled within, as gdmpi). The
figure is the best epoch's seconds of the training loop (forward, loss, backward, step,
and the batch gather from a shuffled index), the first epoch excluded as warm-up.
"""
import json
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

BATCH = 64


def load(path):
    with h5py.File(path, "r") as f:
        x = f["X"][()]
        y = f["y"][()]
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def model_and_opt(kind):
    torch.manual_seed(42)
    if kind == "softmax":
        m = nn.Linear(784, 10)
        return m, torch.optim.SGD(m.parameters(), lr=0.1)
    m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                      nn.Linear(128, 10))
    return m, torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)


def best_epoch(model, opt, x, y, epochs):
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs + 1):
        order = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return min(times[1:])  # the first epoch warms up the allocator and the caches


def ddp_rank(rank, size, kind, path, epochs, port, out):
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=size)
    x, y = load(path)
    per = len(x) // size
    x, y = x[rank * per:(rank + 1) * per], y[rank * per:(rank + 1) * per]
    model, _ = model_and_opt(kind)
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = (torch.optim.SGD(ddp.parameters(), lr=0.1) if kind == "softmax" else
           torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9))
    t = best_epoch(ddp, opt, x, y, epochs)
    worst = torch.tensor([t])
    dist.all_reduce(worst, op=dist.ReduceOp.MAX)
    if rank == 0:
        out.put(float(worst))
    dist.destroy_process_group()


def ddp(kind, path, epochs, port):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=ddp_rank, args=(r, 2, kind, path, epochs, port, out))
             for r in range(2)]
    for p in procs:
        p.start()
    t = out.get()
    for p in procs:
        p.join()
    return t


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__.split("\n\n")[1])
    path, out_path = sys.argv[1], sys.argv[2]
    epochs = {"softmax": int(sys.argv[3]) if len(sys.argv) == 5 else 3,
              "mlp": int(sys.argv[4]) if len(sys.argv) == 5 else 2}
    torch.set_num_threads(1)
    x, y = load(path)
    res = {"torch_version": torch.__version__}
    for kind in ("softmax", "mlp"):
        model, opt = model_and_opt(kind)
        res[kind + "_np1_s"] = best_epoch(model, opt, x, y, epochs[kind])
        res[kind + "_np2_ddp_s"] = ddp(kind, path, epochs[kind], 29500 + len(res))
        print("torch %s: np=1 %.3f s/epoch, DDP gloo np=2 %.3f s/epoch" % (
            kind, res[kind + "_np1_s"], res[kind + "_np2_ddp_s"]), flush=True)
    json.dump(res, open(out_path, "w"))


if __name__ == "__main__":
    main()
