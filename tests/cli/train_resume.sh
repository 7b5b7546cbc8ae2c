#!/usr/bin/env bash
# train_resume.sh: meta-training checkpoints.  A run resumed from its checkpoint ends
# with the same bytes as an uninterrupted one; a run stopped by SIGINT leaves a
# loadable checkpoint of its last whole epoch; corrupt and mismatched checkpoints are
# refused with one line; `hamc run --params` uses the learned params.  The meta-loss
# travels with the checkpoint: a --meta-loss log run resumed without the flag goes on
# with log; a --meta-loss given with --resume wins (as every other training option
# does) and is stored from then on; a checkpoint of a ham from before the LOSS section
# means sum; a stored meta-loss this ham does not know is refused.  The meta-optimizer
# travels the same way: an sgd run resumed without --meta-opt goes on with sgd; a
# --meta-opt given with --resume wins and starts its own state afresh (its step count
# in the checkpoint says so).  So do the task, the settings and the hypers: a run
# resumed without them goes on with the checkpoint's; a given setting wins; another
# task is refused.  --log writes a CSV row per epoch and a resumed run
# appends to it.
. "$(dirname "$0")/../cli_common.sh" resume
spec=$root/examples/phnn_small.ham
train() { "$HAMC" train "$spec" --task quadratic --runs-per-epoch 5 --eval-runs 10 --seed 3 "$@" >/dev/null 2>"$tmp/err"; }

train --epochs 4 --out "$tmp/straight.ckpt" && ok || bad "straight training: $(cat "$tmp/err")"
train --epochs 2 --out "$tmp/resumed.ckpt" && ok || bad "first half"
train --epochs 4 --resume "$tmp/resumed.ckpt" --out "$tmp/resumed.ckpt" && ok || bad "resume: $(cat "$tmp/err")"
cmp -s "$tmp/straight.ckpt" "$tmp/resumed.ckpt" && ok || bad "resumed run differs from the uninterrupted one"

# ---- the meta-loss on --resume ----
ckpt() { /usr/bin/python3 "$root/tests/reliability/ckpt.py" "$@"; }
train --epochs 2 --out "$tmp/sum2.ckpt" && ok || bad "sum, first half: $(cat "$tmp/err")"
train --epochs 4 --meta-loss log --out "$tmp/log.ckpt" && ok || bad "straight --meta-loss log: $(cat "$tmp/err")"
! cmp -s "$tmp/log.ckpt" "$tmp/straight.ckpt" && ok || bad "--meta-loss log trains as sum"
train --epochs 2 --meta-loss log --out "$tmp/log2.ckpt" && ok || bad "--meta-loss log, first half"
cp "$tmp/log2.ckpt" "$tmp/log_resumed.ckpt"
train --epochs 4 --resume "$tmp/log_resumed.ckpt" --out "$tmp/log_resumed.ckpt" && ok || bad "log resume: $(cat "$tmp/err")"
cmp -s "$tmp/log.ckpt" "$tmp/log_resumed.ckpt" && ok ||
    bad "a --meta-loss log run resumed without the flag differs from the uninterrupted one"
# Given with --resume, --meta-loss wins, and the checkpoint stores it: sum from epoch 2
# to 4 in one go, or to 3 and then on to 4 without the flag, gives the same bytes.
cp "$tmp/log2.ckpt" "$tmp/switch.ckpt"
cp "$tmp/log2.ckpt" "$tmp/switch2.ckpt"
train --epochs 4 --meta-loss sum --resume "$tmp/switch.ckpt" --out "$tmp/switch.ckpt" && ok ||
    bad "resume of a log checkpoint with --meta-loss sum: $(cat "$tmp/err")"
train --epochs 3 --meta-loss sum --resume "$tmp/switch2.ckpt" --out "$tmp/switch2.ckpt" &&
    train --epochs 4 --resume "$tmp/switch2.ckpt" --out "$tmp/switch2.ckpt" && ok || bad "switch in two steps: $(cat "$tmp/err")"
