#!/usr/bin/python3
"""metagrad_study.py MODE [META_LR EPOCHS UNROLL SEED]: does the L2L meta-gradient's
first-order approximation (the optimizee's gradients treated as data, as ham does)
hold phnn_rms back on the MNIST sigmoid task?  A PyTorch study, run from the repo root
with Debian's python3-torch: MODE first meta-trains with the gradients detached (what
ham's adjoint computes), MODE exact with create_graph, so the meta-gradient includes
the optimizee's Hessian-vector products.  Everything else is the same: the same
optimizer, initialization, minibatches, Adam at META_LR (0.003), unroll 20, sum
meta-loss, 20 runs of 100 steps an epoch, and after each epoch the mean loss at step
100 on the same 100 held-out runs (paired across epochs and modes).  SEED (0, the
default, is the first study's streams) changes the read-out's initial weights and
the training runs, not the held-out ones.

The optimizer is phnn_rms's core (stdlib/phnn_rms.ham: Nesterov momentum on the
RMS-scaled gradient with a floor c = 0.01, step e^(s + kt t/100), the same initial
values) without the position q and its potential, plus a small read-out network of
(gn, p', p) (16 tanh units, its output weights zero at the start): phnn_mlp2 in the
README.  results/mnist_sigmoid/metagrad_study.txt holds both runs (10 epochs, about
8 minutes each on one core).  The MNIST split is this script's own (a permutation
with seed 1), not ham's, so its losses are comparable between the modes only."""
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_ref import load_mnist  # noqa: E402

torch.set_num_threads(1)
mode = sys.argv[1]
if mode not in ("first", "exact"):
    sys.exit("usage: metagrad_study.py first|exact [META_LR EPOCHS UNROLL SEED]")
mlr = float(sys.argv[2]) if len(sys.argv) > 2 else 0.003
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
U = int(sys.argv[4]) if len(sys.argv) > 4 else 20
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
x, y = load_mnist("data/mnist")
perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(1))
tr, ev = perm[:30000], perm[30000:]
sizes = [20 * 784, 20, 200, 10]
def init(gen):
    k1, k2 = 1 / math.sqrt(784), 1 / math.sqrt(20)
    return torch.cat([(torch.rand(s, generator=gen) * 2 - 1) * k for s, k in zip(sizes, (k1, k1, k2, k2))])
def loss_fn(th, pool, gen):
    idx = pool[torch.randint(pool.numel(), (128,), generator=gen)]
    W1, b1, W2, b2 = torch.split(th, sizes)
    a = torch.sigmoid(F.linear(x[idx], W1.view(20, 784), b1))
    return F.cross_entropy(F.linear(a, W2.view(10, 20), b2), y[idx])
# params: s (log lr), kt (decay), rp (friction via softplus), d, a (readout), K
P = {"s": torch.tensor(-4.27), "kt": torch.tensor(-1.5), "rp": torch.tensor(-2.252),
     "d": torch.tensor(-1.0), "a": torch.tensor(0.9), "K": torch.tensor(-1.0)}
gW = torch.Generator().manual_seed(3 + 1000 * seed)
P["W"] = torch.randn(16, 3, generator=gW) * 0.3; P["b"] = torch.zeros(16); P["w"] = torch.zeros(16)
for v in P.values(): v.requires_grad_(True)
c, r2 = 0.01, 0.001
def step(g, st, t):
    v, p = st
    vn = v + r2 / -math.expm1(t * math.log1p(-r2)) * (g * g - v)
    gn = g / torch.sqrt(vn + c * c)
    p2 = p - F.softplus(P["rp"]) * p / F.softplus(torch.tensor(0.5413)) + P["K"] * gn
    feat = torch.stack((gn, p2, p), 1)
    mlp = torch.tanh(feat @ P["W"].t() + P["b"]) @ P["w"]
    upd = torch.tanh(torch.exp(P["s"] + P["kt"] * t / 100) * (P["d"] * gn + P["a"] * p2 + mlp))
    return upd, (vn, p2)
def evaluate(n=100, seed=99):
    gen = torch.Generator().manual_seed(seed); tot = 0
    with torch.no_grad():
        for r in range(n):
            th = init(gen); st = (torch.zeros_like(th), torch.zeros_like(th))
            for t in range(1, 101):
                with torch.enable_grad():
                    th_ = th.clone().requires_grad_(True); L = loss_fn(th_, ev, gen); g, = torch.autograd.grad(L, th_)
                u, st = step(g, st, t); th = th + u
            tot += loss_fn(th, ev, gen).item()
    return tot / n
opt = torch.optim.Adam(list(P.values()), lr=mlr)
gen = torch.Generator().manual_seed(5 + 1000 * seed)
print("epoch 0 eval", round(evaluate(), 4), flush=True)
t0 = time.time()
for ep in range(1, epochs + 1):
    ml = 0; nu = 0
    for run in range(20):
        th = init(gen); st = (torch.zeros_like(th), torch.zeros_like(th)); t = 1
        for u0 in range(0, 100, U):
            th = th.detach().requires_grad_(True); st = tuple(s.detach() for s in st)
            Lsum = 0
            for k in range(U):
                L = loss_fn(th, tr, gen)
                if mode == "first":   # gradients as data (ham, L2L)
                    g, = torch.autograd.grad(L, th, retain_graph=True); g = g.detach()
                else:
                    g, = torch.autograd.grad(L, th, create_graph=True)
                Lsum = Lsum + L
                upd, st = step(g, st, t); th = th + upd; t += 1
            opt.zero_grad(); (Lsum / U).backward(); opt.step()
            ml += Lsum.item() / U; nu += 1
    print(f"epoch {ep} meta {ml/nu:.4f} eval {evaluate():.4f} s={P['s'].item():.3f} kt={P['kt'].item():.3f} a={P['a'].item():.3f} d={P['d'].item():.3f} K={P['K'].item():.3f} rp={P['rp'].item():.3f} |w|={P['w'].norm().item():.3f} {time.time()-t0:.0f}s", flush=True)
