#!/usr/bin/python3
"""race.py: `make bench`'s one table (issue 8): ham against the PyTorch reference,
measured side by side in one run, plus the kernel rows of bench/kernels.c and
bench/lstm_sgemm.c; printed, and written with the machine to bench/results.md.

Two measurement servers stay up for the whole race: bench/race_ham.c (ham's runtime:
the same batch/unroll/meta-optimizer calls `hamc train` and `hamc run` make) and
bench/torch_ref.py --serve (the PyTorch reference).  Both answer the same commands
(see their headers), so each row is a pair of commands.  A row is measured in rounds;
each round runs, for 1 thread and then 2 threads, ham's command and then torch's, so
a neighbour's load falls on both sides alike.  A side's time is the lower quartile of
all its samples (see med()); the ratio is torch / ham (> 1: ham is faster); its spread
is the median absolute deviation of the per-round ratios, relative.  Rounds repeat (3
to MAX_ROUNDS) until the spread is within 5% (about +-10% for the range).  Each command
is sized by a warm-up to take about TARGET seconds.

Rows: optimizee step (train mode: the recorded step of an unroll; eval mode: a step
of an evaluation), meta-step (one unroll: forward + adjoint + meta update), the
evaluation step of the reference protocol's 20 test runs (ham: in chunks, as hamc
steps them: eval.c's eval_chunk_runs), the protocol's
projected wall-clock, time against the number of coordinates and against the unroll
length, peak RSS of MNIST LSTM meta-training (each side in a child process of its
own, ru_maxrss by wait4), and the kernel rows.

usage: race.py --ham BIN --kernels-md F --kernels-json F --lstm-md F --lstm-json F
               --out bench/results.md [--quick]
"""
import argparse
import json
import math
import os
import pickle
import statistics
import subprocess
import sys
import time

TARGET = 0.15          # seconds per command (a side's samples in one round)
SIZES = {"seed_hnn": (10, 1000, 10**5, 10**7), "lstm": (10, 1000, 10**5)}   # coordinates
SIZES_QUICK = {"seed_hnn": (10, 10**5), "lstm": (10, 10**5)}
UNROLLS = {"m seed_hnn_pre": (5, 10, 20, 80), "q lstm": (5, 20, 100)}
MAX_ROUNDS = 6
THREADS = (1, 2)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Server:
    def __init__(self, name, argv, env=None):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                  env=env)

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise RuntimeError("%s died on: %s" % (self.name, line))
        d = json.loads(out)
        if "error" in d:
            raise RuntimeError("%s: %s (on: %s)" % (self.name, d["error"], line))
        return d

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except OSError:
            pass
        self.p.wait()


def med(xs):
    """The lower quartile: the machine is shared and a neighbour's load only ever adds time, so
    the lower quartile is steadier than the median while not resting on a single lucky sample."""
    if not xs:
        return float("nan")
    if len(xs) < 3:
        return min(xs)
    return statistics.quantiles(xs, n=4, method="inclusive")[0]


class Race:
    """One row: a command per side, measured per thread count in interleaved rounds."""

    def __init__(self, ham_cmd, torch_cmd, threads=THREADS, key="t", unroll=1, target=TARGET,
                 max_rounds=None, ham_inner=None, torch_inner=None):
        self.cmd = {"ham": ham_cmd, "torch": torch_cmd}
        self.threads, self.key, self.unroll = threads, key, unroll
        self.target, self.max_rounds = target, max_rounds or MAX_ROUNDS
        self.inner = {"ham": ham_inner, "torch": torch_inner}
        self.samples = {(s, t): [] for s in ("ham", "torch") for t in threads}
        self.fwd = {(s, t): [] for s in ("ham", "torch") for t in threads}
        self.rounds = {t: [] for t in threads}
        self.error = None

    def line(self, side, t, reps):
        extra = " inner=%d" % self.inner[side] if self.inner[side] else ""
        return "%s threads=%d reps=%d%s" % (self.cmd[side], t, reps, extra)

    def warmup(self, srv):
        self.reps = {}
        for t in self.threads:
            for side in ("ham", "torch"):
                srv[side].ask(self.line(side, t, 1))          # first use: compile, allocate
                d = srv[side].ask(self.line(side, t, 1))      # how long a sample takes
                per = max(med(d[self.key]) * (self.inner[side] or 1), 1e-9)
                self.reps[side, t] = max(1, min(400, int(self.target / per)))

    def round(self, srv):
        """One round; True when the row is done (stable, or out of rounds)."""
        for t in self.threads:
            meds = {}
            for side in ("ham", "torch"):
                d = srv[side].ask(self.line(side, t, self.reps[side, t]))
                self.samples[side, t] += d[self.key]
                if "fwd" in d:
                    self.fwd[side, t] += d["fwd"]
                meds[side] = med(d[self.key])
            self.rounds[t].append(meds["torch"] / meds["ham"])
        n = len(self.rounds[self.threads[0]])
        return n >= self.max_rounds or (n >= 3 and all(self.spread(t) <= 0.05 for t in self.threads))

    def run(self, srv):
        return run_group([self], srv)[0]

    def time(self, side, t, fwd=False):
        xs = (self.fwd if fwd else self.samples).get((side, t), [])
        return med(xs) / (self.unroll if fwd else 1)

    def ratio(self, t, fwd=False):
        return self.time("torch", t, fwd) / self.time("ham", t, fwd)

    def spread(self, t):
        """Median absolute deviation of the per-round ratios, relative to their median: robust
        to the one round a neighbour's burst lands on."""
        rs = self.rounds.get(t, [])
        if len(rs) < 2:
            return float("nan")
        m = statistics.median(rs)
        return statistics.median(abs(r - m) for r in rs) / m


def run_group(races, srv):
    """Measure rows round-robin, so that rows to be compared with each other (an unroll
    series) see the same moments of the neighbours' load."""
    live = []
    for r in races:
        try:
            r.warmup(srv)
            live.append(r)
        except RuntimeError as e:
            r.error = str(e)
            log("race.py: " + r.error)
    while live:
        for r in list(live):
            try:
                if r.round(srv):
                    live.remove(r)
            except RuntimeError as e:
                r.error = str(e)
                log("race.py: " + r.error)
                live.remove(r)
    return races


