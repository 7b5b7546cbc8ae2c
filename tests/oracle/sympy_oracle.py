#!/usr/bin/python3
"""sympy_oracle.py: an independent check of what `hamc derive` computes.

For each optimizer of each spec file given, runs `hamc derive FILE --opt NAME --format
sympy`, execs the Python it prints and builds its nodes three ways:

  * as sympy expressions (each op mapped to sympy: select -> Piecewise, comparisons ->
    Piecewise((1, rel), (0, True)), softplus -> log(1 + exp(x)), ...), from which the
    oracle takes its own derivatives with sympy's diff;
  * as a recorded DAG evaluated in floats (math): the forward steps that produce typical
    states, and the screening of points (non-finite values, kinks);
  * the same DAG evaluated with mpmath at 50 digits: the compiler's values that are
    compared with the oracle's, so that rounding never masquerades as a bug and the
    relative tolerance (1e-9, absolute floor 1e-12) is about the mathematics.

Checks, at --points random points per optimizer (seeded):
  dHdx       the compiler's dH/dx == sympy diff(H, x_i), x_i = s<dyn_state[i]>
  field      field == (J - R) dH/dx + G u, with dH/dx from sympy and J, R, G, u evaluated
  energy     sum_i dHdx_i field_i == -dissipated + supplied; dissipated == dH^T R dH and
             supplied == (G^T dH) . u with sympy's dH
  structure  J + J^T == 0, R == R^T, eigenvalues of R >= 0
  adjoint    for L = sum_k z_k next_k + z_nstate update: adj_state[k] == dL/ds_k,
             adj_param[j] == dL/dw_j and adj_input == (dL/dg, dL/dtheta).  sympy diff of L when the
             forward program is small enough (and fast enough); otherwise a reverse
             sweep over the nodes whose local partials are sympy's diff of each op.

Random mode (--random N --seed S): N random specs
    optimizer r { input g  state x = 0  param w = 0.5  next x = E1  update = E2 }
with E1, E2 random expressions (depth ~5) of the language's operators, checked for the
adjoint as above; and N/4 (or --random-ph M) random port-Hamiltonian specs
    optimizer r { input g  state q = 0, p = 0  param w = 0.5  hamiltonian H = E ... }
with H, and often J (A - transpose(A)), R (diag, L L^T, blockdiag) and G, random
expressions of q, p and w, a random integrator (euler, rk4, and for canonical J the
symplectic ones) and dt, checked for dH/dx, the field, the energy balance, the
structure and the adjoint of the step.

Prints one line per optimizer/check group (failures with their numbers also on
stderr) and, as the last line, `N passed, N failed`; exit status 1 on any failure.
"""

import argparse
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

try:
    import sympy as sp
    import mpmath
except ImportError as e:  # pragma: no cover
    print("sympy_oracle: needs sympy for %s (apt-get install python3-sympy): %s" % (sys.executable, e))
    print("0 passed, 1 failed")
    sys.exit(1)

mp = mpmath.mp
mp.dps = 50
MPF = mpmath.mpf

RTOL = 1e-9
ATOL = 1e-12
KINK = 1e-6

# The inputs g and theta as the dump names them (class letter i, InputKind index).
INPUT_SYMS = ('i0', 'i2')

# ---------------------------------------------------------------- op tables

ARITY = {
    'add': 2, 'sub': 2, 'mul': 2, 'div': 2, 'neg': 1, 'pow': 2,
    'exp': 1, 'log': 1, 'log1p': 1, 'expm1': 1, 'sqrt': 1, 'tanh': 1, 'sigmoid': 1,
    'softplus': 1, 'relu': 1, 'abs': 1, 'sign': 1, 'sin': 1, 'cos': 1, 'min': 2, 'max': 2,
    'lt': 2, 'le': 2, 'gt': 2, 'ge': 2, 'eq': 2, 'ne': 2, 'and': 2, 'or': 2, 'not': 1,
    'select': 3,
}
# ops whose derivative jumps where an operand crosses a point (kink = distance to it)
# (sign is not one: its derivative is 0 on both sides, and at 0 by both conventions;
# the operands of select, and, or, not are kinks only when they are not truth values)
KINK_ONE = {'abs', 'relu'}                              # at a == 0
BOOL_OPS = {'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or', 'not'}
KINK_TWO = {'min', 'max', 'lt', 'le', 'gt', 'ge', 'eq', 'ne'}  # at a == b
SINGULAR_ONE = {'sqrt', 'log'}                          # at a == 0


def _truth01(fn):
    def g(*a):
        return MPF(1) if fn(*a) else MPF(0)
    return g


def bool_function(name, nargs, fn):
    """A sympy function for a comparison or logic op as a number (1 or 0): derivative 0
    with respect to every operand, evaluated by fn when lambdified.  (Not Piecewise: as
    the condition of a select, a Piecewise makes sympy fold and simplify the whole
    condition, which takes minutes on nested conditionals.)"""
    return type(name, (sp.Function,), {
        'nargs': nargs,
        'is_real': True,
        'fdiff': lambda self, argindex=1: sp.S.Zero,
        '_imp_': staticmethod(_truth01(fn)),
    })


def _t(x):
    return bool(mpmath.isnan(x)) or x != 0


BOOL_FUNCS = {
    'lt': bool_function('lt01', 2, lambda a, b: a < b),
    'le': bool_function('le01', 2, lambda a, b: a <= b),
    'gt': bool_function('gt01', 2, lambda a, b: a > b),
    'ge': bool_function('ge01', 2, lambda a, b: a >= b),
    'eq': bool_function('eq01', 2, lambda a, b: a == b),
    'ne': bool_function('ne01', 2, lambda a, b: a != b),
    'and': bool_function('and01', 2, lambda a, b: _t(a) and _t(b)),
    'or': bool_function('or01', 2, lambda a, b: _t(a) or _t(b)),
    'not': bool_function('not01', 1, lambda a: a == 0),
}


