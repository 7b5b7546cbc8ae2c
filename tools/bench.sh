#!/usr/bin/env bash
# bench.sh: `make bench`, the kernel benchmark of issue 4 (the kernel rows of issue 8).
#
# Builds bench/kernels.c (cc -O2 -march=native, against build/libham.a and the
# Makefile's link flags) and bench/handwritten.c twice (gcc -O3 -march=native, and the
# same with -ffast-math; -DHW_SUFFIX gives the two objects different symbol names)
# into build/bench/, then runs it: JIT f32 forward kernels of momentum, adam,
# seed_hnn, phnn_small and phnn at 10^6 and 10^7 coordinates against the hand-written
# C (the learned specs: gcc on `hamc emit-c` output) and a STREAM triad, all measured
# in one process.  Prints the table and writes it,
# with the machine and a reading of each row group, to bench/results.md.  About one
# minute on the 2-core development machine; ratios are the result, not absolute times.
set -euo pipefail
cd "$(dirname "$0")/.."
export HAM_STDLIB=$PWD/stdlib
BUILD=${BUILD:-build}
LLVM_CONFIG=${LLVM_CONFIG:-llvm-config-14}
out=$BUILD/bench
mkdir -p "$out"
[ -f "$BUILD/libham.a" ] || { echo "bench.sh: $BUILD/libham.a missing; run make first" >&2; exit 1; }

# The Makefile's LDLIBS, spelled the same way.
ldlibs="-L$($LLVM_CONFIG --libdir) $($LLVM_CONFIG --libs) -lopenblas -lreadline -lpthread -lm"
incs="-I compiler -I runtime -I $BUILD/gen -I bench -I $($LLVM_CONFIG --includedir)"

gcc -std=gnu11 -O3 -march=native -DHW_SUFFIX=_o3 -I bench -c -o "$out/handwritten_o3.o" bench/handwritten.c
gcc -std=gnu11 -O3 -march=native -ffast-math -DHW_SUFFIX=_fast -I bench -c -o "$out/handwritten_fast.o" bench/handwritten.c
# The learned specs' emitted C, compiled the same two ways; -D renames its extern
# functions so the two copies link side by side (kernels.c declares *_o3 / *_fast).
emitted=()
for spec in stdlib/seed_hnn.ham examples/phnn_small.ham stdlib/phnn.ham; do
    name=$(basename "$spec" .ham)
    bin/hamc emit-c "$spec" --float -o "$out/emit_$name.c"
    for v in o3 fast; do
        flags=$([ $v = fast ] && echo -ffast-math || true)
        renames=$(grep -o -E '^void ham_[A-Za-z0-9_]+' "$out/emit_$name.c" | sed 's/^void //' | sort -u |
                  sed "s/.*/-D&=&_$v/")
        gcc -std=gnu11 -O3 -march=native $flags $renames -c -o "$out/emit_${name}_$v.o" "$out/emit_$name.c"
        emitted+=("$out/emit_${name}_$v.o")
    done
done

cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter -O2 -march=native $incs \
    -o "$out/kernels" bench/kernels.c "$out/handwritten_o3.o" "$out/handwritten_fast.o" "${emitted[@]}" "$BUILD/libham.a" $ldlibs

export BENCH_CC_VERSION="$(gcc --version | head -n 1)"
export BENCH_LLVM_VERSION="$($LLVM_CONFIG --version)"
export BENCH_CPU_EXTRA="$(grep -o -w -E 'avx2|avx512f|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')$(lscpu 2>/dev/null | awk -F: '/L3 cache/ {gsub(/^ +/, "", $2); print "L3 " $2}')"
"$out/kernels" bench/results.md
# LSTM: the JIT kernel of stdlib/lstm.ham against the same step batched with cblas_sgemm
# (bench/lstm_sgemm.c); appends its section to bench/results.md.
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter -O3 -march=native -ffast-math -fopenmp-simd $incs \
    -o "$out/lstm_sgemm" bench/lstm_sgemm.c "$BUILD/libham.a" $ldlibs
"$out/lstm_sgemm" bench/results.md
echo "wrote bench/results.md"
