#!/usr/bin/python3
"""torch_ref.py: a from-scratch PyTorch reference for ham's optimizee steps and meta-training (issue 8).

Written the way a good PyTorch user would write it: the learned optimizer is applied
to every coordinate of every run at once (coordinates are the batch dimension of the
optimizer's tensors; there is no Python loop over coordinates), the B optimizee runs
of a meta-batch or an evaluation are stacked into batched tensors (bmm), and each
unroll is one forward graph and one backward.

  tasks      quadratic: f(theta) = ||W theta - y||^2, W (dim x dim), y (dim) ~ N(0, 1),
             theta_0 = 0; B instances stacked ([B, dim, dim], [B, dim]); the gradient
             2 W^T (W theta - y) in closed form.
             mnist: the L2L paper's MLP 784-20-10 (sigmoid; relu optional), batch 128
             drawn with replacement from one half of MNIST's training set, mean NLL;
             B networks stacked (theta [B, 15910] in nn.Linear's layout, baddbmm), the
             gradient by autograd on a detached copy of theta.
  optimizers adam (no learned params: torch.optim.Adam on theta, the standard
             zero_grad / backward / step loop), seed_hnn and seed_hnn_pre (19 / 24
             params), lstm and lstm_pre (nn.LSTMCell x 2, 20 units, linear output;
             5221 / 5301 params) and phnn (49 params: the symplectic-Euler step of
             stdlib/phnn.ham with dH/dx written out), same parameterization and inits
             as stdlib/*.ham.  *_pre: the log/sign preprocessing (p = 10).
  meta       truncated BPTT: runs of `steps` steps cut into unrolls of U steps;
             meta-loss L = sum_{j=1..U} (1/B) sum_r f_r(theta_j); the optimizee's
             gradients are data (detached), as in the L2L paper; theta and the
             optimizer state carry over to the next unroll detached; Adam (lr 0.01) on
             the optimizer params after every unroll; non-finite L or meta-gradient:
             step skipped, run abandoned (as ham does).
             --meta-loss linear (default): since the gradients are data,
             dL/dtheta_j = (1/B) g_j, so the graph holds L' = sum_j (1/B) <g_j, theta_j>
             (same gradient; L's value is accumulated from the detached losses) and the
             optimizee's loss is never backpropagated twice.  --meta-loss graph: the
             textbook form, f(theta_j) evaluated on the graph-carrying theta_j and
             L.backward() through it (one more MLP backward per step on MNIST).

Timing (all in ms, float32, torch.set_num_threads(--threads)):
  ms_per_meta_step   forward over the unroll + backward + Adam update
  ms_per_train_step  the unroll's forward (graph recording) divided by U
  ms_per_eval_step   one optimizee step under torch.no_grad (gradient + optimizer step)

  /usr/bin/python3 bench/torch_ref.py --optimizer seed_hnn --task quadratic --unroll 20 \\
      --steps 100 --meta-steps 500 --threads 1

--serve reads commands from stdin, one per line, and answers each with one JSON line
(bench/race.py drives it, interleaved with bench/race_ham.c, which speaks the same):
  meta  opt=NAME task=quadratic|mnist unroll=U batch=B threads=T reps=K
        -> {"fwd": [s per meta-step forward], "total": [s per meta-step]}
  eval  opt=NAME task=... batch=B threads=T reps=K  -> {"t": [s per optimizee step]}
  kernel opt=NAME n=N threads=T reps=K inner=I  -> {"t": [s per optimizer step on N coords]}
  grad  task=... batch=B threads=T reps=K  -> {"t": [s per optimizee gradient (loss_grad)]}
  probe opt=NAME JSON  (race_ham's probe: ham's params and updates) -> {"max_rel_diff": ..}
  rss   (peak RSS so far, KB)  -> {"maxrss_kb": .., "rss_kb": ..};  info;  drop (free runners)
  quit
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPE = torch.float32


# ----------------------------------------------------------------------------- tasks
class Quadratic:
    """B random quadratics stacked; theta is [B, dim]."""

    def __init__(self, batch, dim, gen):
        self.B, self.dim = batch, dim
        self.gen = gen
        self.reset()

    def reset(self):
        self.W = torch.randn(self.B, self.dim, self.dim, generator=self.gen, dtype=DTYPE)
        self.y = torch.randn(self.B, self.dim, generator=self.gen, dtype=DTYPE)
        return torch.zeros(self.B, self.dim, dtype=DTYPE)

    def residual(self, theta):  # [B, dim] -> W theta - y
        return torch.bmm(self.W, theta.unsqueeze(-1)).squeeze(-1) - self.y

    def grad_from_residual(self, r):  # 2 W^T r; r must be detached
        return 2.0 * torch.bmm(self.W.transpose(1, 2), r.unsqueeze(-1)).squeeze(-1)

    def loss_grad(self, theta):
        """(sum over the B runs of the loss, detached; gradient [B, dim], data)."""
        r = self.residual(theta.detach())
        return (r * r).sum(), self.grad_from_residual(r)

    def loss_graph(self, theta):
        """(sum of the losses on the graph-carrying theta; gradient as data)."""
        r = self.residual(theta)
        return (r * r).sum(), self.grad_from_residual(r.detach())

    def loss(self, theta):  # differentiable, for torch.optim loops
        r = self.residual(theta)
        return (r * r).sum()


_MNIST = {}


def load_mnist(data_dir):
    """The training images as float in [0, 1] and labels (the idx files of `make data`)."""
    if data_dir not in _MNIST:
        import numpy as np
        with open(os.path.join(data_dir, "train-images-idx3-ubyte"), "rb") as f:
            raw = f.read()
        n = int.from_bytes(raw[4:8], "big")
        imgs = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 784)
        with open(os.path.join(data_dir, "train-labels-idx1-ubyte"), "rb") as f:
            labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
        x = torch.from_numpy(imgs.astype(np.float32) / 255.0)
        y = torch.from_numpy(labels.astype(np.int64))
        _MNIST[data_dir] = (x, y)
    return _MNIST[data_dir]


class Mnist:
    """B MLPs 784 -> hidden -> 10 stacked; theta is [B, P] in nn.Linear's layout
    (W1 [h, 784], b1 [h], W2 [10, h], b2 [10]), as ham's mlp.h."""

    def __init__(self, batch, gen, hidden=20, minibatch=128, act="sigmoid", data_dir="data/mnist"):
        self.B, self.h, self.mb = batch, hidden, minibatch
        self.act = torch.sigmoid if act == "sigmoid" else torch.relu
        self.gen = gen
        x, y = load_mnist(data_dir)
        # The meta-training half of a fixed split (ham uses its own permutation).
        perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(160604474))
        self.pool = perm[: x.shape[0] // 2]
        self.x, self.y = x, y
        h = hidden
        self.sizes = [h * 784, h, 10 * h, 10]
        self.dim = sum(self.sizes)
        self.reset()

    def reset(self):
        h, B = self.h, self.B
        k1, k2 = 1 / math.sqrt(784), 1 / math.sqrt(h)
        parts = [(torch.rand(B, s, generator=self.gen) * 2 - 1) * k for s, k in
                 zip(self.sizes, (k1, k1, k2, k2))]
        return torch.cat(parts, 1)

    def _batch(self):
        idx = self.pool[torch.randint(self.pool.numel(), (self.B * self.mb,), generator=self.gen)]
        return self.x.index_select(0, idx).view(self.B, self.mb, 784), self.y.index_select(0, idx)

    def _loss(self, theta, x, y):
        B, h = self.B, self.h
        W1, b1, W2, b2 = torch.split(theta, self.sizes, 1)
        if B == 1:   # one network: plain 2-D matmuls (addmm) are twice as fast as bmm here
            a = self.act(F.linear(x[0], W1.view(h, 784), b1[0]))
            z = F.linear(a, W2.view(10, h), b2[0])
            return F.cross_entropy(z, y)
        a = self.act(torch.baddbmm(b1.unsqueeze(1), x, W1.view(B, h, 784).transpose(1, 2)))
        z = torch.baddbmm(b2.unsqueeze(1), a, W2.view(B, 10, h).transpose(1, 2))
        # sum over the B runs of each run's mean NLL: each run's gradient is its own
        return F.cross_entropy(z.reshape(-1, 10), y, reduction="sum") / self.mb

    def loss_grad(self, theta):
        x, y = self._batch()
        with torch.enable_grad():
            th = theta.detach().requires_grad_(True)
            loss = self._loss(th, x, y)
            (g,) = torch.autograd.grad(loss, th)
        return loss.detach(), g

    def loss_graph(self, theta):
        x, y = self._batch()
        loss = self._loss(theta, x, y)
        (g,) = torch.autograd.grad(loss, theta, retain_graph=True)
        return loss, g

    def loss(self, theta):
        x, y = self._batch()
        return self._loss(theta, x, y)


def make_task(name, batch, gen, dim=10):
    if name == "quadratic":
        return Quadratic(batch, dim, gen)
    if name.startswith("mnist"):
        return Mnist(batch, gen, act="relu" if "relu" in name else "sigmoid")
    raise ValueError(name)


# ----------------------------------------------------------------------- optimizers
def _u(shape, a, b):
    return nn.Parameter(torch.empty(shape).uniform_(a, b))


def logsign(x, p=10.0):
    """Andrychowicz et al. (2016) appendix A: [log|x|/p, sign x] if |x| >= e^-p, else
    [-1, e^p x].  The clamp keeps log's gradient finite in the branch not taken."""
    big = x.abs() >= math.exp(-p)
    mag = torch.where(big, torch.log(x.abs().clamp_min(math.exp(-p))) / p, torch.full_like(x, -1.0))
    dirn = torch.where(big, torch.sign(x), math.exp(p) * x)
    return mag, dirn


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

    def init_state(self, n):
        return (torch.zeros(n, dtype=DTYPE),)

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


class SeedHNNPre(nn.Module):
    """stdlib/seed_hnn_pre.ham: seed_hnn with logsign on g and on v (24 params)."""
    out_mul = 0.001

    def __init__(self):
        super().__init__()
        a, b, c = 0.7071, 1.0, 0.5774
        self.gw1, self.gb1 = _u((2,), -a, a), _u((), -a, a)
        self.gw2, self.gb2 = _u((), -b, b), _u((), -b, b)
        self.vw1, self.vb1 = _u((2,), -a, a), _u((), -a, a)
        self.vw2, self.vb2 = _u((), -b, b), _u((), -b, b)
        self.D, self.Db = _u((2, 3), -c, c), _u((2,), -c, c)
        self.L = _u((), 0.5, 1)
        self.wo, self.wn = _u((3,), -c, c), _u((2,), -a, a)

    def init_state(self, n):
        return (torch.zeros(n, dtype=DTYPE),)

    def forward(self, g, state):
        (v,) = state
        g0, g1 = logsign(g)
        v0, v1 = logsign(v)
        G = self.gw2 * torch.relu(self.gw1[0] * g0 + self.gw1[1] * g1 + self.gb1) + self.gb2
        V = self.vw2 * torch.relu(self.vw1[0] * v0 + self.vw1[1] * v1 + self.vb1) + self.vb2
        D, Db = self.D, self.Db
        Dv0 = D[0, 0] * V + D[0, 1] * v0 + D[0, 2] * v1 + Db[0]
        Dv1 = D[1, 0] * V + D[1, 1] * v0 + D[1, 2] * v1 + Db[1]
        dq = v - Dv0
        dp = self.L * self.L * (-V - Dv1 + G)
        v_next = self.wn[0] * dq + self.wn[1] * dp
        update = self.out_mul * (self.wo[0] * dq + self.wo[1] * g0 + self.wo[2] * g1)
        return update, (v_next,)


class LSTMOpt(nn.Module):
    """stdlib/lstm.ham (lstm_pre.ham with pre=True): nn.LSTMCell has exactly the spec's
    parameterization (gates i, f, c~, o; W_x x + W_h h + b_x + b_h) and init
    U(-1/sqrt(20), 1/sqrt(20))."""
    out_mul = 0.1
    H = 20

    def __init__(self, pre=False):
        super().__init__()
        self.pre = pre
        self.cell1 = nn.LSTMCell(2 if pre else 1, self.H)
        self.cell2 = nn.LSTMCell(self.H, self.H)
        k = 1 / math.sqrt(self.H)
        self.w = _u((self.H,), -k, k)
        self.b = _u((), -k, k)

    def init_state(self, n):
        z = lambda: torch.zeros(n, self.H, dtype=DTYPE)
        return (z(), z(), z(), z())

    def forward(self, g, state):
        h1, c1, h2, c2 = state
        x = torch.stack(logsign(g), 1) if self.pre else g.unsqueeze(1)
        h1, c1 = self.cell1(x, (h1, c1))
        h2, c2 = self.cell2(h1, (h2, c2))
        update = self.out_mul * torch.addmv(self.b, h2, self.w)
        return update, (h1, c1, h2, c2)


class PHNN(nn.Module):
    """stdlib/phnn.ham: x = [q; p] (2 + 2 per coordinate), H = sum p^2 / (2 softplus(m))
    + w . tanh(W q + b), R = diag(softplus(rq), softplus(rp)), port K on
    u = [g; logsign(g)], symplectic Euler (dt = 1) as `hamc derive` writes it:
        p' = p - dH/dq(q) - softplus(rp) dH/dp(p) + K u
        q' = q + dH/dp(p') - softplus(rq) dH/dq(q)
        update = clip tanh(out_mul e^s a . [q'; p'] / clip)
    with dH/dq = W^T (w * (1 - tanh^2(W q + b))), dH/dp = p / softplus(m)."""
    out_mul = 0.01
    clip = 1.0

    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(8, 2) * 0.3)
        self.bb = nn.Parameter(torch.zeros(8))
        self.w = nn.Parameter(torch.randn(8) * 0.3)
        self.m = nn.Parameter(torch.full((2,), 0.5413))
        self.rq = nn.Parameter(torch.full((2,), -2.0))
        self.rp = nn.Parameter(torch.full((2,), -1.0))
        self.K = nn.Parameter(torch.randn(2, 3) * 0.3)
        self.a = nn.Parameter(torch.randn(4) * 0.3)
        self.s = nn.Parameter(torch.zeros(()))

    def init_state(self, n):
        return (torch.zeros(n, 2, dtype=DTYPE), torch.zeros(n, 2, dtype=DTYPE))

    def forward(self, g, state):
        q, p = state
        inv_m = 1.0 / F.softplus(self.m)
        t = torch.tanh(torch.addmm(self.bb, q, self.W.t()))          # [n, 8]
        dHdq = ((1 - t * t) * self.w) @ self.W                        # [n, 2]
        u = torch.stack((g,) + logsign(g), 1)                         # [n, 3]
        p2 = p - dHdq - F.softplus(self.rp) * (p * inv_m) + u @ self.K.t()
        q2 = q + p2 * inv_m - F.softplus(self.rq) * dHdq
        raw = self.out_mul * torch.exp(self.s) * (q2 @ self.a[:2] + p2 @ self.a[2:])
        update = self.clip * torch.tanh(raw / self.clip)
        return update, (q2, p2)


