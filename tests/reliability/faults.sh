#!/usr/bin/env bash
# faults.sh: numerical faults injected into the task's gradients (the task options
# inject=nan|inf|huge inject_step=K inject_coord=C inject_count=N, runtime/task.c).
#
# `hamc run` must say which runs got a non-finite gradient, where (run, step, task,
# coordinates), keep those runs out of the statistics (JSON null, never NaN) and exit 0;
# `hamc train` must name the task, step and coordinate count, skip the meta-step, go on,
# and write checkpoints whose params are all finite, checked by ckpt.py, which reads
# the file without ham's own reader.  A huge finite value (1e30) is data: it must not
# crash anything or put a NaN anywhere, and when it overflows an optimizer's state (Adam's
# second moment) with the loss still finite, run warns and train skips the unroll.  An injection past the last step must change
# nothing, bit for bit.
#
# Last line: `N passed, N failed`; exit status 1 if any failed.  Environment: HAMC
# (default ../../bin/hamc beside this script).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${HAMC:=$root/bin/hamc}"
export HAM_STDLIB=${HAM_STDLIB:-$root/stdlib} LC_ALL=C
# shellcheck source=fixtures.bash
. "$here/fixtures.bash"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-faults.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
ckpt_finite() { python3 "$here/ckpt.py" check "$1" >"$tmp/ck" 2>&1 && ok || bad "$2: $(cat "$tmp/ck")"; }
json_clean() {   # json_clean JSON WHAT: parses, and holds no NaN or Infinity
    python3 -c 'import json,sys; json.loads(sys.argv[1], parse_constant=lambda c: 1/0)' "$1" 2>/dev/null \
        && ok || bad "$2: JSON does not parse or holds NaN/Infinity: ${1:0:200}"
}
spec=$root/examples/phnn_small.ham
mktiny "$tmp/tiny"

# ---- hamc run ----
for kind in nan inf; do
    task="quadratic inject=$kind inject_step=30 inject_coord=3 inject_count=2"
    json=$("$HAMC" run "$spec" --task "$task" --runs 10 --json 2>"$tmp/err" | tail -n 1)
    [ "${PIPESTATUS[0]}" -eq 0 ] && ok || bad "run inject=$kind: exit status ${PIPESTATUS[0]}"
    grep -q "hamc run: warning: non-finite gradient from the task in 10 of 10 runs (first: run 0, step 30 of 100, task $task, 2 of 10 coordinates)" "$tmp/err" \
        && ok || bad "run inject=$kind: no report of where: $(cat "$tmp/err")"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && ok || bad "run inject=$kind: the report is not one line"
    echo "$json" | grep -q '"diverged": 10' && ok || bad "run inject=$kind: diverged runs not counted: ${json:0:200}"
    json_clean "$json" "run inject=$kind"
done
# Step 0 (the gradient at theta_0), every coordinate (the count is clipped to the dim).
"$HAMC" run "$spec" --task "quadratic inject=nan inject_count=1000" --runs 3 >/dev/null 2>"$tmp/err"
grep -q "in 3 of 3 runs (first: run 0, step 0 of 100, .*, 10 of 10 coordinates)" "$tmp/err" && ok || bad "step 0, all coordinates: $(cat "$tmp/err")"
# A fault past the last step is never injected: the run is the same, bit for bit.
a=$("$HAMC" run "$spec" --task "quadratic inject=nan inject_step=101" --runs 20 --json 2>"$tmp/err" | tail -n 1)
b=$("$HAMC" run "$spec" --task quadratic --runs 20 --json 2>/dev/null | tail -n 1)
[ "${a#*\"runs\"}" = "${b#*\"runs\"}" ] && [ -n "$b" ] && ! [ -s "$tmp/err" ] && ok || bad "an injection past the end changed the run"
# Huge values are finite data: no crash, no NaN in the report, exit 0.
for opt in sgd adam "$spec"; do
    [ -f "$opt" ] || opt=$root/stdlib/$opt.ham
    json=$("$HAMC" run "$opt" --task "quadratic inject=huge inject_step=5 inject_count=3" --runs 10 --json 2>"$tmp/err" | tail -n 1)
    [ "${PIPESTATUS[0]}" -eq 0 ] && ok || bad "run inject=huge ($(basename "$opt")): $(cat "$tmp/err")"
    json_clean "$json" "run inject=huge ($(basename "$opt"))"
done
# Adam's second moment overflows to Inf on a 1e30 gradient and freezes the run with a
# finite loss: said, not hidden.
"$HAMC" run "$root/stdlib/adam.ham" --task "quadratic inject=huge inject_step=5" --set lr=0.1 --runs 10 >/dev/null 2>"$tmp/err"
grep -q "warning: 10 of 10 runs ended with a finite loss but NaN/Inf in the optimizer's state (first: run 0" "$tmp/err" \
    && ok || bad "adam frozen by a huge gradient: $(cat "$tmp/err")"
"$HAMC" run "$root/stdlib/adam.ham" --task quadratic --set lr=0.1 --runs 10 >/dev/null 2>"$tmp/err"
[ -s "$tmp/err" ] && bad "adam without faults warns: $(cat "$tmp/err")" || ok
# MNIST: the coordinate count is the network's.
"$HAMC" run "$spec" --task "mnist data=$tmp/tiny batch=2 inject=inf inject_step=2 inject_coord=15000" --runs 2 --steps 4 >/dev/null 2>"$tmp/err"
grep -q "in 2 of 2 runs (first: run 0, step 2 of 4, task mnist .*, 1 of 15910 coordinates)" "$tmp/err" && ok || bad "mnist run: $(cat "$tmp/err")"

