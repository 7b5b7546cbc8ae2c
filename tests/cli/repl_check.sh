#!/usr/bin/env bash
# repl_check.sh: REPL scripts checked without running (`hamc run-script --check`), the
# experiment scripts of examples/experiments/, and the commands they use (copy, table):
#   - every examples/**/*.repl passes --check: the top-level ones alone, the
#     experiments together in the order tools/experiments.sh runs them (relu and
#     generalization read mnist_sigmoid's checkpoints), and each of these alone reports
#     the checkpoints it lacks;
#   - --check runs nothing (a training of 10^6 epochs and a run of 10^8 runs pass in
#     moments; no file is written) and reports `file:line: error` for every bad command,
#     option, optimizer, task, hyper, definition (file:line:col) and file, and goes on;
#   - run-script's errors carry file:line too;
#   - copy: a second name with its own hypers, in one table with the first; its errors;
#   - table: the last comparison as CSV, the same numbers as the printed table;
#   - the experiment scripts themselves run end to end, scaled down (1 epoch, 3 runs,
#     10 steps, into a temporary directory), in order.
# Failures go to stderr; the last line of stdout is `N passed, N failed`.
. "$(dirname "$0")/../cli_common.sh" check
# has NAME FILE PATTERN: FILE has a line matching the extended regex PATTERN.
has() { if grep -Eq -- "$3" "$2"; then ok; else bad "$1: no line matching '$3' in $(basename "$2")"; fi; }
check() { (timeout 120 "$HAMC" run-script --check "$@" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null; }
cd "$root" || exit 1   # the scripts name results/repl/ and data/mnist from here

# ---- every script of examples/ checks clean ----
experiments="quadratic mnist_sigmoid mnist_relu generalization"   # tools/experiments.sh's order
for f in examples/*.repl; do
    check "$f" && ok || bad "--check $f: $(head -n 3 "$tmp/err")"
done
ordered=()
for s in $experiments; do ordered+=("examples/experiments/$s.repl"); done
for f in examples/experiments/*.repl; do   # none left out of the order above
    case " $experiments " in *" $(basename "$f" .repl) "*) ok ;; *) bad "$f is not in the order of repl_check.sh" ;; esac
done
grep -q "for s in $experiments; do" tools/experiments.sh && ok || bad "tools/experiments.sh runs the experiments in another order"
if [ -f data/mnist/train-images-idx3-ubyte ]; then
    check "${ordered[@]}" && ok || bad "--check the experiments: $(head -n 5 "$tmp/err")"
    [ "$(grep -c ': ok (' "$tmp/out")" -eq 4 ] && ok || bad "--check the experiments: $(cat "$tmp/out")"
    for s in mnist_relu generalization; do   # alone, the sigmoid checkpoints are missing
        check "examples/experiments/$s.repl"
        [ $? -eq 1 ] && ok || bad "--check $s.repl alone passes"
        has "$s.repl alone" "$tmp/err" "^examples/experiments/$s\\.repl:[0-9]+: error: load-params: no file 'results/repl/mnist_phnn\\.ckpt'"
    done
else
    echo "skipped: the MNIST experiment scripts (no data/mnist; run \`make data\`)"
fi

# ---- --check runs nothing, and reports every bad line ----
cat >"$tmp/big.repl" <<SCRIPT
task logistic dim=5
optimizer mine {
    hyper lr = 0.1
    input g
    param a = 1
    update = -lr * a * g
}
set mine.lr = 0.2
train mine epochs=1000000 out=$tmp/mine.ckpt
load-params mine $tmp/mine.ckpt
run mine runs=100000000 steps=1000
compare mine adam runs=100000000
plot $tmp/p.png
table $tmp/t.csv
save mine $tmp/s.ckpt
emit-c mine $tmp/mine.c
copy mine mine2
set mine2.lr = 0.3
derive mine2
show mine
list
help run
time
SCRIPT
start=$(date +%s)
check "$tmp/big.repl"
status=$?
[ "$status" -eq 0 ] && ok || bad "--check of a heavy script: status $status: $(head -n 3 "$tmp/err")"
[ $(($(date +%s) - start)) -lt 20 ] && ok || bad "--check of a heavy script took $(($(date +%s) - start)) s"
ls "$tmp"/mine.ckpt "$tmp"/p.png "$tmp"/t.csv "$tmp"/s.ckpt "$tmp"/mine.c >/dev/null 2>&1 && bad "--check wrote files" || ok
[ "$(cat "$tmp/out")" = "$tmp/big.repl: ok (23 lines checked)" ] && ok || bad "--check output: $(cat "$tmp/out")"
[ -s "$tmp/err" ] && bad "--check printed on stderr: $(head -n 3 "$tmp/err")" || ok

cat >"$tmp/bad.repl" <<SCRIPT
# one error a line, from line 2 on
frobnicate
run adam runz=3
run nosuch
task conv
task mnist dim=3
task logistic samples=0
set adam.nope = 1
train adam epochs=3
train phnn meta_opt=lbfgs
plot $tmp/x.png
compare adam sgd
plot $tmp/x.jpg
table $tmp/nodir/t.csv
load-params phnn $tmp/none.ckpt
emit-c phnn $tmp/p.c precision=f16
copy adam 9lives
optimizer broken {
    input g
    update = -0.1 * h
}
help nosuch
run sgd runs=0
SCRIPT
check "$tmp/bad.repl"
[ $? -eq 1 ] && ok || bad "--check of a bad script: not status 1"
has "error count" "$tmp/out" "^$tmp/bad\\.repl: 18 errors$"
b="^$tmp/bad\\.repl"
has "unknown command" "$tmp/err" "$b:2: error: unknown command 'frobnicate'"
has "unknown option" "$tmp/err" "$b:3: error: run: unknown option 'runz'"
has "unknown optimizer" "$tmp/err" "$b:4: error: no optimizer 'nosuch'"
has "unknown task" "$tmp/err" "$b:5: error: task: unknown task 'conv' \\(quadratic, mnist or logistic\\)"
has "option of another task" "$tmp/err" "$b:6: error: task: unknown task option 'dim' for mnist"
has "task option out of range" "$tmp/err" "$b:7: error: task: samples=0: expected an integer"
has "unknown hyper" "$tmp/err" "$b:8: error: set: optimizer 'adam' has no hyper 'nope'"
has "nothing to train" "$tmp/err" "$b:9: error: train: optimizer 'adam' has no params to learn"
has "unknown meta-optimizer" "$tmp/err" "$b:10: error: train: unknown meta_opt 'lbfgs'"
has "plot before any run" "$tmp/err" "$b:11: error: plot: nothing to plot yet"
has "plot extension" "$tmp/err" "$b:13: error: plot: the file must end in .png or .svg"
has "no such directory" "$tmp/err" "$b:14: error: table: no directory '$tmp/nodir'"
has "missing checkpoint" "$tmp/err" "$b:15: error: load-params: no file '$tmp/none\\.ckpt'"
has "bad emit-c option" "$tmp/err" "$b:16: error: emit-c: precision is f32 or f64"
has "bad copy name" "$tmp/err" "$b:17: error: copy: '9lives' is not a name"
has "definition diagnostic in the script" "$tmp/err" "$b:20:21: error: unknown name 'h'"
has "unknown help topic" "$tmp/err" "$b:22: error: help: no command 'nosuch'"
has "bad option value" "$tmp/err" "$b:23: error: runs=0: needs an integer >= 1"

# A script may read what an earlier one of the same check writes.
printf 'load examples/phnn_small.ham\ntrain phnn_small epochs=500 out=%s/ps.ckpt\n' "$tmp" >"$tmp/a.repl"
printf 'load examples/phnn_small.ham\nload-params phnn_small %s/ps.ckpt\nrun phnn_small\n' "$tmp" >"$tmp/b.repl"
check "$tmp/b.repl"
[ $? -eq 1 ] && ok || bad "--check b.repl alone: the checkpoint is missing"
check "$tmp/a.repl" "$tmp/b.repl" && ok || bad "--check a.repl b.repl: $(cat "$tmp/err")"
[ ! -e "$tmp/ps.ckpt" ] && ok || bad "--check a.repl wrote the checkpoint"
check "$tmp/b.repl" "$tmp/a.repl"
[ $? -eq 1 ] && ok || bad "--check b.repl a.repl: the order matters"
check "$tmp/nope.repl"
[ $? -eq 1 ] && ok || bad "--check of a missing file: not status 1"
(timeout 60 "$HAMC" run-script --check >/dev/null 2>&1; exit $?) 2>/dev/null
[ $? -eq 2 ] && ok || bad "--check without FILE: not a usage error"

# ---- run-script's errors name the file and line ----
printf 'task logistic\n\nrun sgd runs=2 steps=2\nrun nosuch\n' >"$tmp/r.repl"
(timeout 60 "$HAMC" run-script "$tmp/r.repl" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
[ $? -eq 1 ] && ok || bad "run-script with an error: not status 1"
has "run-script error location" "$tmp/err" "^$tmp/r\\.repl:4: error: no optimizer 'nosuch'"
printf 'list\noptimizer o {\n    input g\n    update = q\n}\n' >"$tmp/d.repl"
(timeout 60 "$HAMC" run-script "$tmp/d.repl" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
has "run-script definition diagnostic" "$tmp/err" "^$tmp/d\\.repl:4:14: error: unknown name 'q'"

# ---- copy and table ----
cat >"$tmp/c.repl" <<SCRIPT
task quadratic dim=5
set adam.lr = 0.01
copy adam adam_fast
set adam_fast.lr = 0.1
compare adam adam_fast runs=30 steps=40 seed=3
table $tmp/c.csv
list
show adam_fast
copy adam adam_fast
copy adam sgd
copy nosuch x
optimizer adam_fast {
    input g
    update = -0.5 * g
}
run adam_fast runs=5 steps=5
table
SCRIPT
(timeout 120 "$HAMC" run-script --keep-going "$tmp/c.repl" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
has "copy" "$tmp/out" '^copied adam to adam_fast$'
has "the copy's hyper" "$tmp/out" '^adam_fast\.lr = 0\.1$'
has "list shows the copy" "$tmp/out" '^optimizer +adam_fast +copy of adam +set lr=0\.1$'
has "show a copy: the original's definition, the copy's override" "$tmp/out" '^# set adam_fast\.lr = 0\.1$'
has "copy onto a copy" "$tmp/err" "c\\.repl:9: error: copy: 'adam_fast' already names an optimizer"
has "copy onto a stdlib name" "$tmp/err" "c\\.repl:10: error: copy: 'sgd' already names an optimizer"
has "copy of nothing" "$tmp/err" "c\\.repl:11: error: no optimizer 'nosuch'"
has "a definition replaces the copy" "$tmp/out" '^defined optimizer adam_fast$'
has "table of the last run" "$tmp/out" '^adam_fast +[0-9.e+-]+ +\['
/usr/bin/python3 - "$tmp/out" "$tmp/c.csv" <<'PY' >"$tmp/py.out" 2>&1 && ok || bad "table CSV: $(cat "$tmp/py.out")"
import csv, sys
out = open(sys.argv[1]).read().splitlines()
rows = list(csv.DictReader(open(sys.argv[2])))
assert [r["optimizer"] for r in rows] == ["adam", "adam_fast"], rows
printed = {l.split()[0]: l.split() for l in out if l.split() and l.split()[0] in ("adam", "adam_fast") and "[" in l}
for r in rows:
    assert r["task"] == "quadratic dim=5" and r["seed"] == "3" and r["runs"] == "30" and r["steps"] == "40", r
    p = printed[r["optimizer"]]
    assert float(p[1]) == float(f"{float(r['final_mean']):.5g}"), (p, r)       # the table's 5 digits
    assert float(r["final_ci_lo"]) <= float(r["final_mean"]) <= float(r["final_ci_hi"])
    assert r["diverged"] == "0" and r["test_accuracy"] == "nan"
assert float(rows[1]["final_mean"]) < float(rows[0]["final_mean"]), "lr 0.1 is not better than 0.01 on the quadratic"
PY
# The same adam at lr 0.1 without a copy: the copy's row, exactly.
"$HAMC" run stdlib/adam.ham --task "quadratic dim=5" --set lr=0.1 --runs 30 --steps 40 --seed 3 --json 2>/dev/null |
    tail -n 1 >"$tmp/j.json"
/usr/bin/python3 -c 'import csv, json, sys
j = json.load(open(sys.argv[1])); r = list(csv.DictReader(open(sys.argv[2])))[1]
assert abs(float(r["final_mean"]) - j["final_mean"]) <= 1e-8 * j["final_mean"], (r["final_mean"], j["final_mean"])' \
    "$tmp/j.json" "$tmp/c.csv" 2>"$tmp/py.out" && ok || bad "the copy runs as adam --set lr=0.1: $(cat "$tmp/py.out")"
# A task with a comma in its text is quoted in the CSV.
if [ -f data/mnist/train-images-idx3-ubyte ]; then
    printf 'task mnist hidden=4,3\nrun sgd runs=2 steps=2\ntable %s/m.csv\n' "$tmp" >"$tmp/m.repl"
    (timeout 120 "$HAMC" run-script "$tmp/m.repl" >/dev/null 2>"$tmp/err"; exit $?) 2>/dev/null
    grep -q '^sgd,"mnist hidden=4,3",1,2,2,' "$tmp/m.csv" && ok || bad "CSV quoting: $(cat "$tmp/m.csv" "$tmp/err")"
fi

# ---- the experiment scripts run, scaled down ----
# As written, but 1 epoch of 2 runs (unroll 5, 2 evaluation runs), 3 runs of 10 steps,
# and the files in $tmp/x: every command runs, in order, the later scripts reading the
# checkpoints of mnist_sigmoid.repl.
if [ -f data/mnist/train-images-idx3-ubyte ]; then
    mkdir -p "$tmp/x"
    for s in $experiments; do
        sed -e 's/epochs=[0-9]*/epochs=1/; s/runs_per_epoch=[0-9]*/runs_per_epoch=2/; s/ eval_runs=[0-9]*//' \
            -e 's/ runs=[0-9]*/ runs=3/; s/steps=[0-9]*/steps=10/g; s/unroll=[0-9]*/unroll=5/' \
            -e 's/^train .*/& eval_runs=2/' -e "s|results/repl/|$tmp/x/|g" "examples/experiments/$s.repl" >"$tmp/x/$s.repl"
        (timeout 300 "$HAMC" run-script "$tmp/x/$s.repl" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
        status=$?
        [ "$status" -eq 0 ] && ok || bad "$s.repl, scaled down: status $status: $(tail -n 3 "$tmp/err")"
    done
    for f in quadratic_phnn.ckpt quadratic.csv quadratic_tuned.csv quadratic.png mnist_lstm.ckpt mnist_sigmoid.csv \
             mnist_relu.csv mnist_relu_tuned.png mnist_layers2_tuned.csv; do
        case $f in *_tuned.png) f=mnist_relu.png ;; esac
        [ -s "$tmp/x/$f" ] && ok || bad "the scaled-down experiments did not write $f"
    done
    [ "$(tail -n +2 "$tmp/x/mnist_relu.csv" | cut -d, -f1 | tr '\n' ' ')" = \
      "seed_hnn_pre lstm_pre phnn adam rmsprop momentum nag " ] && ok || bad "mnist_relu.csv rows: $(cut -d, -f1 "$tmp/x/mnist_relu.csv")"
fi

summary