OPTIMIZERS = {"seed_hnn": SeedHNN, "seed_hnn_pre": SeedHNNPre, "lstm": LSTMOpt,
              "lstm_pre": lambda: LSTMOpt(pre=True), "phnn": PHNN}


# ----------------------------------------------------------------------- the runner
class Runner:
    """One optimizer on one task with B runs stacked: meta-steps, evaluation steps."""

    def __init__(self, opt_name, task_name, batch, unroll, steps, meta_loss, seed, meta_lr=0.01, dim=10):
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.task = make_task(task_name, batch, self.gen, dim)
        self.opt_name, self.B, self.U, self.steps = opt_name, batch, unroll, steps
        self.linear = meta_loss == "linear"
        self.n = batch * self.task.dim
        if opt_name == "adam":
            self.opt = None
        else:
            self.opt = OPTIMIZERS[opt_name]()
            self.meta = torch.optim.Adam(self.opt.parameters(), lr=meta_lr)
        self.done_in_run = 0
        self.new_run()

    def new_run(self):
        self.theta = self.task.reset()
        self.done_in_run = 0
        if self.opt is None:
            self.theta.requires_grad_(True)
            self.adam = torch.optim.Adam([self.theta], lr=0.001)
        else:
            _, self.g = self.task.loss_grad(self.theta)
            self.state = self.opt.init_state(self.n)

    # One unroll: U steps recorded, one backward, one Adam step.  Returns (t_fwd, t_total, ok).
    def meta_step(self):
        if self.done_in_run + self.U > self.steps:
            self.new_run()
        t0 = time.perf_counter()
        theta, g, state = self.theta, self.g, self.state
        L = 0.0
        Lval = torch.zeros(())
        for _ in range(self.U):
            upd, state = self.opt(g.reshape(-1), state)
            theta = theta + upd.view(self.B, -1)
            if self.linear:
                loss, g = self.task.loss_grad(theta)
                L = L + (g * theta).sum() / self.B
            else:
                loss, g = self.task.loss_graph(theta)
                L = L + loss / self.B
            Lval = Lval + loss.detach() / self.B
        t1 = time.perf_counter()
        self.meta.zero_grad(set_to_none=True)
        L.backward()
        ok = bool(torch.isfinite(Lval)) and all(bool(torch.isfinite(p.grad).all())
                                                for p in self.opt.parameters() if p.grad is not None)
        if ok:
            self.meta.step()
        t2 = time.perf_counter()
        self.theta, self.g = theta.detach(), g
        self.state = tuple(s.detach() for s in state)
        self.done_in_run += self.U
        if not ok:
            self.new_run()
        self.last_loss = float(Lval)
        return t1 - t0, t2 - t0, ok

    # One optimizee step in evaluation mode.
    def eval_step(self):
        if self.done_in_run >= self.steps:
            self.new_run()
        t0 = time.perf_counter()
        if self.opt is None:   # the standard PyTorch training loop
            self.adam.zero_grad(set_to_none=True)
            loss = self.task.loss(self.theta)
            loss.backward()
            self.adam.step()
        else:
            with torch.no_grad():
                loss, g = self.task.loss_grad(self.theta)
                upd, self.state = self.opt(g.reshape(-1), self.state)
                self.theta = self.theta + upd.view(self.B, -1)
        t = time.perf_counter() - t0
        self.done_in_run += 1
        return t


