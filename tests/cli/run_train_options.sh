#!/usr/bin/env bash
# run_train_options.sh: what `hamc run` and `hamc train` promise, end to end:
#   - run --json: one JSON object as the last line, with optimizer, task, runs, steps,
#     seed, final_mean, final_ci95 [lo, hi], final_median, mean_over_steps, curve_mean
#     (steps + 1 values); --csv holds the same mean curve, --finals one row per run
#     whose mean is final_mean; --at chooses the steps of the table;
#   - the same seed gives the same bytes whatever --threads (quadratic, MNIST; run and
#     train, with a meta-batch and clipping), and --meta-batch and --clip do change
#     the result;
#   - train --verbose without a terminal: a line per epoch on stderr; without it, silence;
#   - MNIST: activation, hidden sizes and layers are options; --test reports the test
#     set's accuracy (table and JSON); a truncated or wrong-magic idx file is refused
#     naming the file and `make data`;
#   - a training killed with SIGKILL in the middle of an epoch, resumed, ends with the
#     bytes of an uninterrupted one; so does one with --meta-loss log resumed without
#     the flag (the checkpoint holds the meta-loss);
#   - progress: on a terminal, the line has the epoch, meta-loss, eval loss, steps/s
#     and ETA; off a terminal, nothing on stderr;
#   - run --params with a checkpoint of another optimizer (with hypers it lacks) says
#     which optimizer the checkpoint was made for.
# The MNIST parts are skipped, with a note, without data/mnist (`make data`).
# Failures go to stderr; the last line of stdout is `N passed, N failed`.
. "$(dirname "$0")/../cli_common.sh" runtrain
py=/usr/bin/python3
adam=$root/stdlib/adam.ham
small=$root/examples/phnn_small.ham

# ---- run: JSON, CSV, finals, --at ----
"$HAMC" run "$adam" --task quadratic --steps 40 --runs 30 --seed 5 --json --csv "$tmp/c.csv" \
    --finals "$tmp/f.csv" >"$tmp/out" 2>"$tmp/err" && ok || bad "run --json --csv --finals: $(cat "$tmp/err")"
tail -n 1 "$tmp/out" >"$tmp/j.json"
"$py" - "$tmp/j.json" "$tmp/c.csv" "$tmp/f.csv" <<'PY' >"$tmp/py.out" 2>&1 && ok || bad "JSON/CSV content: $(cat "$tmp/py.out")"
import csv, json, math, sys
j = json.load(open(sys.argv[1]))
for k in ("optimizer", "task", "runs", "steps", "seed", "final_mean", "final_ci95", "final_median",
          "mean_over_steps", "curve_mean"):
    assert k in j, "no key " + k
assert j["optimizer"] == "adam" and j["task"] == "quadratic" and j["runs"] == 30 and j["steps"] == 40 and j["seed"] == 5
lo, hi = j["final_ci95"]
assert lo < j["final_mean"] < hi, (lo, j["final_mean"], hi)
assert len(j["curve_mean"]) == 41
rows = list(csv.DictReader(open(sys.argv[2])))
assert [int(r["step"]) for r in rows] == list(range(41))
for r, m in zip(rows, j["curve_mean"]):
    assert math.isclose(float(r["mean"]), m, rel_tol=1e-6), (r, m)
    assert float(r["ci95_lo"]) <= float(r["mean"]) <= float(r["ci95_hi"])
fin = list(csv.DictReader(open(sys.argv[3])))
assert [int(r["run"]) for r in fin] == list(range(30))
mean = sum(float(r["final_loss"]) for r in fin) / 30
assert math.isclose(mean, j["final_mean"], rel_tol=1e-6), (mean, j["final_mean"])
srt = sorted(float(r["final_loss"]) for r in fin)
assert math.isclose((srt[14] + srt[15]) / 2, j["final_median"], rel_tol=1e-6)
PY
"$HAMC" run "$adam" --steps 40 --runs 10 --at 40,5,17,5 >"$tmp/out" 2>&1
[ "$(awk '$1 ~ /^[0-9]+$/ {printf "%s ", $1}' "$tmp/out")" = "5 17 40 " ] && ok || bad "--at 40,5,17,5: $(cat "$tmp/out")"
"$HAMC" run "$adam" --steps 40 --runs 10 --at 41 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--at needs steps" "$tmp/err" && ok || bad "--at past --steps: $(cat "$tmp/err")"

