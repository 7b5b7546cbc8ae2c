#!/usr/bin/python3
"""fit_tanh.py: the coefficients of the JIT's f32 tanh (compiler/llvm_math.c).

tanh(x) = x P(x^2) / Q(x^2) on [-9, 9] (tanh rounds to +-1 in float from 9.01; the clamp
at 9 gives 1), P of degree 5 and Q of degree 4 in z = x^2, Q(0) = 1. The fit minimizes
the largest relative error of P(z) / Q(z) against tanh(sqrt z) / sqrt z (mpmath, 40
digits) over 4000 Chebyshev nodes in x: each round solves the linearized problem P - g Q
= 0 by weighted least squares, weights 1 / (g Q_previous) (relative error) times
Lawson's multiplicative weights (which drive the least-squares solution toward the
minimax one). The best round is kept; its coefficients are printed rounded to float,
highest degree first, as llvm_math.c's poly() takes them, with the fit's error and the
error of the float evaluation (x*x, Horner with fused multiply-adds, x P, the quotient;
emulated in double, one rounding to float per operation) over 3 * 10^6 arguments in [0,
9].

usage: /usr/bin/python3 tools/fit_tanh.py   (numpy, mpmath: Debian's python3-numpy, python3-mpmath)"""
import mpmath as mp
import numpy as np

C = 9.0          # the clamp: |x| > C gives +-1
NP, NQ = 5, 4    # degrees of P and Q in z


def fit(nodes=4000, rounds=60):
    mp.mp.dps = 40
    k = np.arange(nodes)
    x = np.sort((C / 2) * (1 - np.cos(np.pi * (k + 0.5) / nodes)))
    g = np.array([float(mp.tanh(mp.mpf(v)) / mp.mpf(v)) for v in x])
    s = C * C
    zs = x * x / s                     # scaled to [0, 1] for the conditioning of the solve
    lawson = np.ones(nodes) / nodes
    q_prev = np.ones(nodes)
    best = None
    for _ in range(rounds):
        cols_p = np.vstack([zs ** j for j in range(NP + 1)]).T
        cols_q = -(g[:, None] * np.vstack([zs ** j for j in range(1, NQ + 1)]).T)
        A = np.hstack([cols_p, cols_q])
        w = np.sqrt(lawson) / (g * q_prev)
        sol = np.linalg.lstsq(A * w[:, None], g * w, rcond=None)[0]
        p, q = sol[:NP + 1], np.concatenate([[1.0], sol[NP + 1:]])
        P, Q = np.polyval(p[::-1], zs), np.polyval(q[::-1], zs)
        err = np.abs(P / Q - g) / g
        if best is None or err.max() < best[0]:
            best = (err.max(), p.copy(), q.copy())
        q_prev = Q
        lawson = lawson * err
        lawson /= lawson.sum()
    e, p, q = best
    return e, p / s ** np.arange(NP + 1), q / s ** np.arange(NQ + 1)


def f32_eval(x, p, q):
    f = np.float32

    def fma(a, b, c):
        return f(a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64))

    def horner(c, z):
        y = np.full_like(z, f(c[-1]))
        for co in c[-2::-1]:
            y = fma(y, z, np.full_like(z, f(co)))
        return y

    xc = np.clip(x, -C, C).astype(np.float32)
    z = f(xc * xc)
    r = f(f(xc * horner(p, z)) / horner(q, z))
    return np.clip(r, -1, 1)


def main():
    e, p, q = fit()
    x = np.random.default_rng(1).uniform(0, C, 3000000).astype(np.float32)
    want = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(want.astype(np.float32))).astype(np.float64)
    got = f32_eval(x, p, q)
    print("fit: max relative error %.3g; float evaluation: max %.2f ulp" % (e, (np.abs(got - want) / ulp).max()))
    fmt = lambda c: ", ".join(repr(float(np.float32(v))) for v in c[::-1])
    print("P (z^%d .. z^0): {%s}" % (NP, fmt(p)))
    print("Q (z^%d .. z^0): {%s}" % (NQ, fmt(q)))


if __name__ == "__main__":
    main()
