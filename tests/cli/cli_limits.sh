#!/usr/bin/env bash
# cli_limits.sh: hostile inputs to `hamc check` and `hamc fmt`, made on the fly.
#
# Each input is generated deterministically (awk with a fixed seed, no /dev/urandom)
# in a temp dir: huge flat expressions, deep nesting, random bytes, thousands of
# optimizers, def and let chains that blow up when expanded naively, huge shapes, an
# empty file, a NUL byte, a directory.  Every run must finish within 20 s, exit 0 or
# 1 (never a signal, never the usage status 2), print a bounded amount, and, when
# the test names one, say the expected thing.
#
# Failures go to stderr; the last line of stdout is `N passed, N failed`, and the
# exit status is 1 if anything failed.  Environment: HAMC, the absolute path of hamc
# (default ../../bin/hamc beside this script).
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${HAMC:=$here/../../bin/hamc}"
export LC_ALL=C

pass=0 fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-limits.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# run NAME WANT_STATUS PATTERN CMD...: run CMD under a timeout; pass when it exits with
# WANT_STATUS ("0", "1" or "0|1"), prints under 64 KiB, and its output (stdout and
# stderr) matches the extended regex PATTERN (empty: anything).
run() {
    local name=$1 want=$2 pattern=$3 status size
    shift 3
    (timeout 20 "$@" >"$tmp/out" 2>&1; exit $?) 2>/dev/null
    status=$?
    size=$(wc -c <"$tmp/out")
    local why=""
    if [ "$status" -eq 124 ]; then why="timed out after 20 s"
    elif [ "$status" -gt 128 ]; then why="killed by signal $((status - 128))"
    elif ! [[ $status =~ ^($want)$ ]]; then why="exit status $status, expected $want"
    elif [ "$size" -gt 65536 ]; then why="printed $size bytes"
    elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$tmp/out"; then why="output lacks /$pattern/"
    fi
    if [ -z "$why" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        { echo "FAIL $name: $why"; head -c 2000 "$tmp/out" | head -n 12 | sed 's/^/    | /'; } >&2
    fi
}

# ---- generators ----

gen_flat_sum() {   # one expression a+a+...+g of about 1 MB
    awk 'BEGIN { printf "optimizer o {\n    input g\n    update = "
                 for (i = 0; i < 500000; i++) printf "g+"; print "g\n}" }'
}

gen_nested() {   # OPEN and CLOSE around g, N deep, in an update
    awk -v n="$1" -v o="$2" -v c="$3" 'BEGIN {
        printf "optimizer o {\n    input g\n    update = "
        for (i = 0; i < n; i++) printf "%s", o; printf "g"
        for (i = 0; i < n; i++) printf "%s", c; print "\n}" }'
}

gen_random_bytes() {   # 1 MB of bytes from a fixed seed (never NUL-free by luck)
    awk 'BEGIN { srand(20240607); for (i = 0; i < 1000000; i++) printf "%c", int(rand() * 256) }'
}

gen_random_tokens() {   # 200k tokens of the language in a random order
    awk 'BEGIN { srand(7); split("optimizer { } ( ) [ ] ; , = ~ + - * / ^ @ < > <= == if then else and or not hyper input state param let hamiltonian structure dissipation port integrator next update def import g p q x 1 2.5 1e3 \"s\" p\x27 #c\n", t, " ")
                 n = length(t); for (i = 0; i < 200000; i++) printf "%s ", t[int(rand() * n) + 1] }'
}

gen_optimizers() {   # N small optimizers
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
        printf "optimizer o%d {\n    hyper lr = 0.01\n    input g\n    update = -lr * g\n}\n", i }'
}

gen_def_chain() {   # f_k(x) = f_{k-1}(x) + f_{k-1}(x), 40 levels, used in H and R
    awk 'BEGIN { print "def f0(x) = softplus(x)"
                 for (i = 1; i <= 40; i++) printf "def f%d(x) = f%d(x) + f%d(x)\n", i, i - 1, i - 1
                 print "optimizer o {\n    input g\n    state p = 0\n    param r = 0"
                 print "    hamiltonian H = p^2 / 2 + f40(p)\n    dissipation R = f40(r)"
                 print "    port G = -1\n    update = f40(p\x27)\n}" }'
}