cmp -s "$tmp/switch.ckpt" "$tmp/switch2.ckpt" && ! cmp -s "$tmp/switch.ckpt" "$tmp/log.ckpt" && ok ||
    bad "--meta-loss sum given with --resume is not used, or not stored"
# A checkpoint of an older ham (no LOSS section) resumes as sum, the only meta-loss it had.
ckpt drop "$tmp/sum2.ckpt" "$tmp/old.ckpt" LOSS && ok || bad "ckpt.py drop LOSS"
train --epochs 4 --resume "$tmp/old.ckpt" --out "$tmp/old.ckpt" && ok || bad "resume of an old checkpoint: $(cat "$tmp/err")"
cmp -s "$tmp/straight.ckpt" "$tmp/old.ckpt" && ok || bad "a checkpoint without LOSS does not resume as sum"
# A meta-loss this ham does not know: one line, exit 1, no --out; --meta-loss overrides it.
ckpt set-str "$tmp/log2.ckpt" "$tmp/hinge.ckpt" LOSS hinge
out=$("$HAMC" train "$spec" --task quadratic --epochs 3 --resume "$tmp/hinge.ckpt" --out "$tmp/h.ckpt" 2>&1)
[ $? -eq 1 ] && [ "$out" = "hamc train: $tmp/hinge.ckpt: trained with meta-loss 'hinge', which this ham does not know (sum, log, late, loglate or imitate)" ] &&
    [ ! -e "$tmp/h.ckpt" ] && ok || bad "unknown stored meta-loss: $out"
train --epochs 3 --meta-loss log --resume "$tmp/hinge.ckpt" --out "$tmp/h.ckpt" && ok || bad "--meta-loss over an unknown stored one: $(cat "$tmp/err")"

# ---- the meta-optimizer on --resume ----
# (sgd at meta-lr 1e-4: at 1e-3 its meta-gradients overflow and most steps are skipped)
train --epochs 4 --meta-opt sgd --meta-lr 1e-4 --out "$tmp/sgd.ckpt" && ok || bad "straight --meta-opt sgd: $(cat "$tmp/err")"
! cmp -s "$tmp/sgd.ckpt" "$tmp/straight.ckpt" && ok || bad "--meta-opt sgd trains as adam"
train --epochs 2 --meta-opt sgd --meta-lr 1e-4 --out "$tmp/sgd2.ckpt" && ok || bad "sgd, first half: $(cat "$tmp/err")"
for f in sgd_resumed sgd_switch sgd_switch2; do cp "$tmp/sgd2.ckpt" "$tmp/$f.ckpt"; done
train --epochs 4 --meta-lr 1e-4 --resume "$tmp/sgd_resumed.ckpt" --out "$tmp/sgd_resumed.ckpt" && ok ||
    bad "sgd resume: $(cat "$tmp/err")"
cmp -s "$tmp/sgd.ckpt" "$tmp/sgd_resumed.ckpt" && ok ||
    bad "an sgd run resumed without --meta-opt differs from the uninterrupted one"
# Given with --resume, --meta-opt wins and is stored: adam from epoch 2 to 4 in one go,
# or to 3 and then on to 4 without the flag, gives the same bytes.
train --epochs 4 --meta-opt adam --meta-lr 1e-4 --resume "$tmp/sgd_switch.ckpt" --out "$tmp/sgd_switch.ckpt" &&
    ok || bad "resume of an sgd checkpoint with --meta-opt adam: $(cat "$tmp/err")"
train --epochs 3 --meta-opt adam --meta-lr 1e-4 --resume "$tmp/sgd_switch2.ckpt" --out "$tmp/sgd_switch2.ckpt" &&
    train --epochs 4 --meta-lr 1e-4 --resume "$tmp/sgd_switch2.ckpt" --out "$tmp/sgd_switch2.ckpt" && ok ||
    bad "meta-optimizer switch in two steps: $(cat "$tmp/err")"
cmp -s "$tmp/sgd_switch.ckpt" "$tmp/sgd_switch2.ckpt" && ! cmp -s "$tmp/sgd_switch.ckpt" "$tmp/sgd.ckpt" && ok ||
    bad "--meta-opt adam given with --resume is not used, or not stored"
