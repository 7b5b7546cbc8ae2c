#!/usr/bin/env bash
# demo.sh: `make demo`, the main job in under two minutes on 2 cores.
#
# Meta-trains our port-Hamiltonian optimizer (stdlib/phnn.ham) on the 10-d quadratic
# of Andrychowicz et al. (2016), then runs it and the hand-designed baselines, at the
# reference project's learning rates, on 1000 fresh quadratics each; prints the table
# beside the reference's numbers and writes results/demo/ (curves and finals as CSV,
# summary.json, quadratic.png).
set -euo pipefail
cd "$(dirname "$0")/.."
hamc=bin/hamc out=results/demo
mkdir -p "$out"
export HAM_STDLIB=$PWD/stdlib
runs=${DEMO_RUNS:-1000} epochs=${DEMO_EPOCHS:-1000}

# phnn's protocol (tools/experiments.sh): 1000 epochs of 20 runs, unroll 50, the best
# params chosen on 200 held-out tasks; about 20 s on one core.
echo "== meta-training phnn on the 10-d quadratic: $epochs epochs x 20 runs, unroll 50, meta-lr 0.01"
"$hamc" train stdlib/phnn.ham --task quadratic --epochs "$epochs" --unroll 50 --meta-lr 0.01 \
    --eval-runs 200 --seed 1 --out "$out/phnn.ckpt" --log "$out/phnn.train.csv"

evaluate() {   # evaluate NAME SPEC [options]: 1000 fresh quadratics, 100 steps
    local name=$1 spec=$2
    shift 2
    "$hamc" run "$spec" --task quadratic --runs "$runs" --steps 100 --seed 2026 "$@" \
        --csv "$out/$name.csv" --finals "$out/${name}_finals.csv" --json | tail -n 1 > "$out/$name.json"
}
echo "== evaluating on $runs fresh quadratics each"
evaluate phnn stdlib/phnn.ham --params "$out/phnn.ckpt"
evaluate adam stdlib/adam.ham --set lr=0.1
evaluate rmsprop stdlib/rmsprop.ham --set lr=0.03
evaluate momentum stdlib/momentum.ham --set lr=0.01
evaluate nag stdlib/nag.ham --set lr=0.01

/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
reference = {"phnn": None, "adam": 0.41, "rmsprop": 0.76, "momentum": 0.33, "nag": 0.45}
rows, summary = [], {}
for name in reference:
    r = json.load(open(f"{out}/{name}.json"))
    summary[name] = {k: r[k] for k in ("final_mean", "final_ci95", "final_median", "mean_over_steps", "runs")}
    lo, hi = r["final_ci95"]
    ref = reference[name]
    rows.append(f"| {name:9} | {r['final_mean']:.3f} [{lo:.3f}, {hi:.3f}] | {r['final_median']:.3f} "
                f"| {r['mean_over_steps']:.3f} | {('%.2f' % ref) if ref else '-':>9} |")
json.dump({"quadratic": summary}, open(f"{out}/summary.json", "w"), indent=2)
print("\nloss at step 100 on the 10-d quadratic (mean of %d runs, 95%% interval; the reference: mean of 100)" % summary["adam"]["runs"])
print("| optimizer | final loss [95% interval]  | median | mean over steps | reference |")
print("|-----------|----------------------------|--------|-----------------|-----------|")
print("\n".join(rows))
print("reference: the EPFL project's HNN 0.23 and LSTM 0.25 (see README)")
PY
tools/plot_curves.sh "$out/quadratic.png" "10-d quadratic: mean loss over $runs runs" \
    phnn="$out/phnn.csv" adam="$out/adam.csv" rmsprop="$out/rmsprop.csv" \
    momentum="$out/momentum.csv" nag="$out/nag.csv"
echo "wrote $out/summary.json, $out/*.csv and $out/quadratic.png"
