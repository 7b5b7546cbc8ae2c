#!/usr/bin/env bash
# repl_script.sh: the REPL driven through stdin and run-script, checked by key lines.
#
#   - an optimizer typed over several lines is defined, shown and run;
#   - a syntax error prints its diagnostic and the next command works (the session and
#     its definitions survive); an unknown command is one line;
#   - set NAME.HYPER, run with few runs (the table of `hamc run`), compare two stdlib
#     optimizers (one table), train a tiny learned optimizer 1 epoch, plot to a PNG and
#     an SVG, save / load-params, emit-c (the file compiles with cc -c), redefinition;
#   - run-script stops at the first error with status 1, --keep-going does not.
#
# Failures go to stderr; the last line of stdout is `N passed, N failed`.
# Environment: HAMC (default ../../bin/hamc beside this script).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${HAMC:=$root/bin/hamc}"
export LC_ALL=C HAM_HISTORY=/dev/null

pass=0 fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-repl.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

ok() { pass=$((pass + 1)); }
bad() {   # NAME WHY: one failure, with the end of the session's output
    fail=$((fail + 1))
    {
        echo "FAIL $1: $2"
        tail -n 12 "$tmp/out" "$tmp/err" 2>/dev/null | sed 's/^/    | /'
    } >&2
}