class KernelBench:
    """Only the optimizer's step on n coordinates (no task), under no_grad, state
    carried from call to call; each sample is the mean of `inner` steps."""

    def __init__(self, opt, n, gen):
        self.opt, self.n = opt, n
        self.g = 1e-2 * torch.randn(n, generator=gen)
        with torch.no_grad():
            self.state = opt.init_state(n)
            _, self.state = opt(self.g, self.state)   # warm-up (allocations)

    def run(self, reps, inner):
        ts = []
        with torch.no_grad():
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in range(inner):
                    _, self.state = self.opt(self.g, self.state)
                ts.append((time.perf_counter() - t0) / inner)
        return ts


def load_ham_params(opt, arrays, params):
    """Set a module's params from ham's flat vector (race_ham's probe: [name, offset, size]
    per array, in the spec's names and row-major layout)."""
    for name, off, size in arrays:
        vals = torch.tensor(params[off:off + size], dtype=DTYPE)
        if isinstance(opt, LSTMOpt) and len(name) == 3:   # W|U|b|d, gate i|f|c|o, layer 1|2
            cell = opt.cell1 if name[2] == "1" else opt.cell2
            t = {"W": cell.weight_ih, "U": cell.weight_hh, "b": cell.bias_ih, "d": cell.bias_hh}[name[0]]
            k = "ifco".index(name[1]) * LSTMOpt.H
            rows = t.data[k:k + LSTMOpt.H]
            rows.copy_(vals.view_as(rows))
        else:
            p = getattr(opt, "bb" if isinstance(opt, PHNN) and name == "b" else name)
            p.data.copy_(vals.view_as(p.data))


