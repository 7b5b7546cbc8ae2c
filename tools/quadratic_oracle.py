#!/usr/bin/python3
"""quadratic_oracle.py: how low momentum methods can take the 10-d quadratic, as a yardstick
for the learned optimizers' quadratic column (results/README.md, issue 6).

The task is the experiment's: f(x) = ||W x - y||^2 with W (10 x 10) and y i.i.d. N(0, 1),
x_0 = 0, 100 steps, judged by the loss at the last step (mean over tasks, with a 95%
interval, and the median).  Drawn here by numpy (seed 0), not by ham's generator: the same
distribution, other instances.  Each family runs on a grid of its hyperparameters:

  heavy ball   v' = beta v - lr g, x' = x + v   (beta 0: gradient descent)
  Nesterov     the same with g taken at x + beta v (at beta 0 the same run: shared)

and is reported two ways: the best single setting for all tasks (what a tuned baseline
can be), and the per-task oracle, each task run at the setting best for it, judged on
that task's own final loss (no optimizer can know this; it bounds what adapting these two
hyperparameters to the task could reach).  A diverged run counts as loss 1e30.

usage: /usr/bin/python3 tools/quadratic_oracle.py [--tasks 10000] [--out FILE]
(numpy; about 3 minutes for 10000 tasks on one core)"""
import argparse
import sys

import numpy as np

LRS = np.geomspace(1e-4, 0.1, 25)
BETAS = np.array([0, .5, .7, .8, .9, .95, .97, .98, .99, .995])
STEPS = 100


def finals(W, y, lr, beta, nesterov):
    """The loss after STEPS steps of every task, in double."""
    x = np.zeros(y.shape)
    v = np.zeros(y.shape)
    with np.errstate(all="ignore"):
        for _ in range(STEPS):
            at = x + beta * v if nesterov else x
            r = np.einsum("tij,tj->ti", W, at) - y
            g = 2 * np.einsum("tij,ti->tj", W, r)
            v = beta * v - lr * g
            x = x + v
        r = np.einsum("tij,tj->ti", W, x) - y
        f = (r * r).sum(1)
    return np.where(np.isfinite(f), f, 1e30)


def summary(f):
    half = 1.96 * f.std(ddof=1) / np.sqrt(len(f))
    return "%.4f [%.4f, %.4f]  median %.3g" % (f.mean(), f.mean() - half, f.mean() + half, np.median(f))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--out", default=None, help="also write the report here")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    W = rng.standard_normal((a.tasks, 10, 10))
    y = rng.standard_normal((a.tasks, 10))
    lines = ["Momentum methods on %d 10-d quadratics ||W x - y||^2 (numpy, seed 0), loss at step %d:"
             % (a.tasks, STEPS), "mean [95%% interval]  median; grid: lr in 25 steps over [1e-4, 0.1], "
             "beta in {%s}" % ", ".join("%g" % b for b in BETAS)]
    gd = {lr: finals(W, y, lr, 0.0, False) for lr in LRS}   # beta 0: both families' gradient descent
    best_gd = np.min(list(gd.values()), axis=0)
    for name, nesterov in (("heavy ball", False), ("Nesterov", True)):
        best_task = np.full(a.tasks, np.inf)
        best, setting = None, None
        for lr in LRS:
            for beta in BETAS:
                f = gd[lr] if beta == 0 else finals(W, y, lr, beta, nesterov)
                best_task = np.minimum(best_task, f)
                if best is None or f.mean() < best.mean():
                    best, setting = f, (lr, beta)
            print("%s: lr %.3g done" % (name, lr), file=sys.stderr, end="\r")
        lines.append("%-10s best single setting (lr %.3g, beta %g): %s" % (name, setting[0], setting[1], summary(best)))
        lines.append("%-10s per-task oracle (lr, beta):            %s" % (name, summary(best_task)))
        if not nesterov:
            lines.append("%-10s per-task oracle lr, beta 0 (GD):       %s" % ("", summary(best_gd)))
    print(file=sys.stderr)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
