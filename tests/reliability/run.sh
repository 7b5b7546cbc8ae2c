#!/usr/bin/env bash
# run.sh: the bad-input matrix.  Every file hamc reads (specs, checkpoints for --params
# and --resume, MNIST idx files, REPL scripts) and every command-line option, given
# missing, empty, truncated, wrong-magic, wrong-version, wrong-spec-hash, out-of-range or
# unknown input, must be refused with the expected exit status and message.
#
# The cases are in cases.txt beside this script, one per line:
#     name | status | lines | regex | command
# status: the exit status wanted (0, 1 or 2); lines: the most lines stderr may have
# ("-": any; spec diagnostics quote the source); regex: an extended regex the output
# (stdout and stderr) must match ("-": no check); command: bash, run in a fresh subshell with
#     HAMC  the hamc under test          T     the fixtures directory (made here)
#     SPEC  a small learned spec ($T/good.ham, examples/phnn_small.ham)
#     RUN   "$HAMC run $SPEC --task quadratic --runs 2 --steps 5"
#     TRAIN "$HAMC train $SPEC --task quadratic --epochs 1 --runs-per-epoch 1 --eval-runs 1 --steps 10 --unroll 5"
# A command may print RELIABILITY-FAIL to fail its case on a side condition (a file
# left behind, say).  Each case runs under a 60 s timeout; a signal, a timeout, a wrong
# status, a missing message or an overlong stderr fails it.  Lines starting with # and
# blank lines are skipped.  Fields are separated by " | ", so a regex may use | for
# alternation (no spaces around it) and \| for a literal bar.
#
# Failures go to stderr with the output; the last line of stdout is `N passed, N
# failed`, and the exit status is 1 if anything failed.  Environment: HAMC (default
# ../../bin/hamc beside this script); HAM_STDLIB defaults to the repo's stdlib.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${HAMC:=$root/bin/hamc}"
: "${HAM_STDLIB:=$root/stdlib}"
export HAMC HAM_STDLIB LC_ALL=C ROOT=$root
export CKPT="python3 $here/ckpt.py"

# shellcheck source=fixtures.bash
. "$here/fixtures.bash"