# ---- determinism across thread counts ----
for th in 1 2 3; do
    "$HAMC" run "$adam" --task quadratic --steps 30 --runs 50 --seed 9 --threads $th --json | tail -n 1 >"$tmp/q$th"
done
cmp -s "$tmp/q1" "$tmp/q2" && cmp -s "$tmp/q1" "$tmp/q3" && ok || bad "run: --threads 1/2/3 differ"
train_small() { "$HAMC" train "$small" --task quadratic --epochs 3 --runs-per-epoch 3 --eval-runs 4 --steps 30 --unroll 10 \
    --seed 4 "$@" >/dev/null 2>"$tmp/err"; }
train_small --meta-batch 3 --clip 0.5 --threads 1 --out "$tmp/t1.ckpt" && ok || bad "train --meta-batch --clip: $(cat "$tmp/err")"
train_small --meta-batch 3 --clip 0.5 --threads 2 --out "$tmp/t2.ckpt"
cmp -s "$tmp/t1.ckpt" "$tmp/t2.ckpt" && ok || bad "train: --threads 1/2 differ"
train_small --meta-batch 1 --clip 0.5 --out "$tmp/b1.ckpt"
train_small --meta-batch 3 --out "$tmp/noclip.ckpt"
! cmp -s "$tmp/t1.ckpt" "$tmp/b1.ckpt" && ! cmp -s "$tmp/t1.ckpt" "$tmp/noclip.ckpt" && ok ||
    bad "--meta-batch or --clip changes nothing"

# ---- the meta-gradient ----
# --meta-grad exact trains otherwise than first (here the Hessian terms are not small);
# it is deterministic across thread counts; a staged LSTM has no input adjoints and is
# refused with one line, unless HAM_GEMM=off makes its step whole; a bad value is a
# usage error.
train_small --meta-batch 3 --meta-grad exact --threads 1 --out "$tmp/x1.ckpt" && ok || bad "train --meta-grad exact: $(cat "$tmp/err")"
train_small --meta-batch 3 --meta-grad exact --threads 2 --out "$tmp/x2.ckpt"
train_small --meta-batch 3 --meta-grad first --out "$tmp/f1.ckpt"
cmp -s "$tmp/x1.ckpt" "$tmp/x2.ckpt" && ok || bad "train --meta-grad exact: --threads 1/2 differ"
! cmp -s "$tmp/x1.ckpt" "$tmp/f1.ckpt" && ok || bad "--meta-grad exact trains as first"
"$HAMC" train "$root/stdlib/lstm.ham" --task quadratic --epochs 1 --runs-per-epoch 1 --meta-grad exact --out "$tmp/lx.ckpt" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "no kernel for (a staged step; HAM_GEMM=off makes it whole)" "$tmp/err" &&
    [ ! -e "$tmp/lx.ckpt" ] && ok || bad "exact on a staged LSTM: $(cat "$tmp/err")"
HAM_GEMM=off "$HAMC" train "$root/stdlib/lstm.ham" --task quadratic --epochs 1 --runs-per-epoch 1 --steps 20 --eval-runs 2 \
    --meta-grad exact --out "$tmp/lx.ckpt" >/dev/null 2>"$tmp/err" && ok || bad "exact on a whole-step LSTM: $(cat "$tmp/err")"
"$HAMC" train "$small" --meta-grad second --out "$tmp/m.ckpt" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "unknown meta-gradient 'second' (first or exact)" "$tmp/err" && ok || bad "--meta-grad second: $(cat "$tmp/err")"

