#!/usr/bin/env bash
# tasks.sh: the task registry (runtime/tasks.def) from the command line, and the
# logistic task that was added to it as one file:
#   - `hamc run stdlib/adam.ham --task logistic --runs 20 --steps 50 --json`: the loss
#     starts at log 2 and decreases; the same seed gives the same bytes, run twice and
#     whatever --threads; another seed other numbers; `samples=` and `dim=` are options;
#   - a short meta-training of a learned optimizer on it, then its evaluation;
#   - rescale=R (any task): a training on it and its resumption, another R refused on
#     resume, rescale=0 the plain task byte for byte, bad values;
#   - every place that names tasks lists the registry's: `hamc help`, `hamc help tasks`
#     (each task's options), the error for an unknown name, for an option another task
#     takes, the REPL's `task` command and `help task`.
# Failures go to stderr; the last line of stdout is `N passed, N failed`.
. "$(dirname "$0")/../cli_common.sh" tasks
py=/usr/bin/python3
adam=$root/stdlib/adam.ham
names="quadratic, mnist or logistic"   # the registry, in tasks.def order

# ---- logistic: the loss decreases ----
"$HAMC" run "$adam" --task logistic --runs 20 --steps 50 --json >"$tmp/out" 2>"$tmp/err" && ok ||
    bad "run on logistic: $(cat "$tmp/err")"
tail -n 1 "$tmp/out" >"$tmp/a.json"
"$py" - "$tmp/a.json" <<'PY' >"$tmp/py.out" 2>&1 && ok || bad "logistic loss curve: $(cat "$tmp/py.out")"
import json, math, sys
r = json.load(open(sys.argv[1]))
c = r["curve_mean"]
assert r["task"] == "logistic" and r["runs"] == 20 and r["steps"] == 50 and len(c) == 51, r
assert abs(c[0] - math.log(2)) < 1e-8, f"loss at theta_0 {c[0]}, not log 2"
assert all(b < a for a, b in zip(c, c[1:])), "the mean loss does not decrease at every step"
assert r["final_mean"] < c[0] - 0.02 and r["final_ci95"][1] < c[0], r["final_ci95"]
PY
# Faster with a larger learning rate; the held-out accuracy goes up with --test.
"$HAMC" run "$adam" --task "logistic dim=5 samples=200" --set lr=0.1 --runs 20 --steps 50 --test --json \
    2>"$tmp/err" | tail -n 1 >"$tmp/b.json"
"$py" - "$tmp/b.json" <<'PY' >"$tmp/py.out" 2>&1 && ok || bad "logistic dim=5 samples=200, lr 0.1, --test: $(cat "$tmp/py.out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["task"] == "logistic dim=5 samples=200", r["task"]
assert r["final_mean"] < 0.4, r["final_mean"]
assert r["test_accuracy"] > 0.8 and r["test_loss"] < 0.5, (r["test_accuracy"], r["test_loss"])
PY

# ---- determinism: the same seed, the same bytes, whatever the thread count ----
for th in 1 2 3; do
    "$HAMC" run "$adam" --task "logistic samples=80" --runs 40 --steps 30 --seed 9 --threads $th --json \
        --finals "$tmp/f$th.csv" 2>/dev/null | tail -n 1 >"$tmp/t$th.json"
done
cmp -s "$tmp/t1.json" "$tmp/t2.json" && cmp -s "$tmp/t1.json" "$tmp/t3.json" && ok ||
    bad "logistic: --threads 1, 2, 3 give different JSON"
cmp -s "$tmp/f1.csv" "$tmp/f2.csv" && cmp -s "$tmp/f1.csv" "$tmp/f3.csv" && ok ||
    bad "logistic: --threads 1, 2, 3 give different finals"
"$HAMC" run "$adam" --task "logistic samples=80" --runs 40 --steps 30 --seed 9 --threads 2 --json 2>/dev/null |
    tail -n 1 | cmp -s - "$tmp/t1.json" && ok || bad "logistic: the same run twice differs"
"$HAMC" run "$adam" --task "logistic samples=80" --runs 40 --steps 30 --seed 10 --json 2>/dev/null |
    tail -n 1 | cmp -s - "$tmp/t1.json" && bad "logistic: another seed, the same numbers" || ok

# ---- meta-training on it: a learned optimizer trains and then runs ----
"$HAMC" train "$root/examples/phnn_small.ham" --task "logistic dim=8" --epochs 2 --runs-per-epoch 4 \
    --eval-runs 4 --steps 20 --unroll 10 --out "$tmp/l.ckpt" >"$tmp/out" 2>"$tmp/err" && [ -s "$tmp/l.ckpt" ] && ok ||
    bad "train on logistic: $(tail -n 3 "$tmp/err")"
"$HAMC" run "$root/examples/phnn_small.ham" --task "logistic dim=8" --params "$tmp/l.ckpt" --runs 10 --steps 20 \
    >"$tmp/out" 2>"$tmp/err" && grep -q '^final loss: mean' "$tmp/out" && ok ||
    bad "run the trained optimizer on logistic: $(tail -n 3 "$tmp/err")"

