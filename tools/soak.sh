#!/usr/bin/env bash
# soak.sh SECONDS: the long reliability runs behind `make soak` (minutes, not part of
# `make test`).
#
#   1. valgrind memcheck on a scripted REPL session (examples/learned_scale.repl: define,
#      run, train, compare, plot, save, emit-c; then the error paths of
#      tests/fuzz/script/*.repl with --keep-going), on a short meta-training
#      (hamc train stdlib/seed_hnn.ham --task quadratic, 3 epochs), and on a run and a
#      training on a miniature MNIST.  Any memcheck error or definitely/indirectly lost
#      block fails (--error-exitcode).  No suppression file is used: with LLVM 14's ORC
#      JIT memcheck reports nothing here, so there is no LLVM noise to hide; if a future
#      LLVM needs one, it belongs in tools/valgrind.supp, LLVM-internal frames only, and
#      is picked up from there.
#   2. kill -9 at KILLS (default 20) random moments of `hamc train` (a fixed random seed,
#      SOAK_SEED; each attempt resumes the last and is killed within its start-up time
#      plus 2/KILLS of the training time, so the kills spread over the run): after each kill the checkpoint, if there is one yet, must be whole
#      (tests/reliability/ckpt.py: framing, CRC, finite params) and load with
#      `hamc run --params`; the next attempt resumes from it.  At the end the run is
#      finished with --resume and its checkpoint must equal, byte for byte, that of an
#      uninterrupted run with the same seed and thread count.
#   3. a real full disk, when root may mount a 1 MiB tmpfs: train --out and run --csv
#      there fail with "No space left on device", the old checkpoint stays intact and
#      no temp file is left.  Skipped (and said so) otherwise.
#   4. the libFuzzer targets for SECONDS each (tools/fuzz.sh SECONDS).
#
# Output: a line per check, then `N passed, N failed`; exit status 1 if any failed.
# Environment: HAMC (default bin/hamc), KILLS, SOAK_SEED, VALGRIND (default valgrind),
# SOAK_PARTS (default "valgrind kill disk fuzz": the parts to run).
set -u

SECONDS_EACH=${1:-60}
case $SECONDS_EACH in
    ""|*[!0-9]*|0) echo "usage: tools/soak.sh SECONDS (fuzz time per target, at least 1)" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
: "${HAMC:=$ROOT/bin/hamc}" "${KILLS:=20}" "${SOAK_SEED:=1}" "${VALGRIND:=valgrind}"
: "${SOAK_PARTS:=valgrind kill disk fuzz}"
part() { [[ " $SOAK_PARTS " == *" $1 "* ]]; }
export HAM_STDLIB=$ROOT/stdlib LC_ALL=C
CKPT=(python3 "$ROOT/tests/reliability/ckpt.py")
spec=$ROOT/examples/phnn_small.ham
. "$ROOT/tests/reliability/fixtures.bash"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-soak.XXXXXX") || exit 2
mnt=""
cleanup() { [ -n "$mnt" ] && umount "$mnt" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "soak: ok    $*"; }
bad() { fail=$((fail + 1)); echo "soak: FAIL  $*"; }

