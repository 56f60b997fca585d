#!/usr/bin/python3
"""The peer of configs/fmnist-cnn.cfg in PyTorch (`make bench PEERS=1`): the same LeNet-5
(conv 5x5x6 padding 2, max pool 2, conv 5x5x16, max pool 2, fc 120, fc 84, 10; relu),
momentum SGD at batch 64 on one thread, one epoch over the Fashion-MNIST training file,
shuffled. Prints the best epoch's seconds of REPEATS.

usage: torch_lenet.py TRAIN.h5 [REPEATS]      (Debian's python3-torch and python3-h5py)
"""
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.out = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.out(F.relu(self.fc2(x)))


def epoch(model, opt, X, y, batch=64):
    order = torch.randperm(len(X))
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        F.cross_entropy(model(X[idx]), y[idx], reduction="sum").backward()
        opt.step()
    return time.perf_counter() - start


def main(argv):
    torch.set_num_threads(1)
    torch.manual_seed(42)
    with h5py.File(argv[1], "r") as f:
        X = torch.from_numpy(f["X"][()].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
        y = torch.from_numpy(f["y"][()].astype(np.int64))
    model = LeNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.05 / 64, momentum=0.9)
    repeats = int(argv[2]) if len(argv) > 2 else 1
    print("%.4f" % min(epoch(model, opt, X, y) for _ in range(repeats)))


if __name__ == "__main__":
    main(sys.argv)