# ------------------------------------------------------------------ formatting
def fmt_t(s):
    if s is None or not math.isfinite(s):
        return "-"
    for unit, k in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= k:
            v = s / k
            return ("%.3g" % v if v < 100 else "%.0f" % v) + " " + unit
    return "%.3g ns" % (s * 1e9)


def fmt_h(s):
    if not math.isfinite(s):
        return "-"
    if s >= 3600:
        return "%.2f h" % (s / 3600)
    if s >= 60:
        return "%.1f min" % (s / 60)
    return "%.1f s" % s


def fmt_r(x, spread=None):
    if x is None or not math.isfinite(x):
        return "-"
    s = ("%.0fx" % x) if x >= 100 else ("%.1fx" % x) if x >= 1 else ("%.2fx" % x)
    if spread is not None and math.isfinite(spread):
        s += " (±%.0f%%)" % (100 * spread)
    return s


class Table:
    def __init__(self):
        self.rows = []   # (section, label, h1, t1, r1, h2, t2, r2, target)

    def section(self, name):
        self.rows.append(("section", name))

    def add(self, label, h1="-", t1="-", r1="-", h2="-", t2="-", r2="-", target=""):
        self.rows.append(("row", label, h1, t1, r1, h2, t2, r2, target))

    def race(self, label, race, target="", fwd=False, per=1.0, unit=fmt_t):
        cells = []
        for t in THREADS:
            if race.error or t not in race.threads:
                cells += ["error" if race.error else "-", "-", "-"]
                continue
            h, q = race.time("ham", t, fwd) / per, race.time("torch", t, fwd) / per
            cells += [unit(h), unit(q), fmt_r(q / h, None if fwd else race.spread(t))]
        self.add(label, *cells, target=target)

    def markdown(self):
        out = ["| row | ham 1T | reference 1T | ratio 1T | ham 2T | reference 2T | ratio 2T | target |",
               "|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            if r[0] == "section":
                out.append("| **%s** | | | | | | | |" % r[1])
            else:
                out.append("| " + " | ".join(r[1:]) + " |")
        return "\n".join(out)


# ------------------------------------------------------------------ machine
def jit_lanes():
    """f32 lanes of the JIT's kernels: 16 where the CPU has AVX-512F (unless HAM_VECTOR_BITS=256), else 8."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                wide = " avx512f" in line and os.environ.get("HAM_VECTOR_BITS") != "256"
                return 16 if wide else 8
    return 8


# What tools/bench.sh tells machine() about the build; kept with the measurements so that
# --render writes the same header.
BENCH_ENV = ("BENCH_CC_VERSION", "BENCH_LLVM_VERSION", "BENCH_CPU_EXTRA")


def machine(ham_info, torch_info, load0, load1, started, elapsed):
    model, fam, mod, mhz = "?", "?", "?", "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "model name" and model == "?":
                model = v
            elif k == "cpu family" and fam == "?":
                fam = v
            elif k == "model" and mod == "?":
                mod = v
            elif k == "cpu MHz" and mhz == "?":
                mhz = v
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = "%.0f GiB" % (int(line.split()[1]) / 2**20)
    return "\n".join([
        "- CPU: %s (family %s, model %s), %d cores online, %s MHz; %s; %s RAM" % (
            model, fam, mod, os.cpu_count(), mhz, os.environ.get("BENCH_CPU_EXTRA", ""), mem),
        "- ham: %s, JIT LLVM %s; OpenBLAS %s" % (os.environ.get("BENCH_CC_VERSION", "gcc"),
                                              os.environ.get("BENCH_LLVM_VERSION", "?"), ham_info.get("openblas", "?")),
        "- reference: PyTorch %s (Debian python3-torch, /usr/bin/python3; sgemm through the same OpenBLAS), "
        "float32, torch.set_num_threads and openblas_set_num_threads per row" % torch_info.get("torch", "?"),
        "- Date: %s; the race took %.0f s; load average %.2f at its start, %.2f at its end (the machine is "
        "shared: other processes' load falls on both sides alike thanks to the interleaving, but the 2-thread "
        "columns suffer first)" % (started, elapsed, load0, load1),
    ])


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ------------------------------------------------------------------ rss
def child_rss(argv, commands, env=None):
    """Run a server in a child process on `commands`; its peak RSS (KB) by wait4."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    p.stdin.write("".join(c + "\n" for c in commands) + "quit\n")
    p.stdin.close()
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    answers = [json.loads(l) for l in out.splitlines() if l.strip()]
    errs = [a["error"] for a in answers if "error" in a]
    return ru.ru_maxrss, answers, errs


# ------------------------------------------------------------------ main
def measure(a):
    """Run every row; the state render() needs (also pickled for --render)."""
    py = "/usr/bin/python3"
    # OMP_WAIT_POLICY=PASSIVE: libgomp's spinning workers fight OpenBLAS's own threads (and the
    # neighbours) for the 2 cores; passive waiting made torch's 2-thread MNIST steps 10-50x faster here.
    tenv = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", OMP_WAIT_POLICY="PASSIVE")
    henv = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    started = time.strftime("%Y-%m-%d %H:%M")
    load0, t_start = loadavg(), time.time()
    srv = {"ham": Server("race_ham", [a.ham], henv)}
    ham_info = srv["ham"].ask("info")
    # Both sides on the same OpenBLAS kernels: ham chooses them where OpenBLAS's own
    # detection does not know the CPU (runtime/blas_setup.h); torch gets the same.
    if ham_info.get("blas_core"):
        tenv["OPENBLAS_CORETYPE"] = ham_info["blas_core"]
    srv["torch"] = Server("torch_ref", [py, "bench/torch_ref.py", "--serve"], tenv)
    torch_info = srv["torch"].ask("info")

    # The reference computes the same steps: its modules, loaded with ham's params, reproduce
    # the updates of ham's kernels on fixed inputs.
    probes = {}
    for o in ("seed_hnn", "seed_hnn_pre", "lstm", "lstm_pre", "phnn"):
        try:
            hp = srv["ham"].p
            hp.stdin.write("probe opt=%s\n" % o)
            hp.stdin.flush()
            line = hp.stdout.readline().strip()
            probes[o] = srv["torch"].ask("probe opt=%s %s" % (o, line))["max_rel_diff"]
        except (RuntimeError, ValueError, KeyError) as e:
            probes[o] = float("nan")
            log("race.py: probe %s: %s" % (o, e))

    R = {}

    def race(name, cmd, **kw):
        log("race.py: %s" % name)
        R[name] = Race(cmd, cmd, **kw).run(srv)
        return R[name]

    Q, M = "task=quadratic", "task=mnist"
    # Optimizee steps in eval mode (one run) and the meta-steps (meta-batch 1), whose
    # recording forward gives the train-mode step.
    for o in ("adam", "seed_hnn", "lstm", "phnn"):
        race("eval q " + o, "eval opt=%s %s" % (o, Q))
    for o, u in (("seed_hnn", 15), ("lstm", 20), ("phnn", 20)):
        race("meta q " + o, "meta opt=%s %s unroll=%d" % (o, Q, u), key="total", unroll=u)
    for o in ("adam", "seed_hnn_pre", "lstm_pre", "phnn"):
        race("eval m " + o, "eval opt=%s %s" % (o, M))
    race("grad m", "grad %s" % M)
    for o, u in (("seed_hnn_pre", 15), ("lstm_pre", 20), ("phnn", 20)):
        race("meta m " + o, "meta opt=%s %s unroll=%d" % (o, M, u), key="total", unroll=u,
             max_rounds=4 if o == "lstm_pre" else None)
    # The protocol's evaluations: a step of 20 runs (ham: in eval_optimizer's chunks).
    for o, task in (("seed_hnn", Q), ("lstm", Q), ("seed_hnn_pre", M), ("lstm_pre", M)):
        race("eval20 %s" % o, "eval opt=%s %s batch=20" % (o, task), max_rounds=4 if o == "lstm_pre" else None)
    # Coordinates: the optimizer step alone.
    srv["ham"].ask("drop"), srv["torch"].ask("drop")
    sizes = SIZES_QUICK if a.quick else SIZES
    for o, ns in sizes.items():
        for n in ns:
            race("kernel %s %d" % (o, n), "kernel opt=%s n=%d" % (o, n),
                 ham_inner=max(1, 200000 // n), torch_inner=max(1, 2000 // n),
                 max_rounds=3 if n >= 10**6 else None, target=0.5 if n >= 10**6 else TARGET)
    # Unroll length: meta-step time per unrolled step (1 thread).
    for key, us in UNROLLS.items():   # the unrolls of a series measured round-robin
        task, o = key.split()
        log("race.py: unroll series %s" % key)
        group = [Race(*["meta opt=%s %s unroll=%d" % (o, Q if task == "q" else M, u)] * 2, key="total", unroll=u,
                      threads=(1,)) for u in us]
        for u, r in zip(us, run_group(group, srv)):
            R["unroll %s %d" % (key, u)] = r
    srv["ham"].ask("drop"), srv["torch"].ask("drop")
    srv["ham"].close(), srv["torch"].close()

    # Peak RSS of MNIST LSTM meta-training, each side alone in a child process.
    log("race.py: peak RSS")
    rss_cmds = ["meta opt=lstm_pre task=mnist unroll=20 threads=1 reps=2", "rss"]
    h_rss, h_ans, h_err = child_rss([a.ham], rss_cmds, henv)
    t_rss, t_ans, t_err = child_rss([py, "bench/torch_ref.py", "--serve"], rss_cmds, tenv)
    elapsed, load1 = time.time() - t_start, loadavg()
    return dict(R=R, probes=probes, h_rss=h_rss, t_rss=t_rss, h_ans=h_ans, t_ans=t_ans, h_err=h_err, t_err=t_err,
                ham_info=ham_info, torch_info=torch_info, load0=load0, load1=load1, started=started,
                elapsed=elapsed, sizes=sizes,
                bench_env={k: os.environ[k] for k in BENCH_ENV if k in os.environ})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ham", help="bench/race_ham.c's binary")
    ap.add_argument("--kernels-md")
    ap.add_argument("--kernels-json")
    ap.add_argument("--lstm-md")
    ap.add_argument("--lstm-json")
    ap.add_argument("--out", default="bench/results.md")
    ap.add_argument("--quick", action="store_true", help="fewer rows and rounds (for testing)")
    ap.add_argument("--dump", default="build/bench/race.pickle", help="where the measurements are kept")
    ap.add_argument("--render", help="write the table from a --dump file instead of measuring")
    a = ap.parse_args()
    global MAX_ROUNDS
    if a.quick:
        MAX_ROUNDS = 3

    if a.render:
        with open(a.render, "rb") as f:
            st = pickle.load(f)
        for k, v in st.get("bench_env", {}).items():
            os.environ.setdefault(k, v)
    else:
        st = measure(a)
        with open(a.dump, "wb") as f:
            pickle.dump(st, f)
    R, h_rss, t_rss, h_ans, t_ans, h_err, t_err = (st[k] for k in ("R", "h_rss", "t_rss", "h_ans", "t_ans",
                                                                   "h_err", "t_err"))
    sizes, unrolls = st["sizes"], UNROLLS

    # ------------------------------------------------------------ the table
    T = Table()
    T.section("Optimizee step, quadratic (10-d, one run)")
    T.race("adam, eval mode (torch: zero_grad / backward / torch.optim.Adam.step)", R["eval q adam"])
    for o in ("seed_hnn", "lstm", "phnn"):
        T.race("%s, train mode (recorded step of an unroll)" % o, R["meta q " + o], fwd=True)
        T.race("%s, eval mode" % o, R["eval q " + o])
    T.section("Optimizee step, MNIST (784-20-10 sigmoid MLP, batch 128, one run)")
    T.race("adam, eval mode", R["eval m adam"], target=">= 2x")
    T.race("the MLP's loss and gradient alone (both sides' floor)", R["grad m"])
    for o in ("seed_hnn_pre", "lstm_pre", "phnn"):
        T.race("%s, train mode" % o, R["meta m " + o], fwd=True)
        T.race("%s, eval mode" % o, R["eval m " + o], target=">= 3x, >= 50% of FMA peak" if o == "lstm_pre" else "")
    T.section("Meta-training step (one unroll: forward + adjoint + meta-Adam; meta-batch 1)")
    T.race("quadratic seed_hnn, unroll 15", R["meta q seed_hnn"], target=">= 100x")
    T.race("quadratic lstm, unroll 20", R["meta q lstm"], target=">= 100x")
    T.race("quadratic phnn, unroll 20", R["meta q phnn"], target=">= 100x")
    T.race("MNIST seed_hnn_pre, unroll 15", R["meta m seed_hnn_pre"], target=">= 10x")
    T.race("MNIST lstm_pre, unroll 20", R["meta m lstm_pre"], target=">= 5x")
    T.race("MNIST phnn, unroll 20", R["meta m phnn"])
    T.section("Evaluation step of the protocol (a step of 20 runs; ham steps MNIST runs one at a time, "
              "the quadratic's together, as eval.c's eval_chunk_runs chooses)")
    T.race("quadratic seed_hnn", R["eval20 seed_hnn"])
    T.race("quadratic lstm", R["eval20 lstm"])
    T.race("MNIST seed_hnn_pre", R["eval20 seed_hnn_pre"])
    T.race("MNIST lstm_pre", R["eval20 lstm_pre"])

    # Projected protocol: experiments 1-3 of issue 6.
    T.section("Projected wall-clock of the reference protocol (experiments 1-3; from the per-step times above)")
    exps = [("quadratic seed_hnn", "meta q seed_hnn", "eval20 seed_hnn", 100, 15, 0),
            ("quadratic lstm", "meta q lstm", "eval20 lstm", 100, 20, 0),
            ("MNIST seed_hnn_pre (+ ReLU transfer)", "meta m seed_hnn_pre", "eval20 seed_hnn_pre", 50, 15, 1),
            ("MNIST lstm_pre (+ ReLU transfer)", "meta m lstm_pre", "eval20 lstm_pre", 50, 20, 1)]
    proj = {}
    for t in THREADS:
        for side in ("ham", "torch"):
            tot_run = tot_epoch = 0.0
            for name, mk, ek, E, U, transfer in exps:
                tm, te = R[mk].time(side, t), R[ek].time(side, t)
                train = E * 20 * math.ceil(100 / U) * tm
                final = (5 + 5 * transfer) * 100 * te            # 100 test runs (+ 100 on ReLU)
                per_run = train + E * 20 * 100 * te + final       # 20 test runs after every run
                per_epoch = train + E * 100 * te + final          # ... after every epoch
                proj[name, side, t] = (train, per_run, per_epoch)
                tot_run += per_run
                tot_epoch += per_epoch
            proj["total", side, t] = (0, tot_run, tot_epoch)
    for name, *_ in exps:
        cells = []
        for t in THREADS:
            h, q = proj[name, "ham", t][1], proj[name, "torch", t][1]
            cells += [fmt_h(h), fmt_h(q), fmt_r(q / h)]
        T.add(name + ": meta-training + 20 test runs after every run", *cells)
    for k, label, target in ((1, "whole protocol, 20 test runs after every meta-training run (issue 8)",
                              "<= 1.5 h"),
                             (2, "whole protocol, 20 test runs after every epoch", "")):
        cells = []
        for t in THREADS:
            h, q = proj["total", "ham", t][k], proj["total", "torch", t][k]
            cells += [fmt_h(h), fmt_h(q), fmt_r(q / h)]
        T.add(label, *cells, target=target)

    T.section("Time against the number of coordinates (the optimizer step alone; per coordinate)")
    for o, ns in sizes.items():
        for n in ns:
            T.race("%s, n = %s" % (o, "10^%d" % round(math.log10(n))), R["kernel %s %d" % (o, n)], per=n)
    T.section("Time against the unroll length (meta-step time per unrolled step, 1 thread)")
    for key, us in unrolls.items():
        task, o = key.split()
        for u in us:
            T.race("%s %s, unroll %d" % ("MNIST" if task == "m" else "quadratic", o, u),
                   R["unroll %s %d" % (key, u)], per=u)
    T.section("Peak memory (RSS) of MNIST LSTM meta-training (lstm_pre, unroll 20; own process each)")
    if h_err or t_err:
        T.add("peak RSS", "error: %s" % "; ".join(h_err + t_err))
    else:
        T.add("peak RSS (ru_maxrss of the process: data, JIT or torch, unroll)", "%.0f MB" % (h_rss / 1024),
              "%.0f MB" % (t_rss / 1024), fmt_r(t_rss / h_rss), target="<= torch")

    # Kernel rows.
    kj = json.load(open(a.kernels_json)) if a.kernels_json and os.path.exists(a.kernels_json) else None
    lj = json.load(open(a.lstm_json)) if a.lstm_json and os.path.exists(a.lstm_json) else None
    if kj:
        T.section("Kernels (bench/kernels.c): JIT f32 forward, 10^7 coordinates; reference = best of gcc "
                  "-O3 / -ffast-math on the same step (ns/coord); bandwidth = bytes moved against a STREAM triad")
        for r in kj["rows"]:
            if r["n"] != 10**7:
                continue
            best = min(r.get("gcc_o3", float("inf")), r.get("gcc_fast", float("inf")))
            by = (2 * r["S"] + 2) * 4
            bw1 = by / r["jit1"] / (12 / r["triad1"])
            bw2 = by / r["jit2"] / (12 / r["triad2"])
            T.add("%s: JIT vs gcc; %% of triad bandwidth" % r["spec"], "%.3g ns" % r["jit1"],
                  "%.3g ns" % best if math.isfinite(best) else "-", fmt_r(best / r["jit1"]),
                  "%.3g ns" % r["jit2"], "triad %.3g ns" % r["triad2"], "%.0f%% / %.0f%% of triad" % (100 * bw1, 100 * bw2))
    if lj:
        T.section("LSTM kernels (bench/lstm_sgemm.c, 1 thread): JIT against the same cell batched with OpenBLAS sgemm")
        peak = lj["peak_gflops_1core"]
        for r in lj["fwd"]:
            g = lj["flops_fwd"] / r["jit"]
            T.add("forward, n = %d: JIT vs sgemm in blocks of 512 (ns/coord; JIT at %.0f%% of FMA peak)"
                  % (r["n"], 100 * g / peak), "%.1f ns" % r["jit"], "%.1f ns" % r["sgemm_blocked"],
                  fmt_r(r["sgemm_blocked"] / r["jit"]))
        ad = lj["adjoint"]
        T.add("adjoint, n = %d: JIT vs sgemm forward (saving gates) + backward" % ad["n"], fmt_t(ad["jit_ms"] / 1e3),
              fmt_t(ad["sgemm_fwd_bwd_ms"] / 1e3), fmt_r(ad["sgemm_fwd_bwd_ms"] / ad["jit_ms"]))

    table = T.markdown()
    print(table)

    # ------------------------------------------------------------ targets and limits
    notes = targets_and_limits(R, proj, h_rss, t_rss, lj, h_ans, t_ans)
    mach = machine(st["ham_info"], st["torch_info"], st["load0"], st["load1"], st["started"], st["elapsed"])
    with open(a.out, "w") as f:
        f.write("# Benchmark (`make bench`): ham against PyTorch and against the hardware\n\n")
        f.write("Written by bench/race.py via tools/bench.sh.  Each row is measured in the same run, ham and the "
                "PyTorch reference (bench/torch_ref.py) in alternation, single-threaded and then both on 2 "
                "threads.  Times are lower quartiles of the samples (the machine is shared, and a neighbour's load only adds time); ratio = reference time / ham time (> 1: ham is faster), with "
                "the median absolute deviation of the per-round ratios in parentheses (how stable the ratio was).  The reference is PyTorch for every "
                "row above the kernel sections, and gcc, a STREAM triad or sgemm in the kernel sections.\n\n")
        f.write(mach + "\n\n")
        f.write(table + "\n\n")
        f.write(HOW)
        pr = st.get("probes", {})
        if pr:
            f.write("Same computation on both sides: torch_ref's modules, loaded with ham's initial params, "
                    "reproduce the updates of ham's f32 kernels over 3 steps on 16 fixed coordinates "
                    "(race_ham's probe) to a largest difference, relative to the updates' RMS, of %s.\n\n" %
                    ", ".join("%.1e (%s)" % (v, k) for k, v in pr.items()))
        f.write(notes)
        for extra in (a.kernels_md, a.lstm_md):
            if extra and os.path.exists(extra):
                f.write("\n" + open(extra).read())
    log("race.py: wrote %s" % a.out)
    return 0


HOW = """## How the rows are measured

- **ham**: bench/race_ham.c makes the calls `hamc train` and `hamc run` make (runtime/batch.c,
  meta_train.c, eval.c), f32 kernels JIT-compiled from stdlib/*.ham with default hypers; a thread
  pool of 1 or 2 threads; OpenBLAS single-threaded (ham parallelizes over runs and coordinate
  blocks, and a lone run's MNIST gradient over the two halves of its minibatch, never inside an
  sgemm).  Train mode = `unroll_forward` (gradient, record,
  kernel) per step; eval mode = `batch_eval_grad` + `batch_step`; meta-step = `unroll_forward` +
  finiteness checks + `unroll_backward` (adjoint kernels) + meta-Adam + `batch_set_params`.
- **PyTorch**: bench/torch_ref.py, batched over coordinates and over the runs (bmm), one backward
  per unroll, the optimizee's gradients detached (data), the meta-loss fed as
  sum_j <g_j, theta_j> / B, which has the same gradient as sum_j f(theta_j) / B when the gradients
  are data and saves torch a second MLP backward per step (`--meta-loss graph` is the textbook form,
  several times slower on MNIST).  Adam's optimizee step is the standard zero_grad / backward /
  torch.optim.Adam step loop.  One network uses F.linear (addmm), 20 use baddbmm.  Threads:
  torch.set_num_threads and openblas_set_num_threads (Debian's torch reaches OpenBLAS through
  libblas.so.3, whose threads torch does not govern), OMP_WAIT_POLICY=PASSIVE (spinning OpenMP
  workers fought OpenBLAS's threads and the neighbours for the 2 cores: 10-50x slower 2-thread
  MNIST steps with the default policy on this shared machine).
- **Projection** (issue 6, experiments 1-3): per learned optimizer, E epochs x 20 runs x
  ceil(100 / U) meta-steps at the measured meta-step time, plus 20 test runs x 100 steps after
  every meta-training run (issue 8's schedule; also shown: after every epoch) at the measured
  20-run evaluation step, plus 100 final test runs (and 100 on the ReLU network for the MNIST
  optimizers, at the sigmoid network's step time).  Quadratic: seed_hnn (U 15) and lstm (U 20),
  100 epochs; MNIST: seed_hnn_pre (U 15) and lstm_pre (U 20), 50 epochs.  JIT compile times,
  data loading and checkpoints are left out on both sides (ham: ~12 s of compiles for the LSTMs).
- **Peak RSS**: each side in a process of its own doing 2 MNIST lstm_pre meta-steps (unroll
  20), ru_maxrss by wait4; torch holds MNIST's 60000 training images as float (188 MB), ham
  as the file's bytes (47 MB), converted to float a minibatch row at a time.

"""


def targets_and_limits(R, proj, h_rss, t_rss, lj, h_ans, t_ans):
    """The targets of issue 8, met or not, and what limits each row, from this run's numbers."""
    out = ["## Targets of issue 8 (this run)\n"]

    def both(r, key=None):
        return [r.ratio(t) for t in THREADS]

    def verdict(rs, target):
        ok = [x >= target for x in rs]
        return "met" if all(ok) else "met on 1 thread only" if ok[0] else "met on 2 threads only" if ok[1] else "NOT met"

    def line(name, rs, target):
        out.append("- %s >= %gx: %s / %s (1T / 2T): **%s**" % (name, target, fmt_r(rs[0]), fmt_r(rs[1]),
                                                               verdict(rs, target)))

    q = [min(R["meta q %s" % o].ratio(t) for o in ("seed_hnn", "lstm", "phnn")) for t in THREADS]
    line("quadratic meta-training step (worst of seed_hnn, lstm, phnn)", q, 100)
    line("MNIST seed_hnn meta-training step", both(R["meta m seed_hnn_pre"]), 10)
    line("MNIST LSTM meta-training step", both(R["meta m lstm_pre"]), 5)
    line("MNIST Adam optimizee step", both(R["eval m adam"]), 2)
    line("MNIST LSTM evaluation step", both(R["eval m lstm_pre"]), 3)
    flops = 0
    if lj:
        # lstm_pre's first layer reads 2 inputs (logsign): one more multiply-add per gate row.
        flops = (lj["flops_fwd"] + 2 * 80) * 15910
        peak1 = lj["peak_gflops_1core"] * 1e9
        fr = [flops / R["eval m lstm_pre"].time("ham", t) / (peak1 * t) for t in THREADS]
        out.append("- MNIST LSTM evaluation step at >= 50%% of the fp32 FMA peak: %.0f%% / %.0f%% of the 1- / "
                   "2-core peak (%.0f GFLOP/s a core; %.2g flops a step: the LSTM's %.0f a coordinate x 15910, "
                   "the MLP's gradient not counted): **%s**" % (
                       100 * fr[0], 100 * fr[1], peak1 / 1e9, flops, flops / 15910,
                       "met" if min(fr) >= 0.5 else "NOT met"))
    tp = [proj["total", "ham", t][1] for t in THREADS]
    tq = [proj["total", "torch", t][1] for t in THREADS]
    out.append("- whole reference protocol in <= 1.5 h: ham %s / %s (1T / 2T), PyTorch reference %s / %s: **%s** "
               "(issue 6's ~19 h was the reference project's own code, not this batched reference)" % (
                   fmt_h(tp[0]), fmt_h(tp[1]), fmt_h(tq[0]), fmt_h(tq[1]),
                   "met" if max(tp) <= 5400 else "met on 2 threads only" if tp[1] <= 5400 else "NOT met"))
    out.append("- peak memory no higher than PyTorch's: ham %.0f MB, PyTorch %.0f MB: **%s**\n" % (
        h_rss / 1024, t_rss / 1024, "met" if h_rss <= t_rss else "NOT met"))

    out.append("## What limits each row (this run's numbers)\n")
    g = R["grad m"]
    gh, gt = g.time("ham", 1), g.time("torch", 1)
    e = {o: R["eval m " + o] for o in ("adam", "seed_hnn_pre", "lstm_pre", "phnn")}
    k10 = R.get("kernel seed_hnn 10")
    eq = R["eval q seed_hnn"]
    ql = R["meta q lstm"]
    out.append(
        "- **Quadratic rows: PyTorch's per-operation overhead against ham's arithmetic.**  torch's seed_hnn "
        "step alone takes %s on 10 coordinates and %s on 1000 (about 30 tensor operations, each through the "
        "interpreter and the dispatcher: a fixed cost per operation, not per coordinate); autograd adds its "
        "bookkeeping in train mode and the backward.  ham's seed_hnn kernel on 10 coordinates takes %s of its %s eval step; "
        "the rest is the task's gradient (two 10 x 10 products in double) and the runtime's per-step work.  "
        "The LSTM is the exception: ham's quadratic LSTM meta-step (%s) is its kernels' arithmetic, ~40k "
        "flops per coordinate and step on 10 coordinates (staged: the gate products are GEMMs of 10 rows, "
        "which OpenBLAS runs far below its peak, and every call packs the 4880 gate weights), which torch's "
        "fixed ~%s per step of overhead only beats by %s." % (
            fmt_t(k10.time("torch", 1)) if k10 else "-",
            fmt_t(R["kernel seed_hnn 1000"].time("torch", 1)) if "kernel seed_hnn 1000" in R else "-",
            fmt_t(k10.time("ham", 1)) if k10 else "-", fmt_t(eq.time("ham", 1)), fmt_t(ql.time("ham", 1)), fmt_t(ql.time("torch", 1) / 20),
            fmt_r(ql.ratio(1))))
    out.append(
        "- **MNIST Adam, seed_hnn_pre, phnn: the optimizee's gradient.**  The MLP's loss and gradient "
        "(a 128-row minibatch gathered: ham from the 47 MB of pixel bytes, converted to float as it goes, torch "
        "from 188 MB of floats; two products forward, two backward: torch's by OpenBLAS's sgemm, "
        "ham's by its own AVX-512 kernels, runtime/skinny_gemm.c, where sgemm packed both operands on "
        "every call) take %s in ham and %s in torch, against eval steps of %s / %s (Adam), %s / %s (seed_hnn_pre) "
        "and %s / %s (phnn): ham's step is %.0f-%.0f%% gradient, so its ratio against torch is the "
        "gradient's ratio plus torch's per-operation overhead on the optimizer (about 30-60 operations "
        "on 16k floats).  With sgemm on both sides (before session 19) ham's gradient was 2.5x torch's; "
        "torch spends that difference in autograd and operator dispatch." % (
            fmt_t(gh), fmt_t(gt), fmt_t(e["adam"].time("ham", 1)), fmt_t(e["adam"].time("torch", 1)),
            fmt_t(e["seed_hnn_pre"].time("ham", 1)), fmt_t(e["seed_hnn_pre"].time("torch", 1)),
            fmt_t(e["phnn"].time("ham", 1)), fmt_t(e["phnn"].time("torch", 1)),
            100 * gh / max(e[o].time("ham", 1) for o in ("adam", "seed_hnn_pre", "phnn")),
            100 * gh / min(e[o].time("ham", 1) for o in ("adam", "seed_hnn_pre", "phnn"))))
    ms = R["meta m seed_hnn_pre"]
    out.append(
        "- **MNIST seed_hnn_pre meta-step**: ham %s, of which the recording forward (15 gradients + kernels "
        "+ copies) %s and the adjoint sweep + meta update %s; torch %s (forward %s).  ham's 15 MLP "
        "gradients alone take %s (15 x %s) on one thread: even with free kernels, adjoint and copies, ham "
        "could not be more than %.1fx faster than this torch meta-step there, so on one thread the 10x "
        "target needs the kernels, adjoint and copies in under %s; on two, ham computes "
        "the gradient's two halves at once (%s a gradient) and the row is %.1fx.  perf (session 20, "
        "one thread): ham's meta-step 40%% JIT kernels (seed_hnn_pre's logsign on both inputs: adjoint 27%%, "
        "forward 13%%), 29%% the MLP's layer products (runtime/skinny_gemm.c, about two thirds of the FMA peak), 11%% the "
        "minibatch gather (pixels to float, and stalls issuing the next minibatch's prefetches), 10%% the "
        "MLP's own loops (softmax, sigmoid, bias; exp and expf vectorized, runtime/exp_vector.c), 4%% the "
        "runtime's loops over the unroll; torch's is "
        "mostly its dozens of elementwise operations a step on 16k floats (mul, add, where, select) with "
        "their autograd nodes, mm/addmm ~11%%." % (
            fmt_t(ms.time("ham", 1)), fmt_t(ms.time("ham", 1, True) * 15),
            fmt_t(ms.time("ham", 1) - ms.time("ham", 1, True) * 15), fmt_t(ms.time("torch", 1)),
            fmt_t(ms.time("torch", 1, True) * 15), fmt_t(15 * gh), fmt_t(gh), ms.time("torch", 1) / (15 * gh),
            fmt_t(max(ms.time("torch", 1) / 10 - 15 * gh, 0)), fmt_t(R["grad m"].time("ham", 2)), ms.ratio(2)))
    ml = R["meta m lstm_pre"]
    if lj:
        fw = lj["fwd"][0]
        ad = lj["adjoint"]
        out.append(
            "- **MNIST LSTM (lstm_pre): the elementwise stages.**  Eval step ham %s vs torch %s; meta-step ham %s "
            "(forward %s, adjoint sweep + update %s) vs torch %s.  ham stages the LSTM (compiler/stage.c): "
            "its gate products are sgemm calls over sub-blocks of 256 coordinates, between JIT kernels for "
            "the gates.  Its forward runs %.1f ns/coord against %.1f for the same cell written by hand "
            "around sgemm (bench/lstm_sgemm.c), at %.0f%% of one core's FMA peak, and its adjoint (which "
            "recomputes the forward's stages) takes %s at 15910 coordinates against %s for the hand-written "
            "sgemm forward (saving gates) + backward; the meta-step is %.0f%% adjoint.  torch runs the cell "
            "as sgemm too (nn.LSTMCell: addmm, gates elementwise), so both sides do the same matrix "
            "arithmetic through the same OpenBLAS; ham's lead (%s meta, %s eval on 1 thread) is the "
            "elementwise gate code, one pass of %d-lane code per layer where torch runs an operation at a "
            "time over the whole tensor: sigmoid by an exp whose argument is known to be <= 0 and tanh as "
            "a rational function (compiler/llvm_math.c; with the GEMMs' outputs zeroed by memset they made "
            "the forward kernel 1.47x faster in session 15), NaN and -0 preserved.  The adjoint recomputes the "
            "forward's stages where torch keeps the gates: keeping them instead (a tape of the 222 aux columns "
            "a coordinate, 300 MB for 20 steps; tried in session 16 on a Zen 5) made the meta-step slower, 227 "
            "against 210 ms, the tape's writes and reads costing more than recomputing in cache.  The forward "
            "stage kernels are emitted output by output (compiler/schedule.c, session 17): 10 values live at "
            "once where the derivation's order held 181, which LLVM spilled; the 20-run evaluation step went "
            "from 50.7 to 42.4 ms.  The stage adjoints keep the derivation's order, which interleaves the "
            "units' long dependent chains (recomputation, then derivative): scheduled they ran 5-20%% slower.  "
            "A tape of the gates within the sub-block, written by the recomputation for the stage adjoints "
            "(session 17), took a third off stage 1's adjoint and added a quarter to its recomputation (the two "
            "~10%% less together; taping stage 2's gates only moved their work into a recomputation stage 2 had "
            "not needed): the stage kernels' total moved ~5%%, inside this machine's noise; not kept.  What "
            "bounds the forward stage kernels (session 21, on the Zen 5): a layer's 16-lane loop is ~2770 "
            "instructions per 16 coordinates, 860 FMAs, 240 multiplies and 60 vscalefps on the two FMA pipes "
            "(~590 cycles at the 2 a cycle measured here), 280 adds, 220 min/max and 180 compares, ors and "
            "rndscales on the two others (measured to issue beside the FMAs; ~340 cycles), 100 divisions "
            "(2.4 cycles each on the divider, beside both); it takes ~1400 cycles, an IPC of 2, 2.3x its "
            "port bound.  With all data in cache (256 coordinates) the forward is only ~13%% faster per "
            "coordinate; dropping the divisions (timing only) moved nothing measurable; nor did emitting 2 "
            "to 16 outputs' chains interleaved, LLVM's ilpmax or no machine scheduler, a list scheduler "
            "interleaving the IR's independent chains instruction by instruction with LLVM's DAG scheduler "
            "kept to that order (2.3x the spills), or prefetching the next sub-block's state; dropping sigmoid and tanh altogether took 25%% off the forward.  "
            "Without a PMU (perf stat has no cycle counter in this VM) the rest of the gap, front end or "
            "latency a 448-entry window cannot hide in a 2770-instruction body, was not pinned down.  The "
            "staged kernels take %.2fx (forward) and %.2fx (adjoint) the hand-written cell's time." % (
                fmt_t(e["lstm_pre"].time("ham", 1)), fmt_t(e["lstm_pre"].time("torch", 1)),
                fmt_t(ml.time("ham", 1)), fmt_t(ml.time("ham", 1, True) * 20),
                fmt_t(ml.time("ham", 1) - ml.time("ham", 1, True) * 20), fmt_t(ml.time("torch", 1)),
                fw["jit"], fw["sgemm_blocked"], 100 * lj["flops_fwd"] / fw["jit"] / lj["peak_gflops_1core"],
                fmt_t(ad["jit_ms"] / 1e3), fmt_t(ad["sgemm_fwd_bwd_ms"] / 1e3),
                100 * (ml.time("ham", 1) - ml.time("ham", 1, True) * 20) / ml.time("ham", 1),
                fmt_r(ml.ratio(1)), fmt_r(e["lstm_pre"].ratio(1)), jit_lanes(), fw["jit"] / fw["sgemm_blocked"],
                ad["jit_ms"] / ad["sgemm_fwd_bwd_ms"]))
    two = [(k, R[k].time("ham", 1) / R[k].time("ham", 2)) for k in ("eval m lstm_pre", "meta m lstm_pre",
                                                                     "eval20 lstm_pre", "eval m seed_hnn_pre",
                                                                     "meta m seed_hnn_pre", "eval m adam")]
    out.append(
        "- **2 threads.**  ham's speed-up from the second thread: %s.  With one run (meta-batch 1) the "
        "kernels are split over coordinate blocks and the MLP gradient over the two halves of the "
        "minibatch (runtime/task_mnist.c; OpenBLAS single-threaded in each), which the same halves "
        "computed in turn on one thread reproduce bit for bit; torch's 20-run evaluations split by run.  The "
        "machine was shared during the run (see the load average), which hits the 2-thread columns "
        "first." % (
            ", ".join("%s %.2fx" % (k, s) for k, s in two)))
    if "kernel seed_hnn 10000000" in R:
        k7 = R["kernel seed_hnn 10000000"]
        out.append(
            "- **Coordinates**: ham's kernel cost per coordinate falls from %s at n = 10 (call overhead) to %s "
            "at 10^7 (memory bandwidth: 16 bytes a coordinate, see the kernel section); torch's from %s "
            "(per-operation overhead) to %s at 10^7, where each of its ~30 operations streams the whole "
            "vector through memory (ham's kernel makes one pass), so the ratio settles near the ratio of memory "
            "passes (%s at 10^7)." % (
                fmt_t(R["kernel seed_hnn 10"].time("ham", 1) / 10), fmt_t(k7.time("ham", 1) / 1e7),
                fmt_t(R["kernel seed_hnn 10"].time("torch", 1) / 10), fmt_t(k7.time("torch", 1) / 1e7),
                fmt_r(k7.ratio(1))))
    def growth(key, us, side):
        a, b = R["unroll %s %d" % (key, us[0])], R["unroll %s %d" % (key, us[-1])]
        return (b.time(side, 1) / us[-1]) / (a.time(side, 1) / us[0])

    parts = []
    for key, us in UNROLLS.items():
        task, o = key.split()
        parts.append("%s %s, unroll %s: ham %s, torch %s per unrolled step (x%.2f and x%.2f from unroll %d to %d)" % (
            "MNIST" if task == "m" else "quadratic", o, " / ".join(map(str, us)),
            " / ".join(fmt_t(R["unroll %s %d" % (key, x)].time("ham", 1) / x) for x in us),
            " / ".join(fmt_t(R["unroll %s %d" % (key, x)].time("torch", 1) / x) for x in us),
            growth(key, us, "ham"), growth(key, us, "torch"), us[0], us[-1]))
    def verdict(g):
        return "flat (x%.2f)" % g if 0.9 <= g <= 1.1 else "x%.2f" % g

    flat = "; ".join("%s %s: ham %s, torch %s" % ("MNIST" if k.split()[0] == "m" else "quadratic", k.split()[1],
                                                 verdict(growth(k, us, "ham")), verdict(growth(k, us, "torch")))
                     for k, us in UNROLLS.items())
    out.append(
        "- **Unroll length**: %s.  Per unrolled step from the shortest to the longest unroll: %s.  Both "
        "sides do work linear in the unroll: ham records each step (state, gradient, theta: (S + 2) floats "
        "a coordinate) and sweeps back once with the adjoint kernels; the reference builds one graph and "
        "calls one backward per unroll (one that backpropagated after every step through the whole unroll "
        "would be quadratic; this one is not).  The unrolls of a series are measured round-robin, so they "
        "share the neighbours' load." % ("; ".join(parts), flat))
    km = "m seed_hnn_pre"
    if km in UNROLLS:
        us = UNROLLS[km]
        g = growth(km, us, "ham")
        if g > 1.1:
            rs = [R["unroll %s %d" % (km, x)] for x in us]
            out.append(
                "  ham's MNIST meta-step is not flat: what grows is the recording forward (%s per step at "
                "unroll %s), i.e. the optimizee's gradient and the copies, not the adjoint sweep.  The "
                "recorded unroll takes (S + 2) x 4 bytes x 15910 coordinates = 190 KB a step (1 MB at "
                "unroll 5, 15 MB at 80) against a 1 MB L2 and a 32 MB L3 shared with the neighbours; the "
                "likely cause is that footprint evicting the MLP's working set, but this VM exposes no "
                "cache counters to confirm it." % (" / ".join(fmt_t(r.time("ham", 1, True)) for r in rs),
                                                   " / ".join(map(str, us))))
    hr = [x for x in h_ans if "rss_kb" in x]
    tr = [x for x in t_ans if "rss_kb" in x]
    out.append(
        "- **Memory**: ham's peak %.0f MB (RSS at the end %s MB: MNIST as bytes, the JIT's code, the "
        "unroll's 21 x 83 floats a coordinate); torch's %.0f MB (at the end %s MB: MNIST, torch's "
        "libraries, the autograd graph of a 20-step unroll)." % (
            h_rss / 1024, "%.0f" % (hr[-1]["rss_kb"] / 1024) if hr else "?", t_rss / 1024,
            "%.0f" % (tr[-1]["rss_kb"] / 1024) if tr else "?"))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