gen_let_chain() {   # let a_k = a_{k-1} + a_{k-1}, 40 levels, as R
    awk 'BEGIN { print "optimizer o {\n    input g\n    state p = 0\n    param r = 0\n    let a0 = softplus(r)"
                 for (i = 1; i <= 40; i++) printf "    let a%d = a%d + a%d\n", i, i - 1, i - 1
                 print "    hamiltonian H = p^2 / 2\n    dissipation R = a40\n    port G = -1"
                 print "    update = p\x27\n}" }'
}

gen_long_name() {   # a 1 MB identifier, unknown
    awk 'BEGIN { printf "optimizer o {\n    input g\n    update = g * "
                 for (i = 0; i < 100000; i++) printf "abcdefghij"; print "\n}" }'
}

# ---- the inputs ----

gen_flat_sum >"$tmp/flat.ham"
run "1 MB a+a+...+g" "0|1" "" "$HAMC" check "$tmp/flat.ham"
run "1 MB a+a+...+g (fmt)" "0|1" "" sh -c '"$0" fmt "$1" >/dev/null' "$HAMC" "$tmp/flat.ham"

gen_nested 100000 "(" ")" >"$tmp/parens.ham"
run "100k nested parens" 1 "nested|deep" "$HAMC" check "$tmp/parens.ham"
run "100k nested parens (fmt)" 1 "nested|deep" "$HAMC" fmt "$tmp/parens.ham"
gen_nested 1500 "(" ")" >"$tmp/parens1500.ham"
run "1500 nested parens" "0|1" "" "$HAMC" check "$tmp/parens1500.ham"
gen_nested 100000 "[" "]" >"$tmp/brackets.ham"
run "100k nested brackets" 1 "nested|deep" "$HAMC" check "$tmp/brackets.ham"
gen_nested 100000 "-" "" >"$tmp/minus.ham"
run "100k unary minus" 1 "nested|deep" "$HAMC" check "$tmp/minus.ham"
gen_nested 100000 "g^" "" >"$tmp/power.ham"
run "100k right-assoc ^" 1 "nested|deep" "$HAMC" check "$tmp/power.ham"
gen_nested 100000 "(" "" >"$tmp/open.ham"
run "100k unclosed parens" 1 "error" "$HAMC" check "$tmp/open.ham"
gen_nested 300 "(" "" >"$tmp/open300.ham"
run "300 unclosed parens (past the bracket record)" 1 "unexpected" "$HAMC" check "$tmp/open300.ham"
gen_nested 0 "" "" | awk '{ print } END { for (i = 0; i < 100000; i++) printf ")"; print "" }' >"$tmp/close.ham"
run "100k stray closers" 1 "no '\\(' is open" "$HAMC" check "$tmp/close.ham"

gen_random_bytes >"$tmp/random.ham"
run "1 MB random bytes" 1 "error" "$HAMC" check "$tmp/random.ham"
run "1 MB random bytes (fmt)" 1 "error" "$HAMC" fmt "$tmp/random.ham"
gen_random_tokens >"$tmp/tokens.ham"
run "200k random tokens" 1 "error" "$HAMC" check "$tmp/tokens.ham"
run "200k random tokens (fmt)" 1 "error" "$HAMC" fmt "$tmp/tokens.ham"

gen_optimizers 10000 >"$tmp/many.ham"
run "10k optimizers" 0 "ok \\(10000 optimizers\\)" "$HAMC" check "$tmp/many.ham"
run "10k optimizers (fmt)" 0 "" sh -c '"$0" fmt "$1" >/dev/null' "$HAMC" "$tmp/many.ham"

gen_def_chain >"$tmp/defs.ham"
run "def chain 2^40" "0|1" "" "$HAMC" check "$tmp/defs.ham"
gen_let_chain >"$tmp/lets.ham"
run "let chain 2^40" "0|1" "" "$HAMC" check "$tmp/lets.ham"