def probe(name, data):
    """Run the module from ham's params on race_ham's probe inputs; the largest difference of
    its updates from ham's, relative to their RMS."""
    opt = OPTIMIZERS[name]()
    load_ham_params(opt, data["arrays"], data["params"])
    N, worst = 16, 0.0
    with torch.no_grad():
        state = opt.init_state(N)
        for k, ham_upd in enumerate(data["updates"]):
            i = torch.arange(N, dtype=torch.float64)
            g = (0.5 * torch.sin(1.7 * i + k) * 10.0 ** (-(i % 6))).to(DTYPE)
            upd, state = opt(g, state)
            h = torch.tensor(ham_upd, dtype=torch.float64)
            rms = float(h.pow(2).mean().sqrt()) + 1e-30
            worst = max(worst, float((upd.double() - h).abs().max()) / rms)
    return worst


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ----------------------------------------------------------------------- serve mode
def set_threads(n):
    """torch's intra-op threads, and OpenBLAS's own (Debian's torch calls OpenBLAS through
    libblas.so.3, whose pthreads torch.set_num_threads does not govern)."""
    torch.set_num_threads(n)
    try:
        import ctypes
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):
        pass


def serve(args):
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    runners, kopts = {}, {}
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "probe":   # probe opt=NAME {race_ham's probe answer}
            parts = line.split(None, 2)
            try:
                out = {"max_rel_diff": probe(parts[1].split("=", 1)[1], json.loads(parts[2]))}
            except Exception as e:
                out = {"error": "%s: %s" % (type(e).__name__, e)}
            print(json.dumps(out), flush=True)
            continue
        cmd, kv = words[0], dict(w.split("=", 1) for w in words[1:])
        if cmd == "quit":
            break
        out = {}
        try:
            set_threads(int(kv.get("threads", 1)))
            reps = int(kv.get("reps", 1))
            if cmd in ("meta", "eval"):
                key = (kv["opt"], kv["task"], int(kv.get("batch", 1)), int(kv.get("unroll", 20)))
                if key not in runners:
                    runners[key] = Runner(key[0], key[1], key[2], key[3], 100, args.meta_loss, args.seed)
                r = runners[key]
                if cmd == "meta":
                    fwd, tot, skipped = [], [], 0
                    for _ in range(reps):
                        a, b, ok = r.meta_step()
                        fwd.append(a), tot.append(b)
                        skipped += not ok
                    out = {"fwd": fwd, "total": tot, "skipped": skipped}
                else:
                    out = {"t": [r.eval_step() for _ in range(reps)]}
            elif cmd == "kernel":
                key = (kv["opt"], int(kv["n"]))
                if key not in kopts:
                    kopts.clear()   # one size at a time: 10^7 coordinates of state are large
                    torch.manual_seed(args.seed)
                    kopts[key] = KernelBench(OPTIMIZERS[key[0]](), key[1], torch.Generator().manual_seed(3))
                out = {"t": kopts[key].run(reps, int(kv.get("inner", 1)))}
            elif cmd == "grad":   # the optimizee's gradient alone (the task's share of a step)
                key = (kv.get("opt", "adam"), kv["task"], int(kv.get("batch", 1)), 0)
                if key not in runners:
                    runners[key] = Runner("seed_hnn", key[1], key[2], 20, 100, args.meta_loss, args.seed)
                task, theta = runners[key].task, runners[key].theta
                ts = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    task.loss_grad(theta)
                    ts.append(time.perf_counter() - t0)
                out = {"t": ts}
            elif cmd == "drop":   # free a runner's memory
                runners.clear()
                kopts.clear()
            elif cmd == "info":
                out = {"torch": torch.__version__, "threads_max": os.cpu_count(),
                       "config": torch.__config__.parallel_info().splitlines()[:6]}
            elif cmd == "rss":
                out = {"maxrss_kb": peak_rss_kb(), "rss_kb": current_rss_kb()}
            else:
                out = {"error": "unknown command " + cmd}
        except Exception as e:   # report, keep serving
            out = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(out), flush=True)
    return 0