class Select(sp.Function):
    """select(c, a, b) = a where c != 0, else b: piecewise in c, so its partials are 0
    in c and the indicator of the branch in a and b.  (A Piecewise would be the obvious
    form, but sympy folds and simplifies every Piecewise whose condition holds another
    Piecewise, which takes minutes or fails on nested conditionals.)"""
    nargs = 3
    is_real = True

    def fdiff(self, argindex=1):
        c = self.args[0]
        if argindex == 1:
            return sp.S.Zero
        return Select(c, 1, 0) if argindex == 2 else Select(c, 0, 1)

    _imp_ = staticmethod(lambda c, a, b: a if _t(c) else b)


def sympy_ops():
    # Min, Max and the choice are built unevaluated, the comparisons as bool_function:
    # diff and the numeric evaluation do not need sympy's canonical forms.
    F = {
        'add': lambda a, b: a + b,
        'sub': lambda a, b: a - b,
        'mul': lambda a, b: a * b,
        'div': lambda a, b: a / b,
        'neg': lambda a: -a,
        'pow': lambda a, b: sp.Pow(a, b),
        'exp': sp.exp,
        'log': sp.log,
        'log1p': lambda a: sp.log(1 + a),
        'expm1': lambda a: sp.exp(a) - 1,
        'sqrt': sp.sqrt,
        'tanh': sp.tanh,
        'sigmoid': lambda a: 1 / (1 + sp.exp(-a)),
        'softplus': lambda a: sp.log(1 + sp.exp(a)),
        'relu': lambda a: sp.Max(a, 0, evaluate=False),
        'abs': sp.Abs,
        'sign': sp.sign,
        'sin': sp.sin,
        'cos': sp.cos,
        'min': lambda a, b: sp.Min(a, b, evaluate=False),
        'max': lambda a, b: sp.Max(a, b, evaluate=False),
        'select': Select,
    }
    F.update(BOOL_FUNCS)
    return F


SYMPY_F = sympy_ops()


def sympy_const(v):
    if not math.isfinite(v):
        return sp.nan if v != v else (sp.oo if v > 0 else -sp.oo)
    n, d = v.as_integer_ratio()
    return sp.Rational(n, d)


_symcache = {}


def sympy_sym(name):
    s = _symcache.get(name)
    if s is None:
        s = _symcache[name] = sp.Symbol(name, real=True)
    return s


# Numeric evaluation of the sympy side: lambdify to mpmath, with the distributions
# sympy's diff produces (away from kinks, where points are never taken).
def _heaviside(x, h=0.5):
    return MPF(1) if x > 0 else MPF(0) if x < 0 else MPF(h)


LAMBDIFY_MODULES = [{'Heaviside': _heaviside, 'DiracDelta': lambda *a: MPF(0)}, 'mpmath']


def lambdify(args, exprs):
    return sp.lambdify(args, exprs, modules=LAMBDIFY_MODULES, cse=True)


# Float semantics (C's, near enough: errors become NaN or inf; points with non-finite
# results are skipped anyway).
def _f(fn):
    def g(*a):
        try:
            return fn(*a)
        except (ValueError, ZeroDivisionError):
            return math.nan
        except OverflowError:
            return math.inf
    return g


def _fsigmoid(a):
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _fsoftplus(a):
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _fsign(a):
    return a if (a != a or a == 0) else (1.0 if a > 0 else -1.0)


def _fmin(a, b):
    return math.nan if (a != a or b != b) else min(a, b)


def _fmax(a, b):
    return math.nan if (a != a or b != b) else max(a, b)


def _fdiv(a, b):
    if b == 0:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _truth(x):
    return x != 0  # NaN counts as true, as in C


FLOAT_F = {
    'add': lambda a, b: a + b, 'sub': lambda a, b: a - b, 'mul': lambda a, b: a * b,
    'div': _fdiv, 'neg': lambda a: -a, 'pow': _f(math.pow), 'exp': _f(math.exp),
    'log': _f(math.log), 'log1p': _f(math.log1p), 'expm1': _f(math.expm1),
    'sqrt': _f(math.sqrt), 'tanh': math.tanh, 'sigmoid': _f(_fsigmoid),
    'softplus': _f(_fsoftplus), 'relu': lambda a: a if (a != a or a > 0) else 0.0,
    'abs': abs, 'sign': _fsign, 'sin': _f(math.sin), 'cos': _f(math.cos),
    'min': _fmin, 'max': _fmax,
    'lt': lambda a, b: float(a < b), 'le': lambda a, b: float(a <= b),
    'gt': lambda a, b: float(a > b), 'ge': lambda a, b: float(a >= b),
    'eq': lambda a, b: float(a == b), 'ne': lambda a, b: float(a != b),
    'and': lambda a, b: float(_truth(a) and _truth(b)),
    'or': lambda a, b: float(_truth(a) or _truth(b)),
    'not': lambda a: float(a == 0),
    'select': lambda c, a, b: a if _truth(c) else b,
}


def _m(fn):
    def g(*a):
        try:
            r = fn(*a)
        except (ValueError, ZeroDivisionError, OverflowError):
            return mp.nan
        if not isinstance(r, mpmath.mpf):
            if isinstance(r, mpmath.mpc):
                return mp.nan if r.imag != 0 else r.real
            return MPF(r)
        return r
    return g


def _mtruth(x):
    return bool(mpmath.isnan(x)) or x != 0