# ---- MNIST ----
if [ -f "$root/data/mnist/t10k-labels-idx1-ubyte" ]; then
    data=$root/data/mnist
    for t in "activation=relu hidden=40" "activation=tanh hidden=30,20" "layers=2 hidden=24"; do
        "$HAMC" run "$adam" --task "mnist $t data=$data" --steps 5 --runs 2 --test --json >"$tmp/out" 2>"$tmp/err"
        grep -Eq '^test set: loss [0-9.]+, accuracy [0-9.]+% \(mean of 2 runs\)$' "$tmp/out" &&
            tail -n 1 "$tmp/out" | "$py" -c 'import json,sys; d=json.loads(sys.stdin.read()); assert 0 <= d["test_accuracy"] <= 1' &&
            ok || bad "mnist $t --test: $(cat "$tmp/out" "$tmp/err" | tail -3)"
    done
    for th in 1 2; do
        "$HAMC" run "$adam" --task "mnist data=$data" --steps 4 --runs 3 --seed 3 --threads $th --json | tail -n 1 >"$tmp/m$th"
    done
    cmp -s "$tmp/m1" "$tmp/m2" && ok || bad "mnist run: --threads 1/2 differ"
    # Exact meta-gradients through logsign (phnn) on MNIST, whose border pixels give
    # gradients of exactly 0, where logsign's log|g| branch is not taken but its
    # partial 1 / |g| is inf: every meta-step must be finite, not skipped.
    "$HAMC" train "$root/stdlib/phnn.ham" --task "mnist data=$data" --epochs 1 --runs-per-epoch 2 --steps 10 \
        --unroll 5 --meta-grad exact --eval-runs 1 --threads 1 --out "$tmp/px.ckpt" >"$tmp/out" 2>"$tmp/err" &&
        ! grep -q "non-finite" "$tmp/err" && grep -q "1 epochs, 4 meta-steps" "$tmp/out" && ok ||
        bad "exact phnn on mnist: $(cat "$tmp/out" "$tmp/err" | tail -3)"
    mkdir "$tmp/d"
    cp "$data"/*-ubyte "$tmp/d/"
    head -c 5000 "$data/train-labels-idx1-ubyte" >"$tmp/d/train-labels-idx1-ubyte"
    "$HAMC" run "$adam" --task "mnist data=$tmp/d" --steps 1 --runs 1 >/dev/null 2>"$tmp/err"
    [ $? -eq 1 ] && grep -q "train-labels-idx1-ubyte: error: truncated.*make data" "$tmp/err" && ok ||
        bad "truncated idx file: $(cat "$tmp/err")"
    cp "$data/train-labels-idx1-ubyte" "$tmp/d/"
    printf '\x00\x00\x09\x03' | dd of="$tmp/d/t10k-images-idx3-ubyte" conv=notrunc status=none
    "$HAMC" run "$adam" --task "mnist data=$tmp/d" --steps 1 --runs 1 >/dev/null 2>"$tmp/err"
    [ $? -eq 1 ] && grep -q "t10k-images-idx3-ubyte: error: wrong magic.*make data" "$tmp/err" && ok ||
        bad "wrong magic: $(cat "$tmp/err")"
else
    echo "skipped: the MNIST checks of run_train_options.sh (no data/mnist; run make data)"
fi

# ---- kill -9 in the middle of an epoch, then --resume ----
args=(train "$root/stdlib/phnn.ham" --task quadratic --epochs 150 --runs-per-epoch 10 --eval-runs 10 --seed 9)
# kill_resume REF WHAT OPTION...: train with args and the OPTIONs, kill -9 it once its
# first checkpoint is there, resume with args alone, and compare with REF.
kill_resume() {
    local ref=$1 what=$2 pid killed_at
    shift 2
    rm -f "$tmp/k.ckpt"
    "$HAMC" "${args[@]}" "$@" --out "$tmp/k.ckpt" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 500); do [ -s "$tmp/k.ckpt" ] && break; sleep 0.02; done
    sleep 0.05
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    killed_at=$("$py" "$root/tests/reliability/ckpt.py" epoch "$tmp/k.ckpt" 2>/dev/null | awk '{print $1; exit}')
    if [ -s "$tmp/k.ckpt" ] && [ "${killed_at:-150}" -lt 150 ]; then
        "$HAMC" "${args[@]}" --resume "$tmp/k.ckpt" --out "$tmp/k.ckpt" >/dev/null 2>"$tmp/err" && ok ||
            bad "resume$what: $(cat "$tmp/err")"
        cmp -s "$ref" "$tmp/k.ckpt" && ok || bad "the resumed run$what differs from the uninterrupted one"
    else
        bad "no checkpoint of an unfinished run$what at the kill (epoch ${killed_at:-none} of 150)"
    fi
}
"$HAMC" "${args[@]}" --out "$tmp/straight.ckpt" >/dev/null 2>&1 && ok || bad "uninterrupted training"
kill_resume "$tmp/straight.ckpt" ""
"$HAMC" "${args[@]}" --meta-loss log --out "$tmp/straight_log.ckpt" >/dev/null 2>&1 && ok ||
    bad "uninterrupted training with --meta-loss log"
kill_resume "$tmp/straight_log.ckpt" " (--meta-loss log, resumed without it)" --meta-loss log

# ---- progress: a line on a terminal, nothing off one ----
"$HAMC" "${args[@]}" --epochs 3 --out "$tmp/p.ckpt" >/dev/null 2>"$tmp/err"
[ ! -s "$tmp/err" ] && ok || bad "train off a terminal wrote to stderr: $(head -c 300 "$tmp/err")"
if command -v script >/dev/null 2>&1; then
    script -qfec "exec \"$HAMC\" train \"$root/stdlib/phnn.ham\" --task quadratic --epochs 200 --runs-per-epoch 10 --out \"$tmp/p.ckpt\"" \
        /dev/null </dev/null >"$tmp/tty" 2>&1
    tr -d '\033' <"$tmp/tty" | tr '\r' '\n' |
        grep -Eq '^\[Kepoch [0-9]+/200 .*meta-loss [0-9.e+-]+ .*eval [0-9.e+-]+ \(best [0-9.e+-]+\) +[0-9.e+]+ steps/s +ETA [0-9]+:[0-9]{2}' &&
        ok || bad "no progress line on a terminal: $(tr '\r' '\n' <"$tmp/tty" | tail -3)"
else
    echo "skipped: the terminal progress check (no util-linux script)"
fi

# Without a terminal, --verbose gives a line per epoch on stderr (no progress line to
# show it); without --verbose, nothing.
"$HAMC" train "$root/stdlib/phnn.ham" --task quadratic --epochs 3 --runs-per-epoch 2 --eval-every 2 --eval-runs 5 \
    --out "$tmp/v.ckpt" --verbose >/dev/null 2>"$tmp/verr" && ok || bad "train --verbose: $(cat "$tmp/verr")"
[ "$(grep -Ec '^epoch [1-3]/3: meta-loss [0-9.e+-]+, ' "$tmp/verr")" -eq 3 ] &&
    [ "$(grep -Ec '^epoch [23]/3: meta-loss [0-9.e+-]+, eval [0-9.e+-]+ \(best [0-9.e+-]+\), [0-9.]+ s, about [0-9.]+ min left$' "$tmp/verr")" -eq 2 ] &&
    grep -Eq '^epoch 1/3: meta-loss [0-9.e+-]+, [0-9.]+ s, about' "$tmp/verr" && ok ||
    bad "train --verbose without a terminal: not a line per epoch (eval on 2 and 3): $(cat "$tmp/verr")"
"$HAMC" train "$root/stdlib/phnn.ham" --task quadratic --epochs 2 --runs-per-epoch 2 --eval-runs 5 \
    --out "$tmp/v.ckpt" >/dev/null 2>"$tmp/verr" && [ ! -s "$tmp/verr" ] && ok || bad "train without --verbose wrote to stderr: $(cat "$tmp/verr")"

# ---- a checkpoint of another optimizer ----
"$HAMC" run "$root/stdlib/sgd.ham" --runs 2 --params "$tmp/straight.ckpt" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "made for optimizer 'phnn'" "$tmp/err" && ok || bad "another optimizer's checkpoint: $(cat "$tmp/err")"

summary