printf 'optimizer o {\n    input g\n    state x[100000, 100000] = 0\n    next x = x\n    update = g\n}\n' >"$tmp/huge.ham"
run "state x[100000, 100000]" 1 "dimension" "$HAMC" check "$tmp/huge.ham"
printf 'optimizer o {\n    input g\n    state x[65536, 65536] = 0\n    next x = x\n    update = g\n}\n' >"$tmp/huge2.ham"
run "state x[65536, 65536]" 1 "too large" "$HAMC" check "$tmp/huge2.ham"
printf 'optimizer o {\n    input g\n    update = g * sum(zeros(65536, 65536)) * sum(eye(65536))\n}\n' >"$tmp/huge3.ham"
run "zeros(65536, 65536)" 1 "too large" "$HAMC" check "$tmp/huge3.ham"
printf 'optimizer o {\n    input g\n    param w[60000] = 0\n    update = g * sum([w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w; w])\n}\n' >"$tmp/huge4.ham"
run "concatenation past the limits" 1 "too large" "$HAMC" check "$tmp/huge4.ham"
printf 'optimizer o {\n    hyper n = 1e300 * 1e300\n    input g\n    param w[n] = 0\n    update = g * sum(w) * w[1e20]\n}\n' >"$tmp/inf.ham"
run "infinite hyper, huge index" 1 "not finite" "$HAMC" check "$tmp/inf.ham"

gen_long_name >"$tmp/longname.ham"
run "1 MB identifier" 1 "unknown name" "$HAMC" check "$tmp/longname.ham"

: >"$tmp/empty.ham"
run "empty file" 0 "ok \\(0 optimizers\\)" "$HAMC" check "$tmp/empty.ham"
run "empty file (fmt)" 0 "" "$HAMC" fmt "$tmp/empty.ham"
printf '# only a comment\n' >"$tmp/comment.ham"
run "only a comment" 0 "ok" "$HAMC" check "$tmp/comment.ham"

printf 'optimizer o {\n    input g\n    update = -0.1 *\0 g\n}\n' >"$tmp/nul.ham"
run "a NUL byte" 1 "0x00" "$HAMC" check "$tmp/nul.ham"
run "a NUL byte (fmt)" 1 "0x00" "$HAMC" fmt "$tmp/nul.ham"
printf 'optimizer o {\n    input g # a comment\0 with a NUL\n    update = -0.1 * g\n}\n' >"$tmp/nul2.ham"
run "a NUL byte in a comment" 1 "0x00" "$HAMC" check "$tmp/nul2.ham"
printf 'optimizer o {\n    input g\n    update = -0.1 * g\n}' >"$tmp/nonl.ham"
run "no newline at the end" 0 "ok" "$HAMC" check "$tmp/nonl.ham"
printf 'optimizer o {\r\n    input g\r\n    update = -0.1 * g\r\n}\r\n' >"$tmp/crlf.ham"
run "CRLF line ends" 0 "ok" "$HAMC" check "$tmp/crlf.ham"

mkdir -p "$tmp/dir.ham"
run "a directory as FILE" 1 "directory" "$HAMC" check "$tmp/dir.ham"
run "a directory as FILE (fmt)" 1 "directory" "$HAMC" fmt "$tmp/dir.ham"
run "a missing FILE" 1 "cannot open" "$HAMC" check "$tmp/none.ham"
printf 'import "self"\noptimizer o {\n    input g\n    update = -0.1 * g\n}\n' >"$tmp/self.ham"
run "a file that imports itself" 0 "ok" "$HAMC" check "$tmp/self.ham"
printf 'import "%s/cycle_b"\noptimizer a {\n    input g\n    update = -0.1 * g\n}\n' "$tmp" >"$tmp/cycle_a.ham"
printf 'import "%s/cycle_a"\noptimizer b {\n    input g\n    update = -0.1 * g\n}\n' "$tmp" >"$tmp/cycle_b.ham"
run "an import cycle" 0 "ok" "$HAMC" check "$tmp/cycle_a.ham"
printf 'import "/dev/zero"\n' >"$tmp/devzero.ham"
run "import of a non-file" 1 "cannot find" "$HAMC" check "$tmp/devzero.ham"

awk 'BEGIN { for (i = 0; i < 2000; i++) printf "optimizer o%d { input g update = -bogus%d * g }\n", i, i }' >"$tmp/errors.ham"
run "2000 errors: capped" 1 "more errors not shown" "$HAMC" check "$tmp/errors.ham"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
