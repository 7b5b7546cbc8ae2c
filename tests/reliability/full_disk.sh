#!/usr/bin/env bash
# full_disk.sh: output that cannot be written.  Every writer of hamc (run's --csv,
# --finals and standard output, train's --out, emit-c's -o and standard output, the
# REPL's save) must fail with one clear line and a nonzero exit when the write fails,
# and leave no partial file: a checkpoint or C file is either the old one or the new
# one, and no temp file stays behind.
#
# Failures come from /dev/full (ENOSPC on every write), from a file-size limit
# (`ulimit -f` with SIGXFSZ ignored: EFBIG past the limit, which works for any user on
# any filesystem), a missing directory, a FIFO and, when root, a private copy of the
# /dev/full device node (never /dev/full itself: a writer that renamed over its path
# would replace the machine's node).  A read-only directory is tried when not root
# (root writes there anyway).  A real full filesystem (a tiny tmpfs) is in tools/soak.sh.
#
# Last line: `N passed, N failed`; exit status 1 if any failed.  Environment: HAMC.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${HAMC:=$root/bin/hamc}"
export HAM_STDLIB=${HAM_STDLIB:-$root/stdlib} LC_ALL=C
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-disk.XXXXXX") || exit 1
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
spec=$root/examples/phnn_small.ham
run=("$HAMC" run "$spec" --task quadratic --runs 3 --steps 10)
train=("$HAMC" train "$spec" --task quadratic --epochs 1 --runs-per-epoch 2 --eval-runs 2 --steps 10 --unroll 5)

