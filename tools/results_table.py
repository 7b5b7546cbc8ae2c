#!/usr/bin/python3
"""results_table.py: results/summary.json as the markdown tables of results/README.md.

One table for the reference's three columns (quadratic, MNIST sigmoid, ReLU transfer)
with the reference project's numbers beside ours, one for the generalization runs, and
the paired differences to phnn (same tasks, so most of the task-to-task spread
cancels).  Each cell: mean loss at the last step [95% interval]; '-' where not run.
usage: tools/results_table.py [results/summary.json] > results/README.md
"""
import json
import sys

# The reference project's loss at step 100, mean of 100 runs (issue 6).
REFERENCE = {
    "quadratic": {"lstm": 0.25, "seed_hnn": 0.23, "adam": 0.41, "rmsprop": 0.76, "momentum": 0.33, "nag": 0.45},
    "mnist_sigmoid": {"lstm": 0.29, "seed_hnn": 0.38, "adam": 0.35, "rmsprop": 0.38, "momentum": 0.36, "nag": 0.33},
    "mnist_relu": {"lstm": 2.31, "seed_hnn": 0.36, "adam": 0.34, "rmsprop": 0.38, "momentum": 0.45, "nag": 0.61},
}
ROWS = [("lstm", "LSTM (Andrychowicz et al.)"), ("seed_hnn", "seed_hnn (the reference's HNN)"),
        ("phnn", "phnn (ours)"), ("phnn_gate", "phnn_gate (ours, gated, from phnn)"),
        ("phnn_rms", "phnn_rms (ours, RMS-scaled port)"),
        ("phnn_rms_exact", "phnn_rms, exact meta-gradient (ours)"),
        ("phnn_rms_gate", "phnn_rms_gate (ours, gated, from phnn_rms_exact)"),
        ("adam", "Adam"), ("rmsprop", "RMSprop"), ("momentum", "SGD momentum"), ("nag", "NAG"),
        ("adam_tuned", "Adam, tuned lr"), ("rmsprop_tuned", "RMSprop, tuned lr"),
        ("momentum_tuned", "momentum, tuned lr"), ("nag_tuned", "NAG, tuned lr")]


def cell(summary, exp, key, with_ref=True):
    r = summary.get(exp, {}).get(key)
    ref = REFERENCE.get(exp, {}).get(key) if with_ref else None
    refs = f" ({ref:.2f})" if ref is not None else ""
    if not r or r.get("final_mean") is None:
        return "-" + refs
    lo, hi = r["final_ci95"]
    runs = "" if r["runs"] in (1000, 10000) else f", {r['runs']} runs"
    return f"{r['final_mean']:.3f} [{lo:.3f}, {hi:.3f}]{runs}{refs}"


def paired(summary, exp, key):
    p = summary.get(exp, {}).get(key, {}).get("minus_phnn")
    if not p:
        return "-"
    return f"{p['mean']:+.3f} [{p['ci95'][0]:+.3f}, {p['ci95'][1]:+.3f}]"


def params(summary, key, exps):
    seen = []
    for e in exps:
        p = summary.get(e, {}).get(key, {}).get("params")
        if p is not None and p not in seen:
            seen.append(p)
    return " / ".join(str(p) for p in seen) if seen else "-"


def main():
    summary = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "results/summary.json"))
    cols = [("quadratic", "quadratic (10000 tasks)"), ("mnist_sigmoid", "MNIST sigmoid"),
            ("mnist_relu", "MNIST ReLU (transfer)")]
    print("Loss at step 100: mean over fresh tasks [95% interval]; the reference project's")
    print("number (mean of 100 runs) in parentheses.  MNIST: the training loss of the minibatch at\n"
          "the last step; seed_hnn and lstm there are their preprocessed variants.\n")
    print("| optimizer | params | " + " | ".join(c[1] for c in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for key, name in ROWS:
        if not any(key in summary.get(c[0], {}) for c in cols):
            continue
        p = params(summary, key, [c[0] for c in cols])
        print(f"| {name} | {p} | " + " | ".join(cell(summary, c[0], key) for c in cols) + " |")
    gen = [("mnist_steps200", "200 steps"), ("mnist_hidden40", "40 hidden units"), ("mnist_layers2", "2 hidden layers")]
    if any(g[0] in summary for g in gen):
        print("\nGeneralization: the optimizers meta-trained on the 100-step sigmoid 784-20-10 network,")
        print("run unchanged on variants of it (loss at the last step).\n")
        print("| optimizer | " + " | ".join(g[1] for g in gen) + " |")
        print("|---|" + "---|" * len(gen))
        for key, name in ROWS:
            if not any(key in summary.get(g[0], {}) for g in gen):
                continue
            print(f"| {name} | " + " | ".join(cell(summary, g[0], key, False) for g in gen) + " |")
    exps = [e for e in [c[0] for c in cols] + [g[0] for g in gen] if e in summary]
    print("\nPaired: (this optimizer - phnn) on the same tasks, mean [95% interval]; positive means")
    print("phnn's loss is lower.\n")
    print("| optimizer | " + " | ".join(exps) + " |")
    print("|---|" + "---|" * len(exps))
    for key, name in ROWS:
        if key == "phnn" or not any(key in summary.get(e, {}) for e in exps):
            continue
        print(f"| {name} | " + " | ".join(paired(summary, e, key) for e in exps) + " |")


if __name__ == "__main__":
    main()