# ... and starts its state afresh: adam's step count is the meta-steps since the switch,
# not sgd's count carried on.
cp "$tmp/sgd2.ckpt" "$tmp/sgd_fresh.ckpt"
train --epochs 3 --meta-opt adam --meta-lr 1e-4 --resume "$tmp/sgd_fresh.ckpt" --out "$tmp/sgd_fresh.ckpt" &&
    ok || bad "one adam epoch on an sgd checkpoint: $(cat "$tmp/err")"
before=$(ckpt epoch "$tmp/sgd2.ckpt" | cut -d' ' -f2)
after=$(ckpt epoch "$tmp/sgd_fresh.ckpt" | cut -d' ' -f2)
mopt=$(ckpt mopt "$tmp/sgd_fresh.ckpt")
[ "$(ckpt mopt "$tmp/sgd2.ckpt")" = "sgd $before" ] && [ "$mopt" = "adam $((after - before))" ] && ok ||
    bad "the switched meta-optimizer's state: '$mopt' after meta-steps $before..$after"

# ---- the run's task, settings and hypers on --resume ----
# A run with its own task, unroll, runs per epoch, eval runs, meta-lr and out_mul,
# resumed with none of them given, ends with the bytes of the straight run.
own=(--task "quadratic dim=5" --unroll 25 --runs-per-epoch 3 --eval-runs 7 --meta-lr 0.003 --out-mul 0.5 --seed 3)
"$HAMC" train "$spec" "${own[@]}" --epochs 4 --out "$tmp/own.ckpt" >/dev/null 2>"$tmp/err" && ok || bad "own settings: $(cat "$tmp/err")"
"$HAMC" train "$spec" "${own[@]}" --epochs 2 --out "$tmp/own2.ckpt" >/dev/null 2>"$tmp/err" && ok || bad "own settings, first half"
"$HAMC" train "$spec" --epochs 4 --resume "$tmp/own2.ckpt" --out "$tmp/own_resumed.ckpt" >/dev/null 2>"$tmp/err" && ok ||
    bad "resume with no settings given: $(cat "$tmp/err")"
cmp -s "$tmp/own.ckpt" "$tmp/own_resumed.ckpt" && ok ||
    bad "a run resumed without its task, settings and hypers does not go on with them"
[ "$(ckpt kv "$tmp/own2.ckpt" | grep -E '^train\.(unroll|runs_per_epoch|eval_runs|meta_lr)=' | tr '\n' ' ')" = \
  "train.unroll=25 train.runs_per_epoch=3 train.meta_lr=0.0030000000000000001 train.eval_runs=7 " ] && ok ||
    bad "the settings stored: $(ckpt kv "$tmp/own2.ckpt" | tr '\n' ' ')"
# A setting given with --resume wins and is stored: unroll 50 from epoch 2 to 4 in one
# go, or to 3 and then on to 4 without the flag, gives the same bytes.
"$HAMC" train "$spec" --epochs 4 --unroll 50 --resume "$tmp/own2.ckpt" --out "$tmp/u50.ckpt" >/dev/null 2>&1 &&
    "$HAMC" train "$spec" --epochs 3 --unroll 50 --resume "$tmp/own2.ckpt" --out "$tmp/u50b.ckpt" >/dev/null 2>&1 &&
    "$HAMC" train "$spec" --epochs 4 --resume "$tmp/u50b.ckpt" --out "$tmp/u50b.ckpt" >/dev/null 2>&1 && ok || bad "--unroll 50 on resume"
cmp -s "$tmp/u50.ckpt" "$tmp/u50b.ckpt" && ! cmp -s "$tmp/u50.ckpt" "$tmp/own.ckpt" && ok ||
    bad "--unroll given with --resume is not used, or not stored"
# The same task written otherwise is the same task (and so is it with a fault injected,
# a testing aid: faults.sh resumes a faulty run without its fault); another one is
# refused, one line.
"$HAMC" train "$spec" --task "quadratic  dim=5" --epochs 3 --resume "$tmp/own2.ckpt" --out "$tmp/same.ckpt" >/dev/null 2>"$tmp/err" &&
    ok || bad "the checkpoint's task given again: $(cat "$tmp/err")"