T=$(mktemp -d "${TMPDIR:-/tmp}/ham-reliability.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
export T SPEC=$T/good.ham
export RUN="$HAMC run $SPEC --task quadratic --runs 2 --steps 5"
export TRAIN="$HAMC train $SPEC --task quadratic --epochs 1 --runs-per-epoch 1 --eval-runs 1 --steps 10 --unroll 5"

# ---- fixtures ----

fixtures() {
    # Specs.
    cp "$root/examples/phnn_small.ham" "$T/good.ham"
    : >"$T/empty.ham"
    head -c "$(($(wc -c <"$T/good.ham") * 6 / 10))" "$T/good.ham" >"$T/trunc.ham"
    awk 'BEGIN { srand(11); for (i = 0; i < 4096; i++) printf "%c", int(rand() * 256) }' >"$T/binary.ham"
    mkdir "$T/dir.ham"
    printf 'optimizer o {\n    input g\n    update = -0.1 *\0 g\n}\n' >"$T/nul.ham"
    sed 's/update = out_mul/update = -out_mul/' "$T/good.ham" >"$T/changed.ham"   # a new spec, same name
    cmp -s "$T/good.ham" "$T/changed.ham" && echo "run.sh: changed.ham did not change" >&2
    cp "$root/stdlib/sgd.ham" "$T/noparams.ham"

    # Checkpoints: one real, then one fault each.
    $TRAIN --out "$T/good.ckpt" >/dev/null 2>&1 || echo "run.sh: cannot make good.ckpt" >&2
    : >"$T/empty.ckpt"
    head -c 100 "$T/good.ckpt" >"$T/trunc.ckpt"
    head -c "$(($(wc -c <"$T/good.ckpt") - 1))" "$T/good.ckpt" >"$T/short1.ckpt"   # CRC cut
    { printf 'XAMCKPT\0'; tail -c +9 "$T/good.ckpt"; } >"$T/magic.ckpt"
    $CKPT set-version "$T/good.ckpt" "$T/version.ckpt" 99
    $CKPT set-version "$T/good.ckpt" "$T/version0.ckpt" 0
    $CKPT set-hash "$T/good.ckpt" "$T/hash.ckpt" 0123456789abcdef
    $CKPT set-param "$T/good.ckpt" "$T/nan.ckpt" 0 nan
    $CKPT set-param "$T/good.ckpt" "$T/inf.ckpt" 3 -inf
    $CKPT flip "$T/good.ckpt" "$T/flip.ckpt" 700
    mkdir "$T/dir.ckpt"

    # MNIST idx sets: tiny/ is valid (fixtures.bash); each other directory is tiny/ with
    # one fault.
    local tr=train-images-idx3-ubyte tl=train-labels-idx1-ubyte
    mktiny "$T/tiny"
    mkdir "$T/idx_none"
    mktiny "$T/idx_empty"; : >"$T/idx_empty/$tr"
    mktiny "$T/idx_trunc"; head -c 1000 "$T/tiny/$tr" >"$T/idx_trunc/$tr"
    mktiny "$T/idx_header"; head -c 10 "$T/tiny/$tr" >"$T/idx_header/$tr"
    mktiny "$T/idx_magic"; { printf 'P5\n28'; tail -c +5 "$T/tiny/$tr"; } >"$T/idx_magic/$tr"
    mktiny "$T/idx_type"; mkidx "$T/idx_type/$tr" 13 4 28 28          # float, not ubyte
    mktiny "$T/idx_dims"; mkidx "$T/idx_dims/$tr" 8 4 27 28
    mktiny "$T/idx_extra"; { cat "$T/tiny/$tr"; printf 'x'; } >"$T/idx_extra/$tr"
    mktiny "$T/idx_count"; mkidx "$T/idx_count/$tl" 8 3
    mktiny "$T/idx_label"; mkidx "$T/idx_label/$tl" 8 4; printf '\012' | dd of="$T/idx_label/$tl" bs=1 seek=10 conv=notrunc 2>/dev/null
    mktiny "$T/idx_dir"; rm "$T/idx_dir/$tr"; mkdir "$T/idx_dir/$tr"
    mktiny "$T/idx_one"; mkidx "$T/idx_one/$tr" 8 1 28 28; mkidx "$T/idx_one/$tl" 8 1
    mktiny "$T/idx_notest"; rm "$T/idx_notest/t10k-images-idx3-ubyte"
    mktiny "$T/idx_zero"; mkidx "$T/idx_zero/$tr" 8 0 28 28

    # REPL scripts.
    printf 'import sgd\nrun sgd runs=2 steps=3\n' >"$T/good.repl"
    : >"$T/empty.repl"
    mkdir "$T/dir.repl"
    printf 'frobnicate the optimizer\n' >"$T/unknown.repl"
    cp "$T/binary.ham" "$T/binary.repl"
    printf 'optimizer o {\n    input g\n    update = -0.1 * g\n' >"$T/unclosed.repl"
    printf 'load %s/nope.ham\n' "$T" >"$T/load_missing.repl"
    printf 'load %s\n' "$T/good.ckpt" >"$T/load_ckpt.repl"
    printf 'load %s\nload-params phnn_small %s\n' "$T/good.ham" "$T/flip.ckpt" >"$T/params_flip.repl"
    printf 'load %s\nload-params phnn_small %s\n' "$T/good.ham" "$T/hash.ckpt" >"$T/params_hash.repl"
    printf 'run nosuch runs=2\n' >"$T/run_unknown.repl"
    printf 'import sgd\nrun sgd runs=0\n' >"$T/runs0.repl"
    printf 'task mnist data=%s\nimport sgd\nrun sgd runs=1 steps=1\n' "$T/idx_trunc" >"$T/mnist_trunc.repl"
    printf 'import sgd\nset sgd.lr = 1e999\n' >"$T/set_inf.repl"
    mkfifo "$T/fifo"
    printf 'import sgd\nsave sgd %s\n' "$T/fifo" >"$T/save_fifo.repl"
}
fixtures

# ---- the matrix ----

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }

pass=0 fail=0 n=0
while IFS= read -r line || [ -n "$line" ]; do
    case $line in ''|'#'*) continue ;; esac
    # Fields are separated by " | " (a regex's own | has no spaces around it).
    fields=() rest=$line
    for _ in 1 2 3 4; do fields+=("$(trim "${rest%%" | "*}")"); rest=${rest#*" | "}; done
    name=${fields[0]} want=${fields[1]} lines=${fields[2]} pattern=${fields[3]} cmd=$(trim "$rest")
    n=$((n + 1))
    (cd "$T" && timeout 60 bash -c "$cmd" >"$T/.out" 2>"$T/.err" </dev/null; exit $?) 2>/dev/null
    status=$?
    nerr=$(wc -l <"$T/.err")
    why=""
    if [ "$status" -eq 124 ]; then why="timed out after 60 s"
    elif [ "$status" -gt 128 ]; then why="killed by signal $((status - 128))"
    elif [ "$status" -ne "$want" ]; then why="exit status $status, expected $want"
    elif [ "$lines" != "-" ] && [ "$nerr" -gt "$lines" ]; then why="$nerr lines on stderr, at most $lines expected"
    elif [ "$pattern" != "-" ] && ! cat "$T/.out" "$T/.err" | grep -Eq -- "$pattern"; then why="output lacks /$pattern/"
    elif cat "$T/.out" "$T/.err" | grep -q RELIABILITY-FAIL; then why="side condition failed"
    fi
    if [ -z "$why" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        { echo "FAIL [$name]: $why"; echo "    \$ $cmd"
          cat "$T/.err" "$T/.out" | head -n 8 | cut -c1-300 | sed 's/^/    | /'; } >&2
    fi
done <"$here/cases.txt"

[ "$n" -ge 40 ] || { echo "run.sh: only $n cases in cases.txt" >&2; fail=$((fail + 1)); }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