# session: stdin -> hamc (no arguments); stdout in out, stderr in err, status in status.
session() {
    (timeout 120 "$HAMC" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
    status=$?
}

# has NAME FILE PATTERN: FILE has a line matching the extended regex PATTERN.
has() { if grep -Eq -- "$3" "$tmp/$2"; then ok; else bad "$1" "no line matching '$3' in $2"; fi; }
hasnt() { if grep -Eq -- "$3" "$tmp/$2"; then bad "$1" "a line matches '$3' in $2"; else ok; fi; }

session <<'SCRIPT'
# a comment line, then an optimizer over several lines
optimizer mysgd {
    hyper lr = 0.05
    input g
    update = -lr *
        g
}
show mysgd
optimizer broken {
    input g
    update = -0.1 * (g +
}
list
bogus command
set mysgd.lr = 0.02
set mysgd.nope = 1
run mysgd runs=20 steps=30
compare sgd momentum runs=20 steps=30
plot curves.png
plot curves.svg
optimizer learned {
    hyper lr = 0.01
    input g
    param a = 1
    update = -lr * a * g
}
train learned epochs=1 runs_per_epoch=2 steps=20 unroll=10 eval_runs=4
train learned epochs=1 runs_per_epoch=2 steps=20 unroll=10 eval_runs=4 meta_loss=log log=train_log.csv
train learned epochs=1 meta_loss=logs
save learned learned.ckpt
load-params learned learned.ckpt
emit-c learned learned.c
derive learned
optimizer mysgd {
    hyper lr = 0.05
    input g
    update = -2 * lr * g
}
show mysgd
help run
quit
list
SCRIPT
has "multi-line optimizer defined" out '^defined optimizer mysgd$'
has "show prints the optimizer" out '^    update = -lr \* g$'
has "syntax error diagnostic" err '^<repl>:4:1: error: '
hasnt "broken optimizer not defined" out 'defined optimizer broken'
has "list after the error still has mysgd" out '^optimizer mysgd +<repl>:1'
has "unknown command: one line" err "^error: unknown command 'bogus'"
has "set a hyper" out '^mysgd\.lr = 0\.02$'
has "set an unknown hyper" err "has no hyper 'nope'"
has "run prints the table" out '^final loss: mean .* over 20 runs'
has "run: the step column" out '^ +30 +[0-9.e+-]+ +\['
has "compare: header" out '^optimizer +final mean +95% interval +median +mean over steps$'
has "compare: sgd row" out '^sgd +[0-9.e+-]+ +\[ *[0-9.e+-]+, *[0-9.e+-]+\]'
has "compare: momentum row" out '^momentum +[0-9.e+-]+ +\['
has "plot: text plot legend" out '^ +\+ momentum$'
[ -s curves.png ] && ok || bad "plot writes a PNG" "curves.png missing or empty"
[ -s curves.svg ] && grep -q '<svg' curves.svg && ok || bad "plot writes an SVG" "curves.svg missing or not SVG"
has "train 1 epoch" out '^learned: 1 epochs, [0-9]+ meta-steps'
[ "$(grep -Ec '^learned: 1 epochs, [0-9]+ meta-steps' "$tmp/out")" -eq 2 ] && ok || bad "train with meta_loss=log" "not two trainings"
[ "$(cut -d, -f1 "$tmp/train_log.csv" 2>/dev/null | tr '\n' ' ')" = "epoch 0 1 " ] && ok ||
    bad "train log=CSV" "not a header and the rows of epochs 0 and 1: $(cat "$tmp/train_log.csv" 2>&1)"
has "train: a bad meta_loss" err "^error: train: unknown meta_loss 'logs' \\(sum, log, late or loglate\\)$"
has "save" out '^saved 1 params of learned to learned.ckpt$'
[ -s learned.ckpt ] && ok || bad "save writes a checkpoint" "learned.ckpt missing"
has "load-params" out '^loaded 1 params of learned from learned.ckpt$'
has "emit-c" out '^wrote learned.c$'
if cc -std=c99 -c learned.c -o learned.o 2>"$tmp/cc.err"; then ok; else bad "emitted C compiles" "$(head -3 "$tmp/cc.err")"; fi
has "derive" out '^a_bar = '
has "redefinition replaces" out '^redefined optimizer mysgd$'
has "the redefinition is the one shown" out '^    update = -2 \* lr \* g$'
has "help COMMAND" out '^usage: run NAME'
hasnt "quit stops reading" out '^optimizer learned +<repl>'
[ "$status" -eq 1 ] && ok || bad "piped session with errors exits 1" "status $status"

# A clean session exits 0, and `hamc repl` is the same as hamc alone.
printf 'list\n' | (timeout 60 "$HAMC" repl >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
status=$?
[ "$status" -eq 0 ] && ok || bad "hamc repl, clean session, exit 0" "status $status"
has "hamc repl runs commands" out '^task: quadratic$'

# An entry still open at the end of input reports an error, not a hang.
printf 'optimizer open {\n input g\n' | session
has "unterminated entry at EOF" err 'error'

# run-script: stop at the first error, or keep going.
cat >"$tmp/s.repl" <<'SCRIPT'
task quadratic dim=5
nosuchcommand
list
SCRIPT
(timeout 60 "$HAMC" run-script "$tmp/s.repl" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
status=$?
[ "$status" -eq 1 ] && ok || bad "run-script stops with 1 at an error" "status $status"
hasnt "run-script stopped before list" out '^stdlib:'
(timeout 60 "$HAMC" run-script --keep-going "$tmp/s.repl" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
status=$?
[ "$status" -eq 1 ] && ok || bad "run-script --keep-going still exits 1" "status $status"
has "run-script --keep-going ran list" out '^stdlib:'
(timeout 60 "$HAMC" run-script >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
[ $? -eq 2 ] && ok || bad "run-script without FILE: usage error" ""

# The examples/*.repl scripts run clean (from the repo root, for their relative paths).
# Only the top level: examples/experiments/*.repl take hours (make reproduce), so
# repl_check.sh checks them with run-script --check and runs them scaled down.
for f in "$root"/examples/*.repl; do
    [ -f "$f" ] || continue
    (cd "$tmp" && timeout 300 "$HAMC" run-script "$f" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
    status=$?
    [ "$status" -eq 0 ] && ok || bad "example $(basename "$f")" "status $status"
done

# A task that hands the optimizer a NaN gradient: run warns where, as hamc run does.
session <<'SCRIPT'
task quadratic inject=nan inject_step=3
run sgd runs=5 steps=10
SCRIPT
has "run warns of an injected NaN gradient" err '^warning: non-finite gradient from the task in 5 of 5 runs \(first: run 0, step 3 of 10, task quadratic inject=nan inject_step=3, 1 of 10 coordinates\)$'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