ONE, ZERO = MPF(1), MPF(0)
MP_F = {
    'add': lambda a, b: a + b, 'sub': lambda a, b: a - b, 'mul': lambda a, b: a * b,
    'div': _m(lambda a, b: a / b), 'neg': lambda a: -a, 'pow': _m(mpmath.power),
    'exp': _m(mpmath.exp), 'log': _m(lambda a: mpmath.log(a) if a > 0 else (-mp.inf if a == 0 else mp.nan)),
    'log1p': _m(lambda a: mpmath.log1p(a) if a > -1 else (-mp.inf if a == -1 else mp.nan)),
    'expm1': _m(mpmath.expm1),
    'sqrt': _m(lambda a: mpmath.sqrt(a) if a >= 0 else mp.nan),
    'tanh': _m(mpmath.tanh), 'sigmoid': _m(lambda a: 1 / (1 + mpmath.exp(-a))),
    'softplus': _m(lambda a: mpmath.log1p(mpmath.exp(a))),
    'relu': lambda a: a if (mpmath.isnan(a) or a > 0) else ZERO,
    'abs': abs, 'sign': _m(mpmath.sign), 'sin': _m(mpmath.sin), 'cos': _m(mpmath.cos),
    'min': lambda a, b: mp.nan if (mpmath.isnan(a) or mpmath.isnan(b)) else min(a, b),
    'max': lambda a, b: mp.nan if (mpmath.isnan(a) or mpmath.isnan(b)) else max(a, b),
    'lt': lambda a, b: ONE if a < b else ZERO, 'le': lambda a, b: ONE if a <= b else ZERO,
    'gt': lambda a, b: ONE if a > b else ZERO, 'ge': lambda a, b: ONE if a >= b else ZERO,
    'eq': lambda a, b: ONE if a == b else ZERO, 'ne': lambda a, b: ONE if a != b else ZERO,
    'and': lambda a, b: ONE if (_mtruth(a) and _mtruth(b)) else ZERO,
    'or': lambda a, b: ONE if (_mtruth(a) or _mtruth(b)) else ZERO,
    'not': lambda a: ONE if a == 0 else ZERO,
    'select': lambda c, a, b: a if _mtruth(c) else b,
}

# Local partials of each op, by sympy's diff on dummy operands, lambdified to mpmath:
# the reverse sweep's chain rule for programs too large for a whole-L diff.
_partials = {}


def op_partials(op):
    p = _partials.get(op)
    if p is None:
        dummies = sp.symbols('a0 a1 a2', real=True)[:ARITY[op]]
        e = SYMPY_F[op](*dummies)
        p = _partials[op] = [sp.lambdify(dummies, sp.diff(e, d), modules=LAMBDIFY_MODULES)
                             for d in dummies]
    return p


# ---------------------------------------------------------------- the derived program

class DeriveError(Exception):
    pass