# ---- hamc train ----
train() { "$HAMC" train "$spec" --runs-per-epoch 3 --eval-runs 3 --seed 5 "$@"; }
for kind in nan inf; do
    train --task "quadratic inject=$kind inject_step=50" --epochs 2 --out "$tmp/$kind.ckpt" >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 0 ] && ok || bad "train inject=$kind: exit status $?: $(tail -n 3 "$tmp/err")"
    grep -q "epoch 1, meta-step 2: non-finite gradient from the task (step 50 of 100, task quadratic inject=$kind inject_step=50, 1 of 10 coordinates); meta-step skipped, run abandoned" "$tmp/err" \
        && ok || bad "train inject=$kind: no report of where: $(head -n 2 "$tmp/err")"
    # 2 epochs x 3 runs: unrolls 0-20 and 20-40 step, the one holding step 50 is skipped.
    grep -q "2 epochs, 12 meta-steps" "$tmp/out" && grep -q "^6 meta-steps skipped" "$tmp/out" && ok || bad "train inject=$kind: counts: $(cat "$tmp/out")"
    grep -q "evaluation: non-finite gradient from the task in 3 of 3 runs" "$tmp/err" && ok || bad "train inject=$kind: evaluation fault not reported"
    ckpt_finite "$tmp/$kind.ckpt" "train inject=$kind"
    "$HAMC" run "$spec" --task quadratic --runs 3 --params "$tmp/$kind.ckpt" >/dev/null 2>&1 && ok || bad "train inject=$kind: checkpoint does not load"
done
# The params did move: the checkpoint is not the initial one (the first unrolls trained).
train --task quadratic --epochs 0 --out "$tmp/zero.ckpt" >/dev/null 2>&1
ckpt_finite "$tmp/zero.ckpt" "train --epochs 0 (the initial params)"
[ "$(python3 "$here/ckpt.py" params "$tmp/zero.ckpt" | sed -n 2p)" != "$(python3 "$here/ckpt.py" params "$tmp/nan.ckpt" | sed -n 2p)" ] \
    && ok || bad "train inject=nan: no meta-step was taken"
# A fault in every unroll's first step: every meta-step skipped, the initial params kept.
train --task "quadratic inject=nan inject_step=0" --epochs 1 --out "$tmp/all.ckpt" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && grep -q "0 meta-steps" "$tmp/out" && grep -q "^3 meta-steps skipped" "$tmp/out" && ok || bad "train, every run faulty: $(cat "$tmp/out")"
ckpt_finite "$tmp/all.ckpt" "train, every run faulty"
# Huge values: training goes on, nothing non-finite reaches the checkpoint.
train --task "quadratic inject=huge inject_step=5 inject_count=10" --epochs 2 --out "$tmp/huge.ckpt" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "train inject=huge: $(tail -n 3 "$tmp/err")"
ckpt_finite "$tmp/huge.ckpt" "train inject=huge"
# A learned optimizer with a squared-gradient state: the huge value turns the state to
# Inf while the losses stay finite; the unroll is skipped and says so.
cat >"$tmp/sq.ham" <<'HAM'
optimizer sq {
    input g
    param a = 1
    state v = 0
    next v = v + g^2
    update = -0.1 * a * g / sqrt(v' + 1e-8)
}
HAM
"$HAMC" train "$tmp/sq.ham" --task "quadratic inject=huge inject_step=5" --epochs 1 --runs-per-epoch 2 --eval-runs 2 \
    --out "$tmp/sq.ckpt" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && grep -q "the optimizer's state or theta became non-finite in steps 0\.\.20 of 100 (task quadratic inject=huge inject_step=5, 10 coordinates); meta-step skipped" "$tmp/err" \
    && ok || bad "train, state overflow: $(head -n 2 "$tmp/err")"
ckpt_finite "$tmp/sq.ckpt" "train, state overflow"
# Resume a faulty run with the fault still there, then without it: all checkpoints finite.
train --task "quadratic inject=inf inject_step=30" --epochs 1 --out "$tmp/res.ckpt" >/dev/null 2>&1
train --task "quadratic inject=inf inject_step=30" --epochs 2 --resume "$tmp/res.ckpt" --out "$tmp/res.ckpt" >/dev/null 2>"$tmp/err" \
    && ok || bad "resume with faults: $(tail -n 2 "$tmp/err")"
ckpt_finite "$tmp/res.ckpt" "resume with faults"
train --task quadratic --epochs 3 --resume "$tmp/res.ckpt" --out "$tmp/res.ckpt" >/dev/null 2>&1 && ok || bad "resume without faults"
ckpt_finite "$tmp/res.ckpt" "resume without faults"
# MNIST meta-training on the miniature set.
"$HAMC" train "$spec" --task "mnist data=$tmp/tiny batch=2 inject=nan inject_step=7 inject_coord=100 inject_count=5" \
    --steps 10 --unroll 5 --epochs 1 --runs-per-epoch 2 --eval-runs 2 --out "$tmp/mnist.ckpt" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && grep -q "non-finite gradient from the task (step 7 of 10, task mnist .*, 5 of 15910 coordinates); meta-step skipped" "$tmp/err" \
    && ok || bad "mnist train: $(head -n 3 "$tmp/err")"
ckpt_finite "$tmp/mnist.ckpt" "mnist train"
# A fault that the checker must catch: a NaN written into a checkpoint by hand.
python3 "$here/ckpt.py" set-param "$tmp/nan.ckpt" "$tmp/doctored.ckpt" 1 nan
python3 "$here/ckpt.py" check "$tmp/doctored.ckpt" >/dev/null 2>&1 && bad "ckpt.py check misses a NaN param" || ok

ls "$tmp" | grep -q '\.tmp\.' && bad "temp files left behind: $(ls "$tmp")" || ok
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
