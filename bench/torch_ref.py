#!/usr/bin/python3
"""torch_ref.py: a from-scratch PyTorch reference for ham's meta-training (issue 8).

Written the way a good PyTorch user would write it: the learned optimizer is applied
to every coordinate of every run at once (coordinates are the batch dimension of the
optimizer's tensors; there is no Python loop over coordinates), and each unroll is one
forward graph and one backward.

  task       quadratic: f(theta) = ||W theta - y||^2, W (dim x dim), y (dim) ~ N(0, 1),
             theta_0 = 0; B instances stacked ([B, dim, dim], [B, dim]).  The gradient
             2 W^T (W theta - y) is computed in closed form from the detached residual:
             it is data to the optimizer (Andrychowicz et al. 2016), never differentiated.
  optimizers seed_hnn (stdlib/seed_hnn.ham: 19 params, out_mul 0.001) and lstm
             (stdlib/lstm.ham: two 20-unit LSTM layers with PyTorch's two biases per gate,
             linear output, out_mul 0.1; 5221 params), same parameterization and inits.
  meta       truncated BPTT: per run of `steps` steps, cut into unrolls of U steps;
             meta-loss L = sum_{j=1..U} (1/B) sum_r f_r(theta_j) (loss after each update);
             theta and optimizer state carry over to the next unroll detached; Adam
             (lr 0.01) on the optimizer params after every unroll.  A non-finite meta-loss
             or meta-gradient skips the step and abandons the run (as ham does).

Timing: ms per meta-step (forward over the unroll + backward + Adam update) and ms per
optimizee step in evaluation mode (torch.no_grad: gradient + optimizer step).  One JSON
line on stdout.

  /usr/bin/python3 bench/torch_ref.py --optimizer seed_hnn --task quadratic --unroll 20 \
      --steps 100 --meta-steps 500 --threads 1
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn


# ----------------------------------------------------------------------------- task
class Quadratic:
    """B random quadratics stacked; coordinates flattened to n = B * dim."""

    def __init__(self, batch, dim, gen, dtype):
        self.B, self.dim = batch, dim
        self.W = torch.randn(batch, dim, dim, generator=gen, dtype=dtype)
        self.y = torch.randn(batch, dim, generator=gen, dtype=dtype)

    def residual(self, theta):  # theta [B*dim] -> r [B, dim] = W theta - y
        t = theta.view(self.B, self.dim, 1)
        return torch.bmm(self.W, t).squeeze(-1) - self.y

    def grad_from_residual(self, r):  # 2 W^T r, flattened; r must be detached
        return 2.0 * torch.bmm(self.W.transpose(1, 2), r.unsqueeze(-1)).reshape(-1)

    def loss_grad(self, theta):
        """(mean loss over the B runs, graph-carrying; gradient as data)."""
        r = self.residual(theta)
        loss = (r * r).sum() / self.B
        g = self.grad_from_residual(r.detach())
        return loss, g


# ----------------------------------------------------------------------- optimizers
def _u(shape, a, b):
    return nn.Parameter(torch.empty(shape).uniform_(a, b))


class SeedHNN(nn.Module):
    """stdlib/seed_hnn.ham, per coordinate, vectorized over coordinates."""
    out_mul = 0.001

    def __init__(self):
        super().__init__()
        s = 0.7071
        self.gw1, self.gb1, self.gw2, self.gb2 = (_u((), -1, 1) for _ in range(4))
        self.vw1, self.vb1, self.vw2, self.vb2 = (_u((), -1, 1) for _ in range(4))
        self.D = _u((2, 2), -s, s)
        self.Db = _u((2,), -s, s)
        self.L = _u((), 0.5, 1)
        self.wo = _u((2,), -s, s)
        self.wn = _u((2,), -s, s)

    def init_state(self, n, dtype):
        return (torch.zeros(n, dtype=dtype),)

    def forward(self, g, state):
        (v,) = state
        G = self.gw2 * torch.relu(self.gw1 * g + self.gb1) + self.gb2
        V = self.vw2 * torch.relu(self.vw1 * v + self.vb1) + self.vb2
        D, Db = self.D, self.Db
        Dv0 = D[0, 0] * V + D[0, 1] * v + Db[0]
        Dv1 = D[1, 0] * V + D[1, 1] * v + Db[1]
        dq = v - Dv0
        dp = self.L * self.L * (-V - Dv1 + G)
        v_next = self.wn[0] * dq + self.wn[1] * dp
        update = self.out_mul * (self.wo[0] * dq + self.wo[1] * g)
        return update, (v_next,)


class LSTMOpt(nn.Module):
    """stdlib/lstm.ham: nn.LSTMCell has exactly the spec's parameterization (gates
    i, f, c~, o; W_x x + W_h h + b_x + b_h) and init U(-1/sqrt(20), 1/sqrt(20))."""
    out_mul = 0.1
    H = 20

    def __init__(self):
        super().__init__()
        self.cell1 = nn.LSTMCell(1, self.H)
        self.cell2 = nn.LSTMCell(self.H, self.H)
        k = 1 / math.sqrt(self.H)
        self.w = _u((self.H,), -k, k)
        self.b = _u((), -k, k)

    def init_state(self, n, dtype):
        z = lambda: torch.zeros(n, self.H, dtype=dtype)
        return (z(), z(), z(), z())

    def forward(self, g, state):
        h1, c1, h2, c2 = state
        h1, c1 = self.cell1(g.unsqueeze(1), (h1, c1))
        h2, c2 = self.cell2(h1, (h2, c2))
        update = self.out_mul * (h2 @ self.w + self.b)
        return update, (h1, c1, h2, c2)


OPTIMIZERS = {"seed_hnn": SeedHNN, "lstm": LSTMOpt}


# ----------------------------------------------------------------------- meta-train
def unroll(opt, task, theta, g, state, U):
    """U steps from theta (detached) with gradient g (data); returns meta-loss and the
    end point (theta, g, state) for the next unroll."""
    L = 0.0
    for _ in range(U):
        upd, state = opt(g, state)
        theta = theta + upd
        loss, g = task.loss_grad(theta)
        L = L + loss
    return L, theta, g, state


def finite(t):
    return bool(torch.isfinite(t).all())


def meta_train(opt, args, gen, dtype):
    meta = torch.optim.Adam(opt.parameters(), lr=args.meta_lr)
    n_unrolls = args.steps // args.unroll
    done = skipped = 0
    t_total = 0.0
    while done < args.meta_steps:
        task = Quadratic(args.batch, args.dim, gen, dtype)
        n = args.batch * args.dim
        theta = torch.zeros(n, dtype=dtype)
        _, g = task.loss_grad(theta)
        state = opt.init_state(n, dtype)
        for _ in range(n_unrolls):
            if done >= args.meta_steps:
                break
            t0 = time.perf_counter()
            L, theta, g, state = unroll(opt, task, theta, g, state, args.unroll)
            meta.zero_grad(set_to_none=True)
            L.backward()
            ok = finite(L) and all(finite(p.grad) for p in opt.parameters() if p.grad is not None)
            if ok:
                meta.step()
            theta = theta.detach()
            state = tuple(s.detach() for s in state)
            t_total += time.perf_counter() - t0
            done += 1
            if not ok:
                skipped += 1
                break  # abandon this run, as ham does
    return t_total, done, skipped, float(L.detach())


@torch.no_grad()
def eval_steps(opt, args, gen, dtype):
    task = Quadratic(args.batch, args.dim, gen, dtype)
    n = args.batch * args.dim
    theta = torch.zeros(n, dtype=dtype)
    state = opt.init_state(n, dtype)
    total = 0
    t0 = time.perf_counter()
    while total < args.eval_steps:
        for _ in range(args.steps):
            _, g = task.loss_grad(theta)
            upd, state = opt(g, state)
            theta = theta + upd
        total += args.steps
        theta.zero_()
        state = opt.init_state(n, dtype)
    dt = time.perf_counter() - t0
    return dt, total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="seed_hnn")
    p.add_argument("--task", choices=["quadratic"], default="quadratic")
    p.add_argument("--dim", type=int, default=10)
    p.add_argument("--batch", type=int, default=1, help="meta-batch B (ham's --meta-batch)")
    p.add_argument("--unroll", type=int, default=20)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--meta-steps", type=int, default=200)
    p.add_argument("--eval-steps", type=int, default=2000)
    p.add_argument("--meta-lr", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5, help="untimed meta-steps first")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    dtype = torch.float32
    opt = OPTIMIZERS[args.optimizer]()

    if args.warmup:
        w = argparse.Namespace(**vars(args))
        w.meta_steps = args.warmup
        meta_train(opt, w, gen, dtype)
    t_meta, done, skipped, last = meta_train(opt, args, gen, dtype)
    t_eval, nsteps = eval_steps(opt, args, gen, dtype)

    out = {
        "impl": "torch", "torch": torch.__version__, "optimizer": args.optimizer,
        "task": args.task, "dim": args.dim, "batch": args.batch, "unroll": args.unroll,
        "steps": args.steps, "threads": args.threads,
        "params": sum(p.numel() for p in opt.parameters()),
        "meta_steps": done, "skipped": skipped, "last_meta_loss": last,
        "ms_per_meta_step": 1e3 * t_meta / max(done, 1),
        "ms_per_eval_step": 1e3 * t_eval / max(nsteps, 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