def run_derive(hamc, path, opt, extra=()):
    r = subprocess.run([hamc, 'derive', path, '--opt', opt, '--format', 'sympy'] + list(extra),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise DeriveError("hamc derive exited %d: %s" % (r.returncode, (r.stderr or r.stdout).strip()[-2000:]))
    ns = {}
    exec(compile(r.stdout, '<hamc derive %s --opt %s>' % (path, opt), 'exec'), ns)
    return ns


class Graph:
    """The nodes build() constructs, recorded in its (topological) order."""

    def __init__(self, build):
        self.ops, self.args = [], []

        def add(op, arg):
            self.ops.append(op)
            self.args.append(arg)
            return len(self.ops) - 1

        F = {op: (lambda op: lambda *a: add(op, a))(op) for op in ARITY}
        self.out = build(lambda n: add('sym', n), lambda v: add('const', v), F)
        n = len(self.ops)
        # dependence on the differentiated symbols (states, params, the inputs g and theta)
        self.dep = [False] * n
        for i in range(n):
            op, a = self.ops[i], self.args[i]
            if op == 'sym':
                self.dep[i] = a[0] in 'sw' or a in INPUT_SYMS
            elif op != 'const':
                self.dep[i] = any(self.dep[k] for k in a)
        self.symbols = sorted({self.args[i] for i in range(n) if self.ops[i] == 'sym'})

    def sympy(self, roots, out):
        vals = {}
        for i in self.reach(roots):
            op, a = self.ops[i], self.args[i]
            if op == 'const':
                vals[i] = sympy_const(a)
            elif op == 'sym':
                vals[i] = sympy_sym(a)
            else:
                vals[i] = SYMPY_F[op](*[vals[k] for k in a])
        return {k: [vals.get(i) for i in v] for k, v in out.items()}

    def reach(self, roots):
        seen = [False] * len(self.ops)
        stack = list(roots)
        while stack:
            i = stack.pop()
            if seen[i]:
                continue
            seen[i] = True
            if self.ops[i] not in ('sym', 'const'):
                stack.extend(self.args[i])
        return [i for i in range(len(self.ops)) if seen[i]]

    def eval(self, env, F, conv, nodes=None):
        vals = [None] * len(self.ops)
        for i in (range(len(self.ops)) if nodes is None else nodes):
            op, a = self.ops[i], self.args[i]
            if op == 'const':
                vals[i] = conv(a)
            elif op == 'sym':
                vals[i] = conv(env[a])
            else:
                vals[i] = F[op](*[vals[k] for k in a])
        return vals

    def kinks(self, vals, nodes, limit=KINK):
        """The nodes among `nodes` that depend on states or params and are within
        `limit` (relative) of a kink or a singular point."""
        near = []
        for i in nodes:
            op = self.ops[i]
            if not self.dep[i] or op in ('sym', 'const'):
                continue
            a = self.args[i]
            d = None
            if op in KINK_ONE or op in SINGULAR_ONE or (op == 'pow' and self.dep[a[1]]):
                d = abs(vals[a[0]]) / 1e-3
            elif op in ('select', 'and', 'or', 'not'):
                ks = [k for k in (a[:1] if op == 'select' else a)
                      if self.dep[k] and self.ops[k] not in BOOL_OPS]
                if ks:
                    d = min(abs(vals[k]) for k in ks) / 1e-3
            elif op in KINK_TWO:
                x, y = vals[a[0]], vals[a[1]]
                d = abs(x - y) / max(abs(x), abs(y), 1e-3)
            if d is not None and d < limit:
                near.append(i)
        return near


def close(c, o):
    return abs(c - o) <= RTOL * max(abs(c), abs(o)) + ATOL


def fmt(x):
    return mpmath.nstr(x, 17) if isinstance(x, mpmath.mpf) else repr(x)


def finite_mp(x):
    return isinstance(x, mpmath.mpf) and mpmath.isfinite(x)


# what evaluating a sympy derivative may raise where it is singular (the point is then
# not used for that check)
ORACLE_ERRORS = (ZeroDivisionError, ValueError, OverflowError, TypeError)


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


_deadlines = []


def with_timeout(seconds, fn):
    """fn() or Timeout after `seconds` (nested calls keep the outer deadline)."""
    now = time.monotonic()
    deadline = now + seconds
    if _deadlines:
        deadline = min(deadline, _deadlines[-1])
    if deadline <= now:
        raise Timeout()
    old = signal.signal(signal.SIGALRM, _alarm)
    _deadlines.append(deadline)
    signal.setitimer(signal.ITIMER_REAL, deadline - now)
    try:
        return fn()
    finally:
        _deadlines.pop()
        if _deadlines:
            signal.setitimer(signal.ITIMER_REAL, max(_deadlines[-1] - time.monotonic(), 1e-3))
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- one optimizer

class Result:
    def __init__(self):
        self.passed = self.failed = 0


class Checker:
    """The checks of one derived optimizer."""

    def __init__(self, ns, label, args):
        self.label, self.args = label, args
        self.meta = ns['meta']
        self.ns_ = self.meta['nstate']
        self.np_ = self.meta['nparam']
        self.dyn = list(ns['dyn_state'])
        self.hyper_values = list(ns['hyper_values'])
        self.g = Graph(ns['build'])
        self.out = self.g.out
        self.has_H = 'H' in self.out
        self.has_adj = 'adj_state' in self.out
        # The sympy build, of the nodes the oracle differentiates only (next, update, H):
        # the recorded build() replayed with sympy's ops.  (The compiler's own adjoint and
        # dH/dx nodes are only evaluated, never rebuilt in sympy.)
        # Built on first use: a large program checked by the reverse sweep never needs it.
        self._S = None
        self.argnames = self.g.symbols
        self.argsyms = [sympy_sym(n) for n in self.argnames]
        primal = list(self.out['next']) + list(self.out['update'])
        for key in ('H', 'J', 'R', 'G', 'u'):
            primal += list(self.out.get(key, []))
        self.primal_nodes = self.g.reach(primal)
        self.fwd_nodes = self.g.reach(list(self.out['next']) + list(self.out['update']))
        self.roots = sorted({i for v in self.out.values() for i in v})

    @property
    def S(self):
        if self._S is None:
            sym_roots = list(self.out['next']) + list(self.out['update']) + list(self.out.get('H', []))
            self._S = self.g.sympy(sym_roots, self.out)
        return self._S

    # -- the oracle's functions

    def lam(self, exprs):
        f = lambdify(self.argsyms, exprs)
        return lambda env: f(*[MPF(env[n]) for n in self.argnames])

    def build_adjoint_oracle(self):
        """(method, fn(env, mpvals) -> (adj_state list, adj_param list, adj_input list))."""
        ns_, np_ = self.ns_, self.np_
        if len(self.fwd_nodes) <= self.args.symbolic_max:
            def symbolic():
                L = sum((sympy_sym('z%d' % k) * self.S['next'][k] for k in range(ns_)), sp.Integer(0))
                L = L + sympy_sym('z%d' % ns_) * self.S['update'][0]
                grads = [sp.diff(L, sympy_sym('s%d' % k)) for k in range(ns_)]
                grads += [sp.diff(L, sympy_sym('w%d' % j)) for j in range(np_)]
                grads += [sp.diff(L, sympy_sym(n)) for n in INPUT_SYMS]
                return self.lam(grads)
            try:
                f = with_timeout(self.args.symbolic_timeout, symbolic)

                def run(env, vals):
                    r = [_m(lambda v: v)(v) for v in f(env)]
                    return r[:ns_], r[ns_:ns_ + np_], r[ns_ + np_:]
                return 'sympy diff of L', run
            except Timeout:
                pass
            except Exception:   # a Derivative sympy left unevaluated cannot be printed
                pass
        # reverse sweep, sympy's local partials
        sweep = self.sweeper(list(self.out['next']) + list(self.out['update']))

        def run(env, vals):
            seeds = [(self.out['next'][k], MPF(env['z%d' % k])) for k in range(ns_)]
            seeds.append((self.out['update'][0], MPF(env['z%d' % ns_])))
            bar = sweep(seeds, vals)
            return ([bar.get('s%d' % k, ZERO) for k in range(ns_)],
                    [bar.get('w%d' % j, ZERO) for j in range(np_)],
                    [bar.get(n, ZERO) for n in INPUT_SYMS])
        return 'reverse sweep of sympy partials', run

    def sweeper(self, roots):
        """A reverse sweep over the nodes below roots whose chain rule takes each op's
        local partials from sympy's diff: fn(seeds [(node, value)], mpvals) -> {state
        or param symbol name: adjoint}."""
        g = self.g
        nodes = [i for i in g.reach(roots) if g.dep[i]]
        parts = {g.ops[i]: op_partials(g.ops[i]) for i in nodes if g.ops[i] not in ('sym', 'const')}

        def run(seeds, vals):
            bar, out = {}, {}
            for i, v in seeds:
                bar[i] = bar.get(i, ZERO) + v
            for i in reversed(nodes):
                b = bar.get(i)
                if b is None or b == 0:
                    continue
                op, a = g.ops[i], g.args[i]
                if op == 'sym':
                    out[a] = out.get(a, ZERO) + b
                    continue
                kv = [vals[k] for k in a]
                for pos, k in enumerate(a):
                    if not g.dep[k]:
                        continue
                    d = _m(parts[op][pos])(*kv)
                    if d != 0:
                        bar[k] = bar.get(k, ZERO) + d * b
            return out
        return run

    # -- points

    def random_env(self, rng, random_mode):
        env = {}
        for k, v in enumerate(self.hyper_values):
            env['h%d' % k] = v
        for j in range(self.np_):
            env['w%d' % j] = rng.uniform(-1.5, 1.5) if random_mode else rng.gauss(0, 0.5)
        for k in range(self.ns_ + 1):
            env['z%d' % k] = rng.gauss(0, 1)
        for n in self.argnames:
            if n[0] == 'i' and n not in env:
                env[n] = rng.gauss(0, 1)
        if random_mode:
            for k in range(self.ns_):
                env['s%d' % k] = rng.uniform(-2, 2)
            env['i0'] = rng.gauss(0, 1)
            env['i1'], env['i2'] = 1.0, 0.0
            return env
        # a typical state: a few forward steps from zero on random gradients
        state = [0.0] * self.ns_
        steps = rng.randint(1, 6)
        for t in range(1, steps + 1):
            for k in range(self.ns_):
                env['s%d' % k] = state[k]
            env['i0'] = rng.gauss(0, 1) * 10 ** rng.uniform(-1, 0.5)
            env['i1'] = float(t)
            env['i2'] = rng.gauss(0, 1)
            vals = self.g.eval(env, FLOAT_F, float, self.fwd_nodes)
            state = [vals[i] for i in self.out['next']]
            if not all(math.isfinite(x) for x in state):
                return None
        # a multiplicative jitter (keeps signs, so nonnegative states stay so) breaks
        # coincidences of the first steps, like q = p after one symplectic Euler step
        for k in range(self.ns_):
            env['s%d' % k] = state[k] * math.exp(0.2 * rng.gauss(0, 1))
        env['i0'] = rng.gauss(0, 1) * 10 ** rng.uniform(-1, 0.5)
        env['i1'] = float(steps + 1)
        env['i2'] = rng.gauss(0, 1)
        return env

    def points(self, rng, n, random_mode):
        """Up to n (env, mpvals) pairs where every root is finite and no kink is near;
        and the number of rejected tries."""
        got, rejected = [], 0
        for _ in range(n * 8):
            if len(got) == n:
                break
            env = self.random_env(rng, random_mode)
            if env is None:
                rejected += 1
                continue
            fv = self.g.eval(env, FLOAT_F, float)
            if not all(math.isfinite(fv[i]) for i in self.roots):
                rejected += 1
                continue
            near = self.g.kinks(fv, self.primal_nodes)
            if near:
                # A tie that holds identically (min(g, g), abs(x - x)) is no kink: its
                # derivative is the same by any convention.  Keep the nodes that are
                # still tied when the states and params move.
                for _ in range(2):
                    env2 = dict(env)
                    for key in env2:
                        if key[0] in 'sw':
                            env2[key] = env[key] * (1 + 1e-2 * rng.gauss(0, 1)) + 1e-2 * rng.gauss(0, 1)
                    fv2 = self.g.eval(env2, FLOAT_F, float)
                    near = self.g.kinks(fv2, near)
                if near != self.g.kinks(fv, self.primal_nodes):
                    rejected += 1
                    continue
            mv = self.g.eval(env, MP_F, MPF)
            if not all(finite_mp(mv[i]) for i in self.roots):
                rejected += 1
                continue
            got.append((env, mv))
        return got, rejected

    # -- the checks

    def run(self, rng, random_mode=False):
        """A list of (group name, ok, details lines, note)."""
        groups = []
        n = self.args.points
        pts, rejected = self.points(rng, n, random_mode)
        note = '%d points' % len(pts) + (' (%d rejected)' % rejected if rejected else '')
        if not pts:
            return [('points', None, ['no usable point in %d tries' % (n * 8)], note)]
        out = self.out
        if self.has_H:
            groups += self.check_H(pts, note)
        if self.has_adj:
            t0 = time.time()
            method, fn = self.build_adjoint_oracle()
            bad = []
            unevaluable = 0
            for pi, (env, mv) in enumerate(pts):
                try:
                    want_s, want_w, want_i = fn(env, mv)
                except ORACLE_ERRORS:
                    unevaluable += 1
                    continue
                for name, nodes, want in (('adj_state', out['adj_state'], want_s),
                                          ('adj_param', out['adj_param'], want_w),
                                          ('adj_input', out['adj_input'], want_i)):
                    for k, (i, o) in enumerate(zip(nodes, want)):
                        if not finite_mp(o):
                            continue
                        if not close(mv[i], o):
                            bad.append('%s[%d] at point %d: hamc %s, sympy %s' % (name, k, pi, fmt(mv[i]), fmt(o)))
                if bad and len(bad) > 6:
                    break
            if bad:
                bad.append('point: ' + self.describe(pts[int(re.search(r'point (\d+)', bad[0]).group(1))][0]))
            if unevaluable:
                note += ', %d where the sympy derivative does not evaluate' % unevaluable
            if unevaluable == len(pts):
                groups.append(('adjoint', None, ['the sympy derivative does not evaluate at any point'], note))
            else:
                groups.append(('adjoint (%s, %.1fs)' % (method, time.time() - t0), not bad, bad, note))
        return groups

    def describe(self, env):
        return ', '.join('%s=%r' % (k, env[k]) for k in sorted(env, key=lambda s: (s[0], int(s[1:]))))

    def check_H(self, pts, note):
        out = self.out
        n, m = self.meta['ndyn'], self.meta['nu']
        xs = [sympy_sym('s%d' % k) for k in self.dyn]
        dHf = None
        if len(self.g.reach(out['H'])) <= self.args.symbolic_max:
            def symbolic():
                Hs = self.g.sympy(out['H'], {'H': out['H']})['H'][0]
                return self.lam([sp.diff(Hs, x) for x in xs])
            try:
                dHf = with_timeout(self.args.symbolic_timeout, symbolic)
            except Timeout:
                pass
            except Exception:   # a Derivative sympy left unevaluated cannot be printed
                pass
        if dHf is None:         # the reverse sweep of sympy's partials, on H alone
            sweep = self.sweeper(out['H'])

            def dHf(env):
                mv = self.g.eval(env, MP_F, MPF, self.g.reach(out['H']))
                bar = sweep([(out['H'][0], ONE)], mv)
                return [bar.get('s%d' % k, ZERO) for k in self.dyn]
        res = {k: [] for k in ('dHdx', 'field', 'energy', 'structure')}
        for pi, (env, mv) in enumerate(pts):
            try:
                d = [_m(lambda v: v)(v) for v in dHf(env)]
            except ORACLE_ERRORS:
                continue
            if not all(finite_mp(v) for v in d):
                continue
            J = [mv[i] for i in out['J']]
            R = [mv[i] for i in out['R']]
            G = [mv[i] for i in out['G']]
            u = [mv[i] for i in out['u']]
            for i in range(n):
                if not close(mv[out['dHdx'][i]], d[i]):
                    res['dHdx'].append('dHdx[%d] at point %d: hamc %s, sympy %s' % (i, pi, fmt(mv[out['dHdx'][i]]), fmt(d[i])))
            for i in range(n):
                f = sum((J[i * n + j] - R[i * n + j]) * d[j] for j in range(n)) + sum(G[i * m + k] * u[k] for k in range(m))
                terms = [abs(J[i * n + j] * d[j]) + abs(R[i * n + j] * d[j]) for j in range(n)] + \
                        [abs(G[i * m + k] * u[k]) for k in range(m)]
                c = mv[out['field'][i]]
                if not (abs(c - f) <= RTOL * max(abs(c), abs(f), max(terms, default=ZERO) * 1e-3) + ATOL):
                    res['field'].append('field[%d] at point %d: hamc %s, (J-R)dH+Gu %s' % (i, pi, fmt(c), fmt(f)))
            lhs = sum(mv[out['dHdx'][i]] * mv[out['field'][i]] for i in range(n))
            diss, supp = mv[out['dissipated'][0]], mv[out['supplied'][0]]
            scale = sum(abs(mv[out['dHdx'][i]] * mv[out['field'][i]]) for i in range(n)) + abs(diss) + abs(supp)
            if not abs(lhs - (supp - diss)) <= RTOL * scale + ATOL:
                res['energy'].append('dH/dx . field at point %d: %s, -dissipated + supplied %s' % (pi, fmt(lhs), fmt(supp - diss)))
            diss_o = sum(d[i] * R[i * n + j] * d[j] for i in range(n) for j in range(n))
            y = [sum(G[i * m + k] * d[i] for i in range(n)) for k in range(m)]
            supp_o = sum(y[k] * u[k] for k in range(m))
            if not close(diss, diss_o):
                res['energy'].append('dissipated at point %d: hamc %s, dH^T R dH %s' % (pi, fmt(diss), fmt(diss_o)))
            if not close(supp, supp_o):
                res['energy'].append('supplied at point %d: hamc %s, (G^T dH).u %s' % (pi, fmt(supp), fmt(supp_o)))
            rmax = max([abs(v) for v in R] + [abs(v) for v in J] + [MPF(1e-300)])
            for i in range(n):
                for j in range(n):
                    if abs(J[i * n + j] + J[j * n + i]) > RTOL * rmax + ATOL:
                        res['structure'].append('J not skew at point %d: J[%d,%d] = %s, J[%d,%d] = %s' % (pi, i, j, fmt(J[i * n + j]), j, i, fmt(J[j * n + i])))
                    if abs(R[i * n + j] - R[j * n + i]) > RTOL * rmax + ATOL:
                        res['structure'].append('R not symmetric at point %d: R[%d,%d] = %s, R[%d,%d] = %s' % (pi, i, j, fmt(R[i * n + j]), j, i, fmt(R[j * n + i])))
            if n:
                Rm = mpmath.matrix(n, n)
                for i in range(n):
                    for j in range(n):
                        Rm[i, j] = (R[i * n + j] + R[j * n + i]) / 2
                ev = mpmath.eigsy(Rm, eigvals_only=True)
                lo = min(ev[i] for i in range(n))
                if lo < -(RTOL * rmax + ATOL):
                    res['structure'].append('R has eigenvalue %s at point %d' % (fmt(lo), pi))
        return [(k, not res[k], res[k][:8] + (['point: ' + self.describe(pts[int(re.search(r'point (\d+)', res[k][0]).group(1))][0])] if res[k] else []), note)
                for k in ('dHdx', 'field', 'energy', 'structure')]


# ---------------------------------------------------------------- random specs

class ExprGen:
    UNARY = ['exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'softplus', 'relu', 'abs', 'sin', 'cos', 'neg']
    CMP = ['<', '<=', '>', '>=']

    def __init__(self, rng):
        self.rng = rng

    def leaf(self, leaves):
        r = self.rng
        if r.random() < 0.25:
            return r.choice(['0.5', '2', '1.5', '0.3', '3', '0.25'])
        return r.choice(leaves)

    def expr(self, depth, leaves):
        r = self.rng
        if depth <= 0 or r.random() < 0.12:
            return self.leaf(leaves)
        kind = r.random()
        sub = lambda: self.expr(depth - 1, leaves)
        if kind < 0.35:
            op = r.choice(['+', '-', '*', '/'])
            a, b = sub(), sub()
            if op == '/' and r.random() < 0.7:
                b = '(abs(%s) + 0.5)' % b
            return '(%s %s %s)' % (a, op, b)
        if kind < 0.45:
            e = r.choice([2, 2, 3, 3, -1, 0, 1])
            return '(%s)^%s' % (sub(), e if e >= 0 else '(%d)' % e)
        if kind < 0.78:
            f = r.choice(self.UNARY)
            a = sub()
            if f == 'log':
                return 'log(abs(%s) + 0.5)' % a
            if f == 'sqrt':
                return 'sqrt(abs(%s) + 0.1)' % a
            if f == 'exp':
                return 'exp(%s)' % (a if r.random() < 0.5 else 'tanh(%s)' % a)
            if f == 'neg':
                return '(-%s)' % a
            return '%s(%s)' % (f, a)
        if kind < 0.88:
            return '%s(%s, %s)' % (r.choice(['min', 'max']), sub(), sub())
        cond = '%s %s %s' % (self.expr(depth - 2, leaves), r.choice(self.CMP), self.expr(depth - 2, leaves))
        if r.random() < 0.2:
            cond = '%s %s %s %s %s' % (cond, r.choice(['and', 'or']), self.expr(1, leaves), r.choice(self.CMP), self.expr(1, leaves))
        elif r.random() < 0.1:
            cond = 'not (%s)' % cond
        return '(if %s then %s else %s)' % (cond, sub(), sub())


def random_spec(rng, depth):
    gen = ExprGen(rng)
    e1 = gen.expr(depth, ['x', 'w', 'g'])
    e2 = gen.expr(depth, ['x', 'w', 'g', "x'"])
    return ('optimizer r {\n    input g\n    state x = 0\n    param w = 0.5\n'
            '    next x = %s\n    update = %s\n}\n' % (e1, e2))


def random_ph_spec(rng, depth):
    """A random port-Hamiltonian spec over the pair (q, p): H, and often J, R and G,
    random expressions of q, p and the param w; a random integrator and dt."""
    gen = ExprGen(rng)
    e = lambda d, leaves=('q', 'p', 'w'): gen.expr(d, list(leaves))
    lines = ['hamiltonian H = %s' % e(depth)]
    pair = True                         # J canonical, by the names q and p
    kind = rng.random()
    if kind < 0.25:                     # skew by construction, state-dependent
        lines.append('structure J = A - transpose(A)')
        lines.append('let A = [%s, %s; %s, %s]' % (e(2), e(2), e(2), e(2)))
        pair = False
    elif kind < 0.35:
        lines.append('structure J = canonical(q, p)')
    friction_on_p = False
    kind = rng.random()
    if kind < 0.4:
        lines.append('dissipation R = diag([0, softplus(%s)])' % e(3))
        friction_on_p = True
    elif kind < 0.6:
        lines.append('dissipation R = L @ transpose(L)')
        lines.append('let L = [%s, 0; %s, %s]' % (e(2), e(2), e(2)))
    elif kind < 0.75:
        lines.append('dissipation R = blockdiag(relu(%s), exp(tanh(%s)))' % (e(2), e(2)))
    kind = rng.random()
    if kind < 0.4:
        lines.append('port G = [0; -1]')
    elif kind < 0.8:
        lines.append('port G = [%s; %s]' % (e(2), e(2)))
    else:
        lines.append('port G = [0; -1], tanh(%s)' % e(2, ('g', 'q', 'w')))
    names = ['euler', 'rk4']
    if pair:
        names += ['symplectic_euler', 'leapfrog']
        if friction_on_p or not any(l.startswith('dissipation') for l in lines):
            names.append('conformal_symplectic')
    lines.append('integrator %s(dt = %s)' % (rng.choice(names), rng.choice(['1', '0.5', '0.1'])))
    lines.append('update = %s' % e(depth, ('q', 'p', 'w', 'g', "q'", "p'")))
    return ('optimizer r {\n    input g\n    state q = 0, p = 0\n    param w = 0.5\n'
            + ''.join('    %s\n' % l for l in lines) + '}\n')


# ---------------------------------------------------------------- driver

def optimizers_in(path):
    with open(path) as f:
        return re.findall(r'^\s*optimizer\s+([A-Za-z_][A-Za-z_0-9]*)', f.read(), re.M)


def report(tot, label, group, ok, details, note):
    if ok:
        tot.passed += 1
        print('ok    %s: %s  [%s]' % (label, group, note))
    else:
        tot.failed += 1
        print('FAIL  %s: %s  [%s]' % (label, group, note))
        for d in details:
            print('        ' + d)
            print('FAIL  %s: %s: %s' % (label, group, d), file=sys.stderr)
    sys.stdout.flush()


def check_file(path, opts, args, tot):
    for opt in opts:
        label = '%s %s' % (path, opt) + ''.join(' ' + a for a in args.derive_args)
        rng = random.Random('%s:%s:%d' % (os.path.basename(path), opt, args.seed))
        t0 = time.time()
        try:
            ns = run_derive(args.hamc, path, opt, args.derive_args)
            ch = Checker(ns, label, args)
            groups = ch.run(rng)
        except DeriveError as e:
            report(tot, label, 'derive', False, [str(e)], '')
            continue
        except Exception as e:  # the dump did not run, or an oracle problem: say which
            report(tot, label, 'oracle error', False, ['%s: %s' % (type(e).__name__, e)], '')
            continue
        for name, ok, details, note in groups:
            report(tot, label, name, ok, details, note)
        dt = time.time() - t0
        if dt > 20:
            print('note  %s: took %.1fs' % (label, dt))


def check_random(args, tot):
    # The explicit specs draw from Random(seed), as they always did; the
    # port-Hamiltonian ones from a stream of their own.
    # port-Hamiltonian ones from a stream of their own, and with the whole-program
    # sympy diff only for small programs (an rk4 step of a random H is hundreds of
    # nodes, and sympy takes seconds on it; the reverse sweep of sympy's partials
    # checks the same thing in a fraction of that).
    ph_args = argparse.Namespace(**vars(args))
    ph_args.symbolic_max = min(args.symbolic_max, 150)
    batches = [('random', args.random, random_spec, random.Random(args.seed), args),
               ('random-ph', args.random_ph, random_ph_spec, random.Random('ph:%d' % args.seed), ph_args)]
    with tempfile.TemporaryDirectory(prefix='ham-oracle-') as tmp:
        for kind, count, make, rng, kargs in batches:
            skipped = 0
            passed0, failed0 = tot.passed, tot.failed
            for n in range(count):
                spec = make(rng, args.depth)
                path = os.path.join(tmp, 'r%d.ham' % n)
                with open(path, 'w') as f:
                    f.write(spec)
                label = '%s #%d (seed %d)' % (kind, n, args.seed)
                try:
                    ns = run_derive(args.hamc, path, 'r')
                except DeriveError as e:
                    report(tot, label, 'derive', False, [str(e)] + spec.splitlines(), '')
                    continue
                try:
                    prng = random.Random(rng.random())
                    groups = with_timeout(args.spec_timeout, lambda: Checker(ns, label, kargs).run(prng, random_mode=True))
                except Timeout:
                    skipped += 1
                    print('skip  %s: the oracle took over %gs' % (label, args.spec_timeout))
                    if args.verbose:
                        print('\n'.join('        ' + l for l in spec.splitlines()))
                    continue
                except Exception as e:  # an oracle problem: say so, with the spec
                    report(tot, label, 'oracle error', False, ['%s: %s' % (type(e).__name__, e)] + spec.splitlines(), '')
                    continue
                for name, ok, details, note in groups:
                    if ok is None:
                        skipped += 1
                        if args.verbose:
                            print('skip  %s: %s' % (label, details[0]))
                        continue
                    if ok:
                        tot.passed += 1
                        if args.verbose:
                            print('ok    %s: %s  [%s]' % (label, name, note))
                            sys.stdout.flush()
                    else:
                        report(tot, label, name, False, details + spec.splitlines(), note)
            if not count:
                continue
            print('%s: %d specs, %d checks passed, %d failed, %d skipped (no usable point or too slow; seed %d, depth %d)'
                  % (kind, count, tot.passed - passed0, tot.failed - failed0, skipped, args.seed, args.depth))
            if skipped:
                print('skipped: %d checks of %d %s specs (no usable point, or the oracle too slow)' % (skipped, count, kind))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description='sympy oracle for hamc derive')
    ap.add_argument('files', nargs='*')
    ap.add_argument('--hamc', default=os.environ.get('HAMC') or os.path.join(here, '..', '..', 'bin', 'hamc'))
    ap.add_argument('--opt', action='append', help='optimizer name (default: every one in the file)')
    ap.add_argument('--points', type=int, default=10)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--random', type=int, default=0, metavar='N')
    ap.add_argument('--random-ph', type=int, metavar='M',
                    help='random port-Hamiltonian specs (default: a quarter of --random)')
    ap.add_argument('--depth', type=int, default=5)
    ap.add_argument('--symbolic-max', type=int, default=400,
                    help='largest forward program (nodes) for a whole-L sympy diff')
    ap.add_argument('--symbolic-timeout', type=float, default=8.0)
    ap.add_argument('--spec-timeout', type=float, default=30.0,
                    help='seconds for the oracle on one random spec (then it is skipped)')
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('--integrator', help='passed to hamc derive (specs with a hamiltonian)')
    ap.add_argument('--dt', help='passed to hamc derive')
    args = ap.parse_args()
    args.derive_args = (['--integrator', args.integrator] if args.integrator else []) + \
        (['--dt', args.dt] if args.dt else [])
    if not os.access(args.hamc, os.X_OK):
        print('sympy_oracle: no hamc at %s' % args.hamc)
        print('0 passed, 1 failed')
        return 1
    tot = Result()
    for path in args.files:
        opts = args.opt or optimizers_in(path)
        if not opts:
            continue
        check_file(path, opts, args, tot)
    if args.random_ph is None:
        args.random_ph = args.random // 4
    if args.random or args.random_ph:
        check_random(args, tot)
    print('%d passed, %d failed' % (tot.passed, tot.failed))
    return 1 if tot.failed else 0


if __name__ == '__main__':
    sys.exit(main())
