#!/usr/bin/env bash
# train_imitate.sh: `hamc train SPEC --imitate CKPT`, meta-training a student to
# reproduce a trained teacher's updates on the teacher's own runs (compiler/teacher.h,
# runtime/batch.h's META_LOSS_IMITATE):
#   - the teacher's own optimizer started from its checkpoint (--init) imitates it
#     exactly: meta-loss 0 in the log, every epoch;
#   - a fresh student learns: the imitation meta-loss falls well below its first epoch's,
#     and the student's final losses move toward the teacher's;
#   - the checkpoint remembers the meta-loss: resuming without the teacher is refused,
#     with it the run goes on;
#   - refused with one line and a nonzero exit: a missing or corrupt teacher, --meta-loss
#     imitate without a teacher (usage), another meta-loss or the exact meta-gradient
#     with one.
. "$(dirname "$0")/../cli_common.sh" imitate
spec=$root/examples/phnn_small.ham
run_final() {   # run_final SPEC CKPT: the mean final loss on 30 fixed quadratics
    "$HAMC" run "$1" --params "$2" --task quadratic --runs 30 --steps 60 --seed 11 --json 2>"$tmp/err" |
        tail -n 1 | /usr/bin/python3 -c 'import json, sys; print(repr(json.loads(sys.stdin.read())["final_mean"]))'
}
column() {   # column CSV NAME: that column of a training log, one value a line (epochs 1..)
    /usr/bin/python3 -c 'import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    if row["epoch"] != "0": print(row[sys.argv[2]])' "$1" "$2"
}
"$HAMC" train "$spec" --task quadratic --epochs 4 --runs-per-epoch 10 --eval-runs 10 --seed 3 \
    --out "$tmp/teacher.ckpt" >/dev/null 2>"$tmp/err" && ok || bad "training the teacher: $(cat "$tmp/err")"

# Itself, from its own params: nothing to learn, the distance is exactly 0.
"$HAMC" train "$spec" --task quadratic --imitate "$tmp/teacher.ckpt" --init "$tmp/teacher.ckpt" --epochs 2 \
    --runs-per-epoch 3 --eval-runs 5 --out "$tmp/self.ckpt" --log "$tmp/self.csv" >"$tmp/out" 2>"$tmp/err" &&
    ok || bad "imitating itself: $(cat "$tmp/err")"
grep -q "^imitating 'phnn_small' (42 params, from .*teacher.ckpt)$" "$tmp/out" && ok || bad "the report line: $(cat "$tmp/out")"
[ "$(column "$tmp/self.csv" meta_loss | sort -u)" = "0" ] && ok || bad "self-imitation's meta-loss: $(cat "$tmp/self.csv")"

# A fresh student (its initializers, another seed) learns the teacher's updates.
"$HAMC" train "$spec" --task quadratic --imitate "$tmp/teacher.ckpt" --epochs 8 --runs-per-epoch 10 --eval-runs 10 \
    --meta-lr 0.01 --seed 5 --out "$tmp/student.ckpt" --log "$tmp/student.csv" >/dev/null 2>"$tmp/err" &&
    ok || bad "imitating: $(cat "$tmp/err")"
column "$tmp/student.csv" meta_loss >"$tmp/ml"
first=$(head -n 1 "$tmp/ml") last=$(tail -n 1 "$tmp/ml")
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a > 0 && b < 0.5 * a) }' && ok ||
    bad "the imitation meta-loss did not fall to half: $(tr '\n' ' ' <"$tmp/ml")"
# The student's last params (not its best by evaluation) sit nearer the teacher's
# losses than its untrained start does.
"$HAMC" train "$spec" --task quadratic --epochs 0 --seed 5 --out "$tmp/start.ckpt" >/dev/null 2>&1
teach=$(run_final "$spec" "$tmp/teacher.ckpt") start=$(run_final "$spec" "$tmp/start.ckpt")
/usr/bin/python3 "$root/tests/reliability/ckpt.py" drop "$tmp/student.ckpt" "$tmp/last.ckpt" BEST 2>"$tmp/err"
learned=$(run_final "$spec" "$tmp/last.ckpt")
[ -n "${TEST_VERBOSE:-}" ] && echo "teacher $teach start $start learned $learned; meta-loss $(tr "\n" " " <"$tmp/ml")" >&2
awk -v t="$teach" -v s="$start" -v l="$learned" 'BEGIN { d0 = t - s; d1 = t - l; exit !(d1 * d1 < d0 * d0) }' && ok ||
    bad "the student's losses did not move toward the teacher's: teacher $teach, start $start, learned $learned"

# Resuming: the checkpoint says it was trained by imitation.
"$HAMC" train "$spec" --task quadratic --resume "$tmp/student.ckpt" --epochs 9 --out "$tmp/student.ckpt" \
    >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "student.ckpt: trained by imitation; .*--imitate CKPT" "$tmp/err" &&
    ok || bad "resuming without the teacher: exit $rc, $(cat "$tmp/err")"
"$HAMC" train "$spec" --task quadratic --resume "$tmp/student.ckpt" --imitate "$tmp/teacher.ckpt" --epochs 9 \
    --out "$tmp/student.ckpt" --log "$tmp/student.csv" >/dev/null 2>"$tmp/err" && [ "$(column "$tmp/student.csv" epoch | tail -n 1)" = 9 ] &&
    ok || bad "resuming with the teacher: $(cat "$tmp/err")"

refused() {   # refused WHAT STATUS PATTERN [train options]: exit STATUS, one stderr line matching PATTERN
    local what=$1 status=$2 pattern=$3
    shift 3
    "$HAMC" train "$spec" --task quadratic --epochs 1 --out "$tmp/x.ckpt" "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    [ $rc -eq "$status" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$pattern" "$tmp/err" && [ ! -e "$tmp/x.ckpt" ] &&
        ok || bad "$what: exit $rc, $(cat "$tmp/err")"
}
refused "a missing teacher" 1 "$tmp/none.ckpt" --imitate "$tmp/none.ckpt"
head -c 100 "$tmp/teacher.ckpt" >"$tmp/cut.ckpt"
refused "a truncated teacher" 1 "cut.ckpt" --imitate "$tmp/cut.ckpt"
refused "--meta-loss imitate" 2 "set by --imitate CKPT" --meta-loss imitate
refused "another meta-loss with a teacher" 1 "--meta-loss log does not go with a teacher" --imitate "$tmp/teacher.ckpt" --meta-loss log
refused "the exact meta-gradient with a teacher" 1 "--meta-grad exact does not apply" --imitate "$tmp/teacher.ckpt" --meta-grad exact
summary