# expect NAME STATUS REGEX CMD...: CMD exits STATUS, its stderr is one line matching REGEX.
expect() {
    local name=$1 want=$2 re=$3
    shift 3
    ("$@" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
    local status=$?
    if [ "$status" -ne "$want" ]; then bad "$name: exit status $status, expected $want: $(head -c 300 "$tmp/err")"
    elif [ "$(wc -l <"$tmp/err")" -ne 1 ]; then bad "$name: stderr is not one line: $(head -c 300 "$tmp/err")"
    elif ! grep -Eq -- "$re" "$tmp/err"; then bad "$name: stderr lacks /$re/: $(cat "$tmp/err")"
    else ok
    fi
}
no_temps() { ls -A "$1" | grep -q '\.tmp' && bad "$2: temp file left: $(ls -A "$1")" || ok; }
limited() { (trap '' XFSZ; ulimit -f 2; "$@"); }   # writes past 2 KiB fail with EFBIG

if [ -c /dev/full ]; then
    expect "run --csv /dev/full" 1 "^hamc run: error writing /dev/full: No space left on device$" "${run[@]}" --csv /dev/full
    expect "run --finals /dev/full" 1 "^hamc run: error writing /dev/full: No space left on device$" "${run[@]}" --finals /dev/full
    expect "run --json >/dev/full" 1 "^hamc: error: cannot write the standard output: No space left on device$" sh -c '"$@" --json >/dev/full' sh "${run[@]}"
    expect "run table >/dev/full" 1 "cannot write the standard output: No space left on device" sh -c '"$@" >/dev/full' sh "${run[@]}"
    expect "check >/dev/full" 1 "cannot write the standard output" sh -c '"$0" check "$1" >/dev/full' "$HAMC" "$spec"
    expect "derive >/dev/full" 1 "cannot write the standard output" sh -c '"$0" derive "$1" >/dev/full' "$HAMC" "$spec"
    expect "fmt >/dev/full" 1 "cannot write the standard output" sh -c '"$0" fmt "$1" >/dev/full' "$HAMC" "$spec"
    expect "emit-c >/dev/full" 1 "cannot write the standard output" sh -c '"$0" emit-c "$1" >/dev/full' "$HAMC" "$spec"
    expect "run-script >/dev/full" 1 "cannot write the standard output" sh -c '"$0" run-script "$1" >/dev/full' "$HAMC" "$root/tests/fuzz/script/session_basics.repl"
    [ -c /dev/full ] && ok || bad "/dev/full is no longer a device"
else
    echo "skipped: /dev/full is not a character device here"
fi

# Non-regular targets are refused before anything is written, and stay what they were.
mkfifo "$tmp/fifo"
expect "train --out FIFO" 1 "fifo: not a regular file" "${train[@]}" --out "$tmp/fifo"
expect "emit-c -o FIFO" 1 "fifo: not a regular file" "$HAMC" emit-c "$spec" -o "$tmp/fifo"
[ -p "$tmp/fifo" ] && ok || bad "the FIFO was replaced"
if [ "$(id -u)" -eq 0 ] && mknod -m 666 "$tmp/full" c 1 7 2>/dev/null; then
    expect "train --out a char device" 1 "full: not a regular file" "${train[@]}" --out "$tmp/full"
    expect "emit-c -o a char device" 1 "full: not a regular file" "$HAMC" emit-c "$spec" -o "$tmp/full"
    printf 'import sgd\nsave sgd %s\n' "$tmp/full" >"$tmp/save.repl"
    ("$HAMC" run-script "$tmp/save.repl" >/dev/null 2>"$tmp/err"; exit $?) 2>/dev/null
    [ $? -eq 1 ] && grep -q "not a regular file" "$tmp/err" && ok || bad "REPL save onto a char device: $(cat "$tmp/err")"
    [ -c "$tmp/full" ] && ok || bad "the device node was replaced"
else
    echo "skipped: char-device targets (needs root for mknod)"
fi

# A missing directory: train fails before the first epoch, with nothing on stdout.
expect "train --out in a missing dir" 1 "cannot create .*nodir/x\.ckpt\.tmp\.[0-9]+: No such file or directory" \
    "${train[@]}" --epochs 1000000 --out "$tmp/nodir/x.ckpt"
[ -s "$tmp/out" ] && bad "train --out in a missing dir trained first: $(cat "$tmp/out")" || ok
expect "run --csv in a missing dir" 1 "cannot write .*nodir/c\.csv: No such file or directory" "${run[@]}" --csv "$tmp/nodir/c.csv"
expect "emit-c -o in a missing dir" 1 "cannot write .*nodir/x\.c\.tmp: No such file or directory" "$HAMC" emit-c "$spec" -o "$tmp/nodir/x.c"

# A write that fails half way (file-size limit): no checkpoint, no temp file; an existing
# checkpoint stays as it was, byte for byte.
mkdir "$tmp/lim"
expect "train --out past the size limit" 1 "lim/x\.ckpt: cannot write .*: File too large" limited "${train[@]}" --out "$tmp/lim/x.ckpt"
[ -e "$tmp/lim/x.ckpt" ] && bad "a partial checkpoint was left" || ok
"${train[@]}" --out "$tmp/lim/old.ckpt" >/dev/null 2>&1 || bad "cannot make a checkpoint"
cp "$tmp/lim/old.ckpt" "$tmp/old.copy"
expect "train over a checkpoint past the size limit" 1 "File too large" limited "${train[@]}" --epochs 3 --resume "$tmp/lim/old.ckpt" --out "$tmp/lim/old.ckpt"
cmp -s "$tmp/lim/old.ckpt" "$tmp/old.copy" && ok || bad "the old checkpoint changed after a failed write"
expect "emit-c -o past the size limit" 1 "cannot write .*lim/x\.c\.tmp: File too large" limited "$HAMC" emit-c "$spec" -o "$tmp/lim/x.c"
[ -e "$tmp/lim/x.c" ] && bad "a partial C file was left" || ok
expect "run --csv past the size limit" 1 "error writing .*lim/c\.csv: File too large" limited "$HAMC" run "$spec" --task quadratic --runs 3 --steps 300 --csv "$tmp/lim/c.csv"
printf 'import sgd\nsave sgd %s\n' "$tmp/lim/s.ckpt" >"$tmp/save2.repl"
(limited "$HAMC" run-script "$tmp/save2.repl" >/dev/null 2>&1) && ok || bad "REPL save of a small checkpoint under the limit"
no_temps "$tmp/lim" "size limit"

# A read-only directory (root ignores the mode: tried only as another user).
mkdir "$tmp/ro"
chmod 555 "$tmp/ro"
if [ "$(id -u)" -ne 0 ]; then
    expect "train --out in a read-only dir" 1 "ro/x\.ckpt: cannot create .*: Permission denied" "${train[@]}" --out "$tmp/ro/x.ckpt"
    [ -z "$(ls -A "$tmp/ro")" ] && ok || bad "files left in the read-only dir"
else
    echo "skipped: read-only directory (running as root)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
