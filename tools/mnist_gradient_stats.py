#!/usr/bin/python3
"""mnist_gradient_stats.py: how large the MNIST MLP's gradients are, per layer, for the
sigmoid network the learned optimizers are meta-trained on and the ReLU network they
must transfer to (the experiments issue's column 3).

A coordinatewise optimizer sees one gradient coordinate at a time, so what it can
learn about "how far to step" is a function of that coordinate's gradient history.
This prints, for each activation, the median |gradient| of each layer's weights (the
first layer's counted where nonzero: border pixels are always 0) at initialization and
after 50 steps of NAG at the rate that suits that network (sigmoid 1.0, ReLU 0.3),
mean over 20 networks with PyTorch's default init, batch 128, as in task_mnist.c.
usage: /usr/bin/python3 tools/mnist_gradient_stats.py [data/mnist]
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_ref import load_mnist  # noqa: E402


def median_abs(t):
    return t.abs().flatten().median().item()


def stats(x, y, act, lr, nets=20, at=(0, 50)):
    f = torch.sigmoid if act == "sigmoid" else torch.relu
    sums = {s: [0.0, 0.0] for s in at}
    for _ in range(nets):
        l1, l2 = torch.nn.Linear(784, 20), torch.nn.Linear(20, 10)
        opt = torch.optim.SGD(list(l1.parameters()) + list(l2.parameters()), lr=lr, momentum=0.9, nesterov=True)
        for step in range(max(at) + 1):
            idx = torch.randint(0, x.shape[0], (128,))
            loss = torch.nn.functional.cross_entropy(l2(f(l1(x[idx]))), y[idx])
            opt.zero_grad()
            loss.backward()
            if step in sums:
                g1 = l1.weight.grad.abs().flatten()
                sums[step][0] += g1[g1 > 0].median().item() / nets
                sums[step][1] += median_abs(l2.weight.grad) / nets
            opt.step()
    return sums


def main():
    x, y = load_mnist(sys.argv[1] if len(sys.argv) > 1 else "data/mnist")
    torch.manual_seed(0)
    print("median |gradient| per layer (mean over 20 networks); NAG at the network's own rate")
    print(f"{'network':10} {'step':>4} {'layer 1 (784x20)':>18} {'layer 2 (20x10)':>16}")
    for act, lr in (("sigmoid", 1.0), ("relu", 0.3)):
        for step, (g1, g2) in stats(x, y, act, lr).items():
            print(f"{act:10} {step:4d} {g1:18.2e} {g2:16.2e}")


if __name__ == "__main__":
    main()