# ---- rescale=R, any task in random units: training on it, resuming it, bad values ----
"$HAMC" train "$root/stdlib/phnn.ham" --task "quadratic rescale=1" --epochs 2 --runs-per-epoch 4 --eval-runs 4 \
    --steps 20 --unroll 10 --out "$tmp/r.ckpt" >"$tmp/out" 2>"$tmp/err" && [ -s "$tmp/r.ckpt" ] && ok ||
    bad "train on quadratic rescale=1: $(tail -n 3 "$tmp/err")"
"$HAMC" train "$root/stdlib/phnn.ham" --resume "$tmp/r.ckpt" --epochs 3 --out "$tmp/r.ckpt" >"$tmp/out" 2>"$tmp/err" &&
    ok || bad "resume a rescale=1 training: $(tail -n 3 "$tmp/err")"
"$HAMC" train "$root/stdlib/phnn.ham" --resume "$tmp/r.ckpt" --task "quadratic rescale=2" --epochs 4 \
    --out "$tmp/r.ckpt" >"$tmp/out" 2>"$tmp/err"
[ $? -ne 0 ] && grep -q "was trained on the task 'quadratic rescale=1', not 'quadratic rescale=2'" "$tmp/err" && ok ||
    bad "resume with another rescale: $(cat "$tmp/err")"
# The same quadratic seen in random units: SGD's runs differ (its steps are not
# invariant to the units); rescale=0 is the plain task, byte for byte.
"$HAMC" run "$root/stdlib/sgd.ham" --task quadratic --runs 20 --steps 30 --json 2>/dev/null | tail -n 1 >"$tmp/r0.json"
"$HAMC" run "$root/stdlib/sgd.ham" --task "quadratic rescale=0" --runs 20 --steps 30 --json 2>/dev/null |
    tail -n 1 | sed 's/"task": "quadratic rescale=0"/"task": "quadratic"/' | cmp -s - "$tmp/r0.json" && ok ||
    bad "rescale=0 differs from the plain quadratic"
"$HAMC" run "$root/stdlib/sgd.ham" --task "quadratic rescale=0.5" --runs 20 --steps 30 --json 2>/dev/null |
    tail -n 1 | sed 's/"task": "quadratic rescale=0.5"/"task": "quadratic"/' | cmp -s - "$tmp/r0.json" &&
    bad "rescale=0.5 gives SGD the plain quadratic's numbers" || ok
for v in -1 11 x; do
    "$HAMC" run "$adam" --task "quadratic rescale=$v" --runs 2 >/dev/null 2>"$tmp/err"
    [ $? -eq 2 ] && grep -q "rescale=$v: expected a number in 0..10" "$tmp/err" && ok || bad "rescale=$v: $(cat "$tmp/err")"
done

# ---- names and options come from the registry ----
"$HAMC" help >"$tmp/out" 2>&1
grep -q "^tasks: $names " "$tmp/out" && ok || bad "hamc help lists the tasks: $(grep tasks "$tmp/out")"
"$HAMC" help tasks >"$tmp/out" 2>&1 && ok || bad "hamc help tasks: status"
for want in '^  quadratic  ' '^  mnist  ' '^  logistic  ' '^ +dim=10 ' '^ +samples=100 +examples per instance' \
            '^ +activation=sigmoid ' '^  any task: +inject=' '^ +rescale=0 +each instance in random units'; do
    grep -Eq -- "$want" "$tmp/out" && ok || bad "hamc help tasks: no line matching '$want'"
done
"$HAMC" help run >"$tmp/out" 2>&1
grep -q '^  logistic ' "$tmp/out" && ok || bad "hamc help run lists the tasks"
"$HAMC" run "$adam" --task conv --runs 2 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "unknown task 'conv' ($names)" "$tmp/err" && ok || bad "unknown task: $(cat "$tmp/err")"
"$HAMC" run "$adam" --task "logistic hidden=20" --runs 2 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "unknown task option 'hidden' for logistic (its options: dim, samples;" "$tmp/err" && ok ||
    bad "an option of another task: $(cat "$tmp/err")"

# ---- the REPL: task, help task ----
printf 'task logistic samples=30\nrun sgd runs=4 steps=5\ntask\ntask conv\nhelp task\nhelp\n' |
    (timeout 120 "$HAMC" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
grep -q '^task: logistic samples=30$' "$tmp/out" && ok || bad "REPL task logistic"
grep -q '^final loss: mean .* over 4 runs' "$tmp/out" && ok || bad "REPL run on logistic"
grep -q "^error: task: unknown task 'conv' ($names)$" "$tmp/err" && ok || bad "REPL unknown task: $(cat "$tmp/err")"
grep -Eq '^ +samples=100 ' "$tmp/out" && ok || bad "REPL help task lists the options"
grep -q "^tasks: $names (see 'help task')$" "$tmp/out" && ok || bad "REPL help lists the tasks"

summary