# ---- 1. valgrind memcheck ----
if ! part valgrind; then :
elif command -v "$VALGRIND" >/dev/null; then
    VG=("$VALGRIND" --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect --num-callers=40)
    [ -f "$ROOT/tools/valgrind.supp" ] && VG+=(--suppressions="$ROOT/tools/valgrind.supp")
    mktiny "$tmp/tiny"
    # vg NAME EXPECTED-STATUS CMD...: memcheck clean, and CMD's own status as expected.
    vg() {
        local name=$1 want=$2 log="$tmp/vg-$1.log"
        shift 2
        local t0=$SECONDS
        (cd "$tmp" && "${VG[@]}" --log-file="$log" "$@" >"$tmp/vg.out" 2>&1)
        local status=$? errors
        errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
        local lost
        lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -n 1)
        if [ "$status" -eq "$want" ] && [ "${errors:-x}" = 0 ]; then
            ok "valgrind $name: 0 errors, ${lost:-0} bytes definitely lost, exit $status, $((SECONDS - t0)) s"
        else
            bad "valgrind $name: exit $status (want $want), ${errors:-?} errors; see below"
            grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|.*lost in)' "$log" | head -n 20
            tail -n 5 "$tmp/vg.out"
        fi
    }
    vg repl-session 0 "$HAMC" run-script "$ROOT/examples/learned_scale.repl"
    cat "$ROOT"/tests/fuzz/script/*.repl >"$tmp/errors.repl"
    vg repl-error-paths 1 "$HAMC" run-script --keep-going "$tmp/errors.repl"
    vg train-seed_hnn 0 "$HAMC" train "$ROOT/stdlib/seed_hnn.ham" --task quadratic --epochs 3 \
        --runs-per-epoch 5 --eval-runs 5 --out "$tmp/vg.ckpt"
    vg train-resume 0 "$HAMC" train "$ROOT/stdlib/seed_hnn.ham" --task quadratic --epochs 4 \
        --runs-per-epoch 5 --eval-runs 5 --resume "$tmp/vg.ckpt" --out "$tmp/vg.ckpt"
    vg run-mnist-tiny 0 "$HAMC" run "$ROOT/stdlib/adam.ham" --task "mnist data=$tmp/tiny batch=2" --runs 3 --steps 5 --test
    vg train-faults 0 "$HAMC" train "$ROOT/examples/phnn_small.ham" --task "quadratic inject=nan inject_step=30" \
        --epochs 2 --runs-per-epoch 3 --eval-runs 3 --out "$tmp/vgf.ckpt"
    vg bad-checkpoint 1 "$HAMC" run "$ROOT/examples/phnn_small.ham" --task quadratic --runs 2 --params "$ROOT/stdlib/adam.ham"
else
    bad "valgrind not found (make deps installs it)"
fi

# ---- 2. kill -9 at random moments, then --resume to the end ----
if part kill; then
    args=(--task quadratic --epochs 300 --runs-per-epoch 20 --eval-runs 50 --seed 7 --threads 2)
    t0=$(date +%s%N)
    "$HAMC" train "$spec" "${args[@]}" --out "$tmp/straight.ckpt" >/dev/null 2>"$tmp/err" || bad "uninterrupted training: $(cat "$tmp/err")"
    ms=$((($(date +%s%N) - t0) / 1000000))
    # Each attempt is killed at a random moment within its start-up (compile, checks,
    # reading the checkpoint) plus 2 / KILLS of the training time, so that the kills
    # spread over the whole run (start-up, epochs, checkpoint writes) rather than the run
    # finishing after a few long attempts.
    t0=$(date +%s%N)
    "$HAMC" train "$spec" "${args[@]}" --epochs 0 --out "$tmp/startup.ckpt" >/dev/null 2>&1
    startup=$((($(date +%s%N) - t0) / 1000000))
    window=$((startup + 2 * (ms - startup) / KILLS))
    [ "$window" -lt 50 ] && window=50
    RANDOM=$SOAK_SEED
    kills=0 whole=0 partial_tmp=0 epochs=""
    for i in $(seq "$KILLS"); do
        resume=()
        [ -f "$tmp/killed.ckpt" ] && resume=(--resume "$tmp/killed.ckpt")
        "$HAMC" train "$spec" "${args[@]}" ${resume[@]+"${resume[@]}"} --out "$tmp/killed.ckpt" >/dev/null 2>&1 &
        pid=$!
        delay=$((RANDOM % window))
        sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
        if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
        wait "$pid" 2>/dev/null
        if ls "$tmp" | grep -q '^killed\.ckpt\.tmp\.'; then   # killed mid-write: the temp file is junk
            partial_tmp=$((partial_tmp + 1))
            rm -f "$tmp"/killed.ckpt.tmp.*
        fi
        if [ -f "$tmp/killed.ckpt" ]; then
            if "${CKPT[@]}" check "$tmp/killed.ckpt" >"$tmp/ck" 2>&1 &&
               "$HAMC" run "$spec" --task quadratic --runs 2 --params "$tmp/killed.ckpt" >/dev/null 2>&1; then
                whole=$((whole + 1))
                epochs+=" $("${CKPT[@]}" epoch "$tmp/killed.ckpt" | cut -d' ' -f1)"
            else
                bad "kill $i after ${delay} ms left a bad checkpoint: $(cat "$tmp/ck")"
            fi
        else
            whole=$((whole + 1)) epochs+=" -"   # killed before the first epoch ended: nothing yet
        fi
    done
    "$HAMC" train "$spec" "${args[@]}" --resume "$tmp/killed.ckpt" --out "$tmp/killed.ckpt" >/dev/null 2>"$tmp/err" \
        || bad "the final resume: $(cat "$tmp/err")"
    [ "$kills" -eq "$KILLS" ] && ok "kill -9: $kills kills, each within ${window} ms of its start (uninterrupted run ${ms} ms, start-up ${startup} ms; epoch on disk after each:$epochs)" \
        || bad "kill -9: only $kills of $KILLS processes were still running when killed (runs too short?)"
    [ "$whole" -eq "$KILLS" ] && ok "kill -9: the checkpoint was whole after every kill ($partial_tmp kills landed mid-write, leaving only a temp file)" \
        || bad "kill -9: $((KILLS - whole)) kills left a bad checkpoint"
    cmp -s "$tmp/straight.ckpt" "$tmp/killed.ckpt" && ok "kill -9: resumed to the end, byte for byte the uninterrupted run's checkpoint" \
        || bad "kill -9: the resumed run's checkpoint differs from the uninterrupted one"
fi

# ---- 3. a real full disk (tmpfs) ----
if ! part disk; then :
elif [ "$(id -u)" -eq 0 ] && mkdir "$tmp/mnt" && mount -t tmpfs -o size=1m tmpfs "$tmp/mnt" 2>/dev/null; then
    mnt=$tmp/mnt
    small=(--task quadratic --epochs 1 --runs-per-epoch 2 --eval-runs 2 --steps 10 --unroll 5)
    "$HAMC" train "$spec" "${small[@]}" --out "$mnt/old.ckpt" >/dev/null 2>&1
    cp "$mnt/old.ckpt" "$tmp/old.copy"
    dd if=/dev/zero of="$mnt/fill" bs=4k >/dev/null 2>&1   # until the disk is full
    out=$("$HAMC" train "$spec" "${small[@]}" --epochs 2 --resume "$mnt/old.ckpt" --out "$mnt/old.ckpt" 2>&1 >/dev/null)
    status=$?
    if [ "$status" -eq 1 ] && echo "$out" | grep -q "No space left on device" && cmp -s "$mnt/old.ckpt" "$tmp/old.copy" &&
       ! ls "$mnt" | grep -q '\.tmp'; then
        ok "full tmpfs: train --out fails ($out), old checkpoint intact, no temp file"
    else
        bad "full tmpfs: train --out: status $status: $out"
    fi
    out=$("$HAMC" run "$spec" --task quadratic --runs 100 --csv "$mnt/c.csv" 2>&1 >/dev/null)
    [ $? -eq 1 ] && echo "$out" | grep -q "No space left on device" && ok "full tmpfs: run --csv fails ($out)" \
        || bad "full tmpfs: run --csv: $out"
    umount "$mnt" && mnt=""
else
    echo "skipped: a real full disk (needs root and mount -t tmpfs)"
fi

# ---- 4. the fuzzers ----
if part fuzz; then
    if tools/fuzz.sh "$SECONDS_EACH" >"$tmp/fuzz.log" 2>&1; then
        ok "fuzz, ${SECONDS_EACH} s per target:"
    else
        bad "fuzz, ${SECONDS_EACH} s per target (build/fuzz/artifacts holds the reproducers):"
    fi
    sed -n '/^---- fuzz summary/,$p' "$tmp/fuzz.log" | tail -n +2 | sed 's/^/        /'
    grep -q '^---- fuzz summary' "$tmp/fuzz.log" || tail -n 5 "$tmp/fuzz.log"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
