#!/usr/bin/env bash
# cli_check.sh: the hamc driver from the outside: check, fmt, help and exit statuses.
#
#   - every stdlib/*.ham and examples/*.ham (whatever exists now) passes `hamc check`;
#   - `hamc fmt` is a fixed point on its own output (fmt(fmt(x)) == fmt(x)), and what
#     it prints checks clean; on every golden file that fmt accepts (no syntax
#     errors), fmt is a fixed point too, and the formatted file draws the same
#     diagnostics (messages, not positions) as the original;
#   - comments survive fmt, and `fmt -i` rewrites a file atomically (a new inode,
#     no temp file left; a file with errors is left alone);
#   - exit status 2 for usage errors, 1 for a missing file (with a one-line message);
#     `--version` (with the OpenBLAS kernels), `help` and `help check` work, and
#     `help env` lists every environment variable the sources read.
#
# Failures go to stderr; the last line of stdout is `N passed, N failed`, and the exit
# status is 1 if anything failed.  Environment: HAMC, the absolute path of hamc
# (default ../../bin/hamc beside this script).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${HAMC:=$root/bin/hamc}"
export LC_ALL=C

pass=0 fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() {   # NAME WHY [FILE]: one failure, with the start of FILE (the output) if given
    fail=$((fail + 1))
    {
        echo "FAIL $1: $2"
        [ $# -ge 3 ] && [ -f "$3" ] && head -n 8 "$3" | sed 's/^/    | /'
    } >&2
}

# hamc ARGS...: run hamc with a timeout; stdout in $tmp/out, stderr in $tmp/err, the
# status in $status.
hamc() {
    (timeout 20 "$HAMC" "$@" >"$tmp/out" 2>"$tmp/err"; exit $?) 2>/dev/null
    status=$?
}

# expect_status NAME WANT: the last hamc run exited WANT.
expect_status() {
    if [ "$status" -eq "$2" ]; then ok; else bad "$1" "exit status $status, expected $2" "$tmp/err"; fi
}

# messages FILE: the diagnostics hamc printed, without paths and positions, sorted.
messages() {
    sed -n 's/^.*:[0-9]*:[0-9]*: \(error\|warning\): /\1: /p' "$1" | sort
}

# ---- the stdlib and the examples check, and fmt is a fixed point on them ----

specs=()
for f in "$root"/stdlib/*.ham "$root"/examples/*.ham; do [ -f "$f" ] && specs+=("$f"); done
# The formatted copies go in copies of their directories, so that relative imports
# resolve, and they are checked against the copy of the stdlib (the real prelude and
# its formatted copy would define every def twice).
for d in stdlib examples; do
    mkdir -p "$tmp/spec/$d"
    cp "$root/$d"/*.ham "$tmp/spec/$d"/ 2>/dev/null
done
for f in "${specs[@]}"; do
    name=${f#"$root"/}
    hamc check "$f"
    expect_status "check $name" 0
    dir="$tmp/spec/$(basename "$(dirname "$f")")"
    hamc fmt "$f"
    if [ "$status" -ne 0 ]; then bad "fmt $name" "exit status $status" "$tmp/err"; continue; fi
    cp "$tmp/out" "$dir/$(basename "$f")"
    hamc fmt "$dir/$(basename "$f")"
    if [ "$status" -eq 0 ] && cmp -s "$tmp/out" "$dir/$(basename "$f")"; then ok
    else bad "fmt $name is not a fixed point" "status $status" "$tmp/err"; fi
    HAM_STDLIB="$tmp/spec/stdlib" hamc check "$dir/$(basename "$f")"
    expect_status "check (fmt $name)" 0
done
[ ${#specs[@]} -gt 0 ] || bad "stdlib" "no stdlib/*.ham found"

# ---- golden files: fmt where it applies, and the same diagnostics after it ----

for f in "$root"/tests/golden/*.ham; do
    [ -f "$f" ] || continue
    name=${f#"$root"/}
    hamc fmt "$f"
    [ "$status" -eq 0 ] || continue   # syntax errors: nothing to format
    cp "$tmp/out" "$tmp/golden.ham"
    hamc fmt "$tmp/golden.ham"
    if [ "$status" -eq 0 ] && cmp -s "$tmp/out" "$tmp/golden.ham"; then ok
    else bad "fmt $name is not a fixed point" "status $status" "$tmp/err"; fi
    (cd "$(dirname "$f")" && timeout 20 "$HAMC" check "$f" >/dev/null 2>"$tmp/before")
    # Relative imports are looked up beside the file: format into the same directory
    # name under tmp, with the golden files' neighbours absent (none import each other).
    (cd "$tmp" && timeout 20 "$HAMC" check "$tmp/golden.ham" >/dev/null 2>"$tmp/after")
    if cmp -s <(messages "$tmp/before") <(messages "$tmp/after"); then ok
    else
        bad "fmt $name changes its diagnostics" "before < > after"
        diff <(messages "$tmp/before") <(messages "$tmp/after") | head -n 6 | sed 's/^/    /' >&2
    fi
done

# ---- comments survive fmt ----

cat >"$tmp/comments.ham" <<'EOF'
# c1: a file header
#c2: no space after the hash

# c3: before a def
def half(x) = x / 2  # c4: after a def

# c5: before an optimizer
optimizer sgd {  # c6: after the brace
    # c7: before a declaration
    hyper lr = 0.01, mu = 0.9  # c8: after a list
    input g
    # c9: between declarations

    update = -lr * half(g) * mu  # c10: after the update
    # c11: before the closing brace
}
# c12: at the end
EOF
hamc fmt "$tmp/comments.ham"
cp "$tmp/out" "$tmp/comments.fmt"
expect_status "fmt with comments" 0
for c in c1 c2 c3 c4 c5 c6 c7 c8 c9 c10 c11 c12; do
    n=$(grep -c "#.*\\b$c:" "$tmp/comments.fmt")
    if [ "$n" -eq 1 ]; then ok; else bad "comment $c after fmt" "found $n times" "$tmp/comments.fmt"; fi
done
grep -q 'def half(x) = x / 2  # c4' "$tmp/comments.fmt" && ok || bad "trailing comment c4 stays on its line" "" "$tmp/comments.fmt"
grep -q 'update = -lr \* half(g) \* mu  # c10' "$tmp/comments.fmt" && ok || bad "trailing comment c10 stays on its line" "" "$tmp/comments.fmt"
cp "$tmp/comments.fmt" "$tmp/comments2.ham"
hamc fmt "$tmp/comments2.ham"
cmp -s "$tmp/out" "$tmp/comments.fmt" && ok || bad "fmt with comments is a fixed point" "" "$tmp/out"

# ---- fmt -i: atomic, and only on success ----

printf 'optimizer sgd{hyper lr=0.01 input g update=-lr*g}\n' >"$tmp/inplace.ham"
hamc fmt "$tmp/inplace.ham"
cp "$tmp/out" "$tmp/inplace.want"
inode=$(stat -c %i "$tmp/inplace.ham")
hamc fmt -i "$tmp/inplace.ham"
expect_status "fmt -i" 0
[ ! -s "$tmp/out" ] && ok || bad "fmt -i prints nothing" "" "$tmp/out"
cmp -s "$tmp/inplace.ham" "$tmp/inplace.want" && ok || bad "fmt -i writes what fmt prints" "" "$tmp/inplace.ham"
[ "$(stat -c %i "$tmp/inplace.ham")" != "$inode" ] && ok || bad "fmt -i replaces the file by rename" "same inode"
leftover=$(find "$tmp" -maxdepth 1 -name 'inplace.ham?*' | head -n 1)
[ -z "$leftover" ] && ok || bad "fmt -i leaves no temp file" "$leftover"
printf 'optimizer sgd {\n    update = = 1\n}\n' >"$tmp/broken.ham"
cp "$tmp/broken.ham" "$tmp/broken.orig"
hamc fmt -i "$tmp/broken.ham"
expect_status "fmt -i on a file with errors" 1
cmp -s "$tmp/broken.ham" "$tmp/broken.orig" && ok || bad "fmt -i leaves a file with errors alone" ""

# ---- check's options and several files ----

hamc check -q "$root/stdlib/prelude.ham"
expect_status "check -q" 0
[ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ] && ok || bad "check -q prints nothing" "" "$tmp/out"
if [ -f "$root/tests/golden/warn_unused.ham" ]; then
    hamc check -w "$root/tests/golden/warn_unused.ham"
    expect_status "check -w" 0
    grep -q 'warning:' "$tmp/err" && bad "check -w hides warnings" "" "$tmp/err" || ok
fi
hamc check "$root/stdlib/prelude.ham" "$tmp/broken.ham"
expect_status "check of a good and a bad file" 1
grep -q 'prelude.ham: ok' "$tmp/out" && grep -q 'broken.ham:2:' "$tmp/err" && ok ||
    bad "check reports on every file it is given" "" "$tmp/err"

# ---- exit statuses and messages of the driver ----

for args in "check" "fmt" "bogus" "check -x $tmp/inplace.ham" "fmt -x $tmp/inplace.ham" \
            "fmt $tmp/inplace.ham $tmp/inplace.ham" "help bogus"; do
    # shellcheck disable=SC2086  # the words are the arguments
    hamc $args
    expect_status "hamc $args (usage error)" 2
    [ -s "$tmp/err" ] && ok || bad "hamc $args explains itself on stderr" ""
done

hamc check "$tmp/missing.ham"
expect_status "check of a missing file" 1
[ "$(grep -c 'error:' "$tmp/err")" -eq 1 ] && grep -q "cannot open '$tmp/missing.ham'" "$tmp/err" && ok ||
    bad "check of a missing file: one error line naming it" "" "$tmp/err"
hamc fmt "$tmp/missing.ham"
expect_status "fmt of a missing file" 1
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "cannot open '$tmp/missing.ham'" "$tmp/err" && ok ||
    bad "fmt of a missing file: one line naming it" "" "$tmp/err"

hamc --version
expect_status "hamc --version" 0
grep -Eq '^hamc [0-9]+\.[0-9]+' "$tmp/out" && ok || bad "--version prints 'hamc X.Y'" "" "$tmp/out"
grep -q '^OpenBLAS .*kernels, ' "$tmp/out" && ok || bad "--version names OpenBLAS's kernels" "" "$tmp/out"
# `hamc help env` lists every variable the sources read (HAM_SEGMENT is the tests' own;
# HOME is the REPL history's default).
hamc help env
expect_status "hamc help env" 0
for v in $(grep -rhoE 'getenv\("[A-Z_]+"\)|env_value\(envp, "[A-Z_]+"\)' "$root/compiler" "$root/runtime" |
           grep -oE '"[A-Z_]+"' | tr -d '"' | sort -u); do
    case $v in HAM_SEGMENT | HOME | LD_PRELOAD | HAM_BLAS_CHOSEN) continue ;; esac
    grep -q "^  $v=" "$tmp/out" && ok || bad "hamc help env does not list $v" "" "$tmp/out"
    nenv=$((${nenv:-0} + 1))
done
[ "${nenv:-0}" -ge 10 ] && ok || bad "help env: only ${nenv:-0} variables found in the sources (the grep broke?)"
hamc help
expect_status "hamc help" 0
grep -q 'check' "$tmp/out" && grep -q 'fmt' "$tmp/out" && ok || bad "help lists check and fmt" "" "$tmp/out"
hamc help check
expect_status "hamc help check" 0
grep -q 'usage: hamc check' "$tmp/out" && ok || bad "help check prints its usage" "" "$tmp/out"
# Every option that run and train parse is in their help.
{ hamc help run; cat "$tmp/out"; hamc help train; cat "$tmp/out"; } >"$tmp/help_rt" 2>&1
for o in $(grep -o '"--[a-z-]*"' "$root/compiler/cmd_runtime.c" | tr -d '"' | sort -u); do
    grep -q -- "$o" "$tmp/help_rt" && ok || bad "help run/train mention $o" "" "$tmp/help_rt"
done
# hamc alone is the REPL; off a terminal it reads its commands from stdin.
printf 'help\n' | hamc
grep -q 'load FILE' "$tmp/out" && ok || bad "hamc alone is the REPL" "" "$tmp/out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