"$HAMC" train "$spec" --task "quadratic dim=5 inject=nan inject_step=3" --epochs 3 --resume "$tmp/own2.ckpt" \
    --out "$tmp/inj.ckpt" >/dev/null 2>"$tmp/err" && ok || bad "the checkpoint's task with a fault injected: $(cat "$tmp/err")"
out=$("$HAMC" train "$spec" --task quadratic --epochs 3 --resume "$tmp/own2.ckpt" --out "$tmp/other.ckpt" 2>&1)
[ $? -eq 1 ] && [ "$out" = "hamc train: $tmp/own2.ckpt: was trained on the task 'quadratic dim=5', not 'quadratic' (its best params were chosen there); resume without --task" ] &&
    [ ! -e "$tmp/other.ckpt" ] && ok || bad "another task on resume: $out"
# A stored setting that is not a value: one line, exit 1; giving the option replaces it.
ckpt set-kv "$tmp/own2.ckpt" "$tmp/badkv.ckpt" train.unroll 0 && ok || bad "ckpt.py set-kv"
out=$("$HAMC" train "$spec" --epochs 3 --resume "$tmp/badkv.ckpt" --out "$tmp/badkv_out.ckpt" 2>&1)
[ $? -eq 1 ] && [ "$out" = "hamc train: $tmp/badkv.ckpt: its setting train.unroll is '0', not a valid value (give the option to replace it)" ] &&
    ok || bad "a bad stored setting: $out"
