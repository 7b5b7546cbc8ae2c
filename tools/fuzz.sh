#!/usr/bin/env bash
# fuzz.sh SECONDS: build the libFuzzer targets and run each for SECONDS (`make fuzz`).
#
# Targets: tests/fuzz/fuzz_*.c, each linked with the front end only (the lexer and
# parser bison/flex generate, ast, diag, load, sema, fmt: nothing that needs LLVM),
# except fuzz_checkpoint, linked with runtime/checkpoint.c alone and seeded from
# tests/fuzz/checkpoint/ with tests/fuzz/checkpoint.dict, and fuzz_idx, linked with
# runtime/idx.c alone and seeded from tests/fuzz/idx/ with tests/fuzz/idx.dict, and
# fuzz_script, the REPL's command language, linked with the whole compiler and runtime
# (LLVM too: `set` recompiles), seeded from examples/*.repl and tests/fuzz/script/,
# and run with -close_fd_mask=3 to keep the REPL's own output out of the log,
# under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer (which aborts at
# the first report, so libFuzzer counts it as a crash).  Everything lands in build/fuzz:
#   build/fuzz/<target>          the binaries
#   build/fuzz/corpus/<target>/  the working corpus, seeded from stdlib/, examples/,
#                                tests/golden/ and tests/fuzz/regressions/, and kept
#                                across runs (build/ is not in git)
#   build/fuzz/artifacts/        crash-*, leak-*, timeout-*, oom-* reproducers
#   build/fuzz/<target>.log      libFuzzer's output
# The fuzzer runs in an empty directory, build/fuzz/run, so that `import "x"` in an
# input never finds a corpus file and results do not depend on what the corpus holds.
#
# Output: a summary per target (executions, coverage, corpus size, findings), then the
# reproducer paths.  Exit status 1 when any target found a crash, leak, timeout or
# out-of-memory, 2 on a build or usage failure, else 0.
set -uo pipefail

SECONDS_EACH=${1:-60}
case $SECONDS_EACH in
    ""|*[!0-9]*|0) echo "usage: tools/fuzz.sh SECONDS (at least 1)" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
CLANG=${CLANG:-clang-14}
OUT=$ROOT/build/fuzz
export HAM_STDLIB=$ROOT/stdlib
# UBSan aborts (-fno-sanitize-recover) with a stack; leaks are reported at each input.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

command -v "$CLANG" >/dev/null || { echo "fuzz.sh: $CLANG not found (make deps)" >&2; exit 2; }

# The front end and what it depends on, listed so a new LLVM-bound file stays out.
FRONT_END=(arena diag ast parse load sema sema_type sema_check fmt)
SRC=()
for f in "${FRONT_END[@]}"; do SRC+=("compiler/$f.c"); done

make --no-print-directory build/gen/ham.lex.c >/dev/null || { echo "fuzz.sh: cannot generate the parser" >&2; exit 2; }
mkdir -p "$OUT/artifacts" "$OUT/run"

FLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-omit-frame-pointer -std=c11 -D_DEFAULT_SOURCE -I compiler -I runtime -I build/gen)

status=0
summary=()
found=()
# fuzz_script needs everything but main.c, and LLVM, OpenBLAS and readline.
ALL_SRC=()
for f in compiler/*.c runtime/*.c; do [ "$f" != compiler/main.c ] && ALL_SRC+=("$f"); done
LLVM_CONFIG=${LLVM_CONFIG:-llvm-config-14}
LLVM_LIBS=(-I "$("$LLVM_CONFIG" --includedir)" -L"$("$LLVM_CONFIG" --libdir)"
           $("$LLVM_CONFIG" --libs) -lopenblas -lreadline -lpthread)

for target_src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$target_src" .c)
    bin=$OUT/$name
    extra=() libs=()
    case $name in
        fuzz_checkpoint) deps=(runtime/checkpoint.c) seeds=(tests/fuzz/checkpoint/*) dict=checkpoint.dict ;;
        fuzz_idx) deps=(runtime/idx.c) seeds=(tests/fuzz/idx/*) dict=idx.dict ;;
        fuzz_script) deps=("${ALL_SRC[@]}" build/gen/ham.tab.c build/gen/ham.lex.c)
           seeds=(examples/*.repl tests/fuzz/script/*) dict=ham.dict
           extra=(-close_fd_mask=3) libs=("${LLVM_LIBS[@]}") ;;
        *) deps=("${SRC[@]}" build/gen/ham.tab.c build/gen/ham.lex.c) dict=ham.dict
           seeds=(stdlib/*.ham examples/*.ham tests/golden/*.ham tests/fuzz/regressions/*.ham) ;;
    esac
    echo "fuzz.sh: building $name"
    if ! "$CLANG" "${FLAGS[@]}" -o "$bin" "$target_src" "${deps[@]}" \
            ${libs[@]+"${libs[@]}"} -lm 2>"$OUT/$name.build.log"; then
        cat "$OUT/$name.build.log" >&2
        echo "fuzz.sh: build of $name failed" >&2
        exit 2
    fi

    corpus=$OUT/corpus/$name
    mkdir -p "$corpus"
    # Seeds past 16 KiB (the deep-nesting regressions) are left out: each costs the
    # fuzzer up to a second, and tests/cli/fuzz_regressions.sh runs them anyway.
    for seed in "${seeds[@]}"; do
        [ -f "$seed" ] && [ "$(wc -c <"$seed")" -le 16384 ] &&
            cp "$seed" "$corpus/seed-$(echo "${seed%.ham}" | tr / -)"
    done

    log=$OUT/$name.log
    before=$(ls "$OUT/artifacts" | wc -l)
    echo "fuzz.sh: running $name for ${SECONDS_EACH}s (log: ${log#$ROOT/})"
    (cd "$OUT/run" && "$bin" "$corpus" -dict="$ROOT/tests/fuzz/$dict" \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 ${extra[@]+"${extra[@]}"} >"$log" 2>&1)
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    corp=$(ls "$corpus" | wc -l)
    repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
    after=$(ls "$OUT/artifacts" | wc -l)
    if [ "$rc" -ne 0 ] || [ -n "$repro" ]; then
        status=1
        kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer)[^ ]*:? [^ ]*( [^ ]*)?|runtime error:.*|fuzz_[a-z]*: .*' "$log" | head -n 1)
        summary+=("$name: FAILED after ${execs:-?} executions, cov ${cov:-?}: ${kind:-exit status $rc}")
        for r in $repro; do found+=("$r"); done
        [ -z "$repro" ] && found+=("(no reproducer written; see ${log#$ROOT/})")
    else
        summary+=("$name: ok, ${execs:-?} executions in ${SECONDS_EACH}s, cov ${cov:-?}, ft ${ft:-?}, corpus $corp files, $((after - before)) new artifacts")
    fi
done

echo "---- fuzz summary ----"
for line in "${summary[@]}"; do echo "$line"; done
if [ "${#found[@]}" -gt 0 ]; then
    echo "reproducers (minimize with: build/fuzz/<target> -minimize_crash=1 -runs=10000 FILE):"
    for r in "${found[@]}"; do echo "  $r"; done
fi
exit $status
