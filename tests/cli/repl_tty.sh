#!/usr/bin/env bash
# repl_tty.sh: the REPL on a pseudo-terminal (util-linux `script`), keys sent with
# pauses as a person would type them:
#   - tab completion of a command (lis<TAB> -> list), of a hyper (set sgd.l<TAB>), of a
#     task's name and of its options, from the task registry (task lo<TAB>sam<TAB>);
#   - line editing: a typo fixed with Ctrl-A, Delete and Ctrl-E;
#   - multi-line entry (the "...> " prompt) defines the optimizer;
#   - Ctrl-C at the prompt drops the line; Ctrl-C during a long run stops it and the
#     next command works; an unknown command is an error and the session goes on;
#   - the history file gets the entries.
# Skipped (counted as neither passed nor failed, with a note) without `script`.
# Failures go to stderr; the last line of stdout is `N passed, N failed`.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${HAMC:=$root/bin/hamc}"
export LC_ALL=C TERM=xterm

pass=0 fail=0
if ! command -v script >/dev/null 2>&1; then
    echo "skipped: repl_tty.sh needs util-linux script"
    echo "0 passed, 0 failed"   # skipped is not passed
    exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-tty.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export HAM_HISTORY=$tmp/history
cd "$tmp" || exit 1

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    { echo "FAIL $1: $2"; tail -n 20 "$tmp/screen" | sed 's/^/    | /'; } >&2
}
# has NAME PATTERN: the session's output (escape sequences and CRs removed) has a
# line matching the extended regex.
has() { if grep -Eq -- "$2" "$tmp/screen"; then ok; else bad "$1" "no line matching '$2'"; fi; }
hasnt() { if grep -Eq -- "$2" "$tmp/screen"; then bad "$1" "a line matches '$2'"; else ok; fi; }

keys() {   # the keystrokes, with time for the REPL to react between them
    sleep 1.5
    printf 'lis\t\n'; sleep 0.6
    printf 'optimizer tty_opt {\n'; sleep 0.3
    printf '    hyper lr = 0.1\n'; sleep 0.3
    printf '    input g\n'; sleep 0.3
    printf '    update = -lr * g }\n'; sleep 0.6
    # "shwo tty_opt": to the start, delete the 4 letters, type "show", to the end.
    printf 'shwo tty_opt\001\033[3~\033[3~\033[3~\033[3~show\005\n'; sleep 0.6
    printf 'set sgd.l\t= 0.02\n'; sleep 0.8
    printf 'task lo\t'; sleep 0.4
    printf 'sam\t'; sleep 0.4
    printf '50\n'; sleep 0.8
    printf 'garbage that is dropped\003'; sleep 0.5
    printf 'nosuchcmd\n'; sleep 0.5
    printf 'run sgd runs=400000 steps=3000\n'; sleep 2
    printf '\003'; sleep 2
    printf 'run tty_opt runs=5 steps=5\n'; sleep 1.5
    printf 'quit\n'; sleep 0.5
}

# exec: hamc is script's own child, so a Ctrl-C cannot kill an intermediate shell
# (dash, as $SHELL on CI machines, dies of the SIGINT that hamc catches).
keys | timeout 60 script -qfec "exec \"$HAMC\"" /dev/null >"$tmp/raw" 2>&1
status=$?
# What a person would see, roughly: no escape sequences, no carriage returns.
sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\r//g' "$tmp/raw" >"$tmp/screen"

[ "$status" -eq 0 ] && ok || bad "session ends with quit, status 0" "status $status"
has "banner" '^ham repl: type'
has "lis<TAB> completes to list" '^ham> list $'
has "list ran" '^stdlib: '
has "continuation prompt" '^\.\.\.>     input g'
has "multi-line optimizer defined" '^defined optimizer tty_opt$'
has "edited line ran show" '^    update = -lr \* g$'
has "set sgd.l<TAB> completed to sgd.lr" '^sgd\.lr = 0\.02$'
has "task lo<TAB>sam<TAB> completed to task logistic samples=" '^task: logistic samples=50$'
hasnt "Ctrl-C dropped the typed line" "unknown command 'garbage'"
has "error after Ctrl-C at the prompt" "^error: unknown command 'nosuchcmd'"
has "Ctrl-C stops the long run" 'interrupted'
has "the run after Ctrl-C works" '^final loss: mean .* over 5 runs'
grep -q 'optimizer tty_opt {' "$tmp/history" && ok || bad "history file has the entry" "$(cat "$tmp/history" 2>/dev/null | head -5)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