ckpt set-kv "$tmp/own2.ckpt" "$tmp/badlr.ckpt" train.meta_lr 0
out=$("$HAMC" train "$spec" --epochs 3 --resume "$tmp/badlr.ckpt" --out "$tmp/badlr_out.ckpt" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "its setting train.meta_lr is '0', not a valid value" && ok || bad "a stored meta-lr of 0: $out"
"$HAMC" train "$spec" --epochs 3 --unroll 25 --resume "$tmp/badkv.ckpt" --out "$tmp/badkv_out.ckpt" >/dev/null 2>&1 && ok ||
    bad "--unroll over a bad stored setting"

# The meta-gradient is a setting like the others: an exact run resumed without
# --meta-grad goes on exact; given, it wins; a stored value this ham does not know is
# refused; a checkpoint from before the setting (no train.meta_grad) goes on first.
train --epochs 4 --meta-grad exact --out "$tmp/exact.ckpt" && ok || bad "straight --meta-grad exact: $(cat "$tmp/err")"
train --epochs 2 --meta-grad exact --out "$tmp/exact2.ckpt" && ok || bad "exact, first half"
[ "$(ckpt kv "$tmp/exact2.ckpt" | grep '^train.meta_grad=')" = "train.meta_grad=exact" ] && ok || bad "train.meta_grad not stored"
train --epochs 4 --resume "$tmp/exact2.ckpt" --out "$tmp/exact_resumed.ckpt" && ok || bad "exact resume: $(cat "$tmp/err")"
cmp -s "$tmp/exact.ckpt" "$tmp/exact_resumed.ckpt" && ! cmp -s "$tmp/exact.ckpt" "$tmp/straight.ckpt" && ok ||
    bad "an exact run resumed without --meta-grad differs from the uninterrupted one (or exact trains as first)"
ckpt set-kv "$tmp/exact2.ckpt" "$tmp/badmg.ckpt" train.meta_grad second
out=$("$HAMC" train "$spec" --epochs 3 --resume "$tmp/badmg.ckpt" --out "$tmp/badmg_out.ckpt" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "its setting train.meta_grad is 'second', not a valid value" && ok || bad "a stored meta-grad 'second': $out"
train --epochs 3 --meta-grad first --resume "$tmp/badmg.ckpt" --out "$tmp/badmg_out.ckpt" && ok || bad "--meta-grad over a bad stored one"
ckpt drop-kv "$tmp/sum2.ckpt" "$tmp/nomg.ckpt" train.meta_grad && ok || bad "ckpt.py drop-kv"
train --epochs 4 --resume "$tmp/nomg.ckpt" --out "$tmp/nomg.ckpt" && cmp -s "$tmp/straight.ckpt" "$tmp/nomg.ckpt" && ok ||
    bad "a checkpoint without train.meta_grad does not resume first-order: $(cat "$tmp/err")"

# ---- the training log (--log) ----
# A row per epoch after a header, the start as epoch 0; the best loss never rises and
# ends at the one the summary line reports; a resumed run appends the rows a straight
# run has (all but the seconds); epochs not evaluated have an empty eval_loss.
out=$("$HAMC" train "$spec" --task quadratic --runs-per-epoch 5 --eval-runs 10 --seed 3 --epochs 4 \
    --out "$tmp/logged.ckpt" --log "$tmp/straight.csv" 2>"$tmp/err")
cmp -s "$tmp/logged.ckpt" "$tmp/straight.ckpt" && ok || bad "--log changes the training: $(cat "$tmp/err")"
/usr/bin/python3 - "$tmp/straight.csv" "$out" <<'PY' && ok || bad "the training log: $(cat "$tmp/straight.csv")"
import csv, math, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert list(rows[0]) == ["epoch", "meta_steps", "meta_loss", "eval_loss", "best_loss", "seconds"], rows[0]
assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4], rows
assert rows[0]["meta_loss"] == "" and rows[0]["meta_steps"] == "0" and rows[0]["eval_loss"] == rows[0]["best_loss"]
assert all(math.isfinite(float(r["meta_loss"])) and float(r["meta_steps"]) > 0 for r in rows[1:])
best = [float(r["best_loss"]) for r in rows]
assert all(b <= a for a, b in zip(best, best[1:])) and min(float(r["eval_loss"]) for r in rows) == best[-1]
assert float(re.search(r"best evaluation loss (\S+);", sys.argv[2]).group(1)) == float("%.5g" % best[-1]), sys.argv[2]
PY
train --epochs 2 --out "$tmp/logres.ckpt" --log "$tmp/resumed.csv" &&
    train --epochs 4 --resume "$tmp/logres.ckpt" --out "$tmp/logres.ckpt" --log "$tmp/resumed.csv" && ok ||
    bad "a logged run in two halves: $(cat "$tmp/err")"
[ "$(cut -d, -f1-5 "$tmp/resumed.csv")" = "$(cut -d, -f1-5 "$tmp/straight.csv")" ] && ok ||
    bad "the resumed run's log is not the straight run's: $(cat "$tmp/resumed.csv")"
train --epochs 3 --eval-every 2 --out "$tmp/every2.ckpt" --log "$tmp/every2.csv" && ok || bad "--eval-every 2 --log"
[ "$(cut -d, -f1,4 "$tmp/every2.csv" | tr '\n' ' ')" = "epoch,eval_loss 0,$(sed -n 2p "$tmp/every2.csv" | cut -d, -f4) 1, 2,$(sed -n 4p "$tmp/every2.csv" | cut -d, -f4) 3,$(sed -n 5p "$tmp/every2.csv" | cut -d, -f4) " ] &&
    [ -n "$(sed -n 5p "$tmp/every2.csv" | cut -d, -f4)" ] && [ -n "$(sed -n 4p "$tmp/every2.csv" | cut -d, -f4)" ] && ok ||
    bad "epochs not evaluated must have an empty eval_loss: $(cat "$tmp/every2.csv")"
out=$("$HAMC" train "$spec" --task quadratic --epochs 1 --out "$tmp/nolog.ckpt" --log "$tmp/no/such/dir.csv" 2>&1)
[ $? -eq 1 ] && [ "$out" = "hamc train: $tmp/no/such/dir.csv: cannot write the training log: No such file or directory" ] &&
    [ ! -e "$tmp/nolog.ckpt" ] && ok || bad "an unwritable --log: $out"

# SIGINT: the process stops at an unroll boundary; the checkpoint is whole.
"$HAMC" train "$spec" --task quadratic --epochs 100000 --runs-per-epoch 5 --eval-runs 5 \
    --out "$tmp/int.ckpt" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do [ -s "$tmp/int.ckpt" ] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
status=$?
[ "$status" -eq 130 ] && ok || bad "interrupted train exited $status, expected 130"
"$HAMC" run "$spec" --task quadratic --runs 5 --params "$tmp/int.ckpt" >/dev/null 2>&1 && ok || bad "checkpoint of the interrupted run does not load"
ls "$tmp" | grep -q 'tmp\.' && bad "temp files left behind" || ok

# Refusals: one line, exit 1.
printf 'not a checkpoint' > "$tmp/junk.ckpt"
out=$("$HAMC" run "$spec" --task quadratic --runs 5 --params "$tmp/junk.ckpt" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "junk.ckpt" && ok || bad "junk checkpoint: $out"
head -c 100 "$tmp/straight.ckpt" > "$tmp/cut.ckpt"
out=$("$HAMC" train "$spec" --task quadratic --epochs 5 --resume "$tmp/cut.ckpt" --out "$tmp/x.ckpt" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "truncated" && ok || bad "truncated checkpoint: $out"
out=$("$HAMC" run "$root/stdlib/phnn.ham" --task quadratic --runs 5 --params "$tmp/straight.ckpt" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "phnn_small" && ok || bad "mismatched spec: $out"

# The learned params are used: they beat the untrained ones on the same tasks.
trained=$("$HAMC" run "$spec" --task quadratic --runs 200 --params "$tmp/straight.ckpt" --json | tail -1)
fresh=$("$HAMC" run "$spec" --task quadratic --runs 200 --json | tail -1)
t=$(echo "$trained" | sed 's/.*"final_mean": \([^,]*\),.*/\1/')
f=$(echo "$fresh" | sed 's/.*"final_mean": \([^,]*\),.*/\1/')
awk -v t="$t" -v f="$f" 'BEGIN { exit !(t < f) }' && ok || bad "trained final loss $t is not below untrained $f"
# Hyper values given at training time travel with the checkpoint.
train --epochs 1 --out-mul 0.5 --out "$tmp/mul.ckpt" && ok || bad "training with --out-mul"
a=$("$HAMC" run "$spec" --task quadratic --runs 20 --params "$tmp/mul.ckpt" --json 2>/dev/null | tail -1)
b=$("$HAMC" run "$spec" --task quadratic --runs 20 --params "$tmp/mul.ckpt" --set out_mul=0.5 --json 2>/dev/null | tail -1)
c=$("$HAMC" run "$spec" --task quadratic --runs 20 --params "$tmp/mul.ckpt" --set out_mul=0.001 --json 2>/dev/null | tail -1)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ] && ok || bad "the checkpoint's out_mul is not applied (or --set does not win)"
# A temporary file left by a killed writer (its PID gone) is removed by the next write
# of the same checkpoint; one of a live process is left alone.
sh -c 'exit 0' & dead=$!
wait "$dead"
: >"$tmp/stale.ckpt.tmp.$dead"
: >"$tmp/stale.ckpt.tmp.$$"
train --epochs 1 --out "$tmp/stale.ckpt" && ok || bad "training next to stale temporary files"
[ ! -e "$tmp/stale.ckpt.tmp.$dead" ] && ok || bad "the dead writer's stale.ckpt.tmp.$dead is still there"
[ -e "$tmp/stale.ckpt.tmp.$$" ] && ok || bad "a live process's temporary file was removed"
# --json stays JSON when the task's text has quotes and backslashes (a data path).
if [ -f "$root/data/mnist/train-images-idx3-ubyte" ]; then
    odd="$tmp/da\\ta\"dir\""
    mkdir -p "$odd" && ln -s "$root"/data/mnist/* "$odd/"
    "$HAMC" run "$root/stdlib/sgd.ham" --task "mnist data=$odd" --runs 2 --steps 2 --json 2>/dev/null | tail -1 |
        /usr/bin/python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); sys.exit(0 if d["task"].endswith("\"dir\"") else 1)' &&
        ok || bad "run --json with a quote and a backslash in the task text is not valid JSON"
fi
summary