# ----------------------------------------------------------------------- CLI
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS) + ["adam"], default="seed_hnn")
    p.add_argument("--task", choices=["quadratic", "mnist", "mnist_relu"], default="quadratic")
    p.add_argument("--dim", type=int, default=10)
    p.add_argument("--batch", type=int, default=1, help="meta-batch B (ham's --meta-batch)")
    p.add_argument("--unroll", type=int, default=20)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--meta-steps", type=int, default=200)
    p.add_argument("--eval-steps", type=int, default=2000)
    p.add_argument("--meta-lr", type=float, default=0.01)
    p.add_argument("--meta-loss", choices=["linear", "graph"], default="linear")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5, help="untimed meta-steps first")
    p.add_argument("--serve", action="store_true", help="answer commands on stdin (see above)")
    args = p.parse_args(argv)
    if args.serve:
        return serve(args)

    set_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    rss_setup = current_rss_kb()
    out = {"impl": "torch", "torch": torch.__version__, "optimizer": args.optimizer,
           "task": args.task, "dim": args.dim, "batch": args.batch, "unroll": args.unroll,
           "steps": args.steps, "threads": args.threads, "meta_loss": args.meta_loss}
    if args.optimizer != "adam" and args.meta_steps > 0:
        r = Runner(args.optimizer, args.task, args.batch, args.unroll, args.steps, args.meta_loss,
                   args.seed, args.meta_lr, args.dim)
        out["params"] = sum(q.numel() for q in r.opt.parameters())
        for _ in range(args.warmup):
            r.meta_step()
        rss_setup = current_rss_kb()
        fwd = tot = 0.0
        skipped = 0
        for _ in range(args.meta_steps):
            a, b, ok = r.meta_step()
            fwd, tot, skipped = fwd + a, tot + b, skipped + (not ok)
        out.update(meta_steps=args.meta_steps, skipped=skipped, last_meta_loss=r.last_loss,
                   ms_per_meta_step=1e3 * tot / args.meta_steps,
                   ms_per_train_step=1e3 * fwd / (args.meta_steps * args.unroll))
    if args.eval_steps > 0:
        r = Runner(args.optimizer, args.task, args.batch, args.unroll, args.steps, args.meta_loss,
                   args.seed, args.meta_lr, args.dim)
        ts = [r.eval_step() for _ in range(args.eval_steps)]
        out["ms_per_eval_step"] = 1e3 * sum(ts) / len(ts)
    out["rss_kb_after_setup"] = rss_setup
    out["maxrss_kb"] = peak_rss_kb()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
