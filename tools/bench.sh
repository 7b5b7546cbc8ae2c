#!/usr/bin/env bash
# bench.sh: `make bench` (issue 8): one table, ham against the PyTorch reference and
# against the hardware, printed and written with the machine to bench/results.md.
#
#  1. bench/kernels.c: JIT f32 forward kernels of momentum, adam, seed_hnn, phnn_small
#     and phnn at 10^6 and 10^7 coordinates against the same step in C by gcc -O3
#     -march=native (bench/handwritten.c; the learned specs as `hamc emit-c` writes
#     them), with and without -ffast-math, and a STREAM triad (~1 min).
#  2. bench/lstm_sgemm.c: the LSTM's JIT forward and adjoint kernels against the same
#     cell batched with OpenBLAS sgemm (~20 s).
#  3. bench/race.py: ham (bench/race_ham.c, on build/libham.a) against bench/torch_ref.py
#     (Debian's torch, /usr/bin/python3), interleaved, 1 thread then 2: optimizee steps,
#     meta-steps, the protocol's evaluation step and projected wall-clock, scaling in
#     coordinates and in the unroll, peak RSS; it adds the rows of 1 and 2 and writes
#     bench/results.md (their detailed tables follow the main one there).
# About 3 to 8 minutes on the 2-core development machines so far; ratios are the result.
# QUICK=1 runs fewer rows and rounds (a smoke test of the pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
export HAM_STDLIB=$PWD/stdlib
BUILD=${BUILD:-build}
LLVM_CONFIG=${LLVM_CONFIG:-llvm-config-14}
out=$BUILD/bench
mkdir -p "$out"
[ -f "$BUILD/libham.a" ] || { echo "bench.sh: $BUILD/libham.a missing; run make first" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "bench.sh: /usr/bin/python3 cannot import torch (make deps installs python3-torch)" >&2; exit 1; }
[ -f data/mnist/train-images-idx3-ubyte ] || make --no-print-directory data

# The Makefile's LDLIBS, spelled the same way.
ldlibs="-L$($LLVM_CONFIG --libdir) $($LLVM_CONFIG --libs) -lopenblas -lreadline -lpthread -lm"
incs="-I compiler -I runtime -I $BUILD/gen -I bench -I $($LLVM_CONFIG --includedir)"
# A private copy of the compiler: others may rebuild bin/hamc while this runs.
cp bin/hamc "$out/hamc-bench"
# The user's OPENBLAS_CORETYPE wins over the kernels ham would choose, on both sides of
# the race; where they differ `hamc --version` says which ham would choose
# (runtime/blas_setup.h), and so does this, as the fastest kernels may go unused.
if kernels=$("$out/hamc-bench" --version | grep -o 'unset, hamc would choose [A-Za-z]* here'); then
    echo "bench.sh: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE: both sides run those kernels ($kernels;" \
        "env -u OPENBLAS_CORETYPE make bench)" >&2
fi

gcc -std=gnu11 -O3 -march=native -DHW_SUFFIX=_o3 -I bench -c -o "$out/handwritten_o3.o" bench/handwritten.c
gcc -std=gnu11 -O3 -march=native -ffast-math -DHW_SUFFIX=_fast -I bench -c -o "$out/handwritten_fast.o" bench/handwritten.c
# The learned specs' emitted C, compiled the same two ways; -D renames its extern
# functions so the two copies link side by side (kernels.c declares *_o3 / *_fast).
emitted=()
for spec in stdlib/seed_hnn.ham examples/phnn_small.ham stdlib/phnn.ham; do
    name=$(basename "$spec" .ham)
    "$out/hamc-bench" emit-c "$spec" --float -o "$out/emit_$name.c"
    for v in o3 fast; do
        flags=$([ $v = fast ] && echo -ffast-math || true)
        renames=$(grep -o -E '^void ham_[A-Za-z0-9_]+' "$out/emit_$name.c" | sed 's/^void //' | sort -u |
                  sed "s/.*/-D&=&_$v/")
        gcc -std=gnu11 -O3 -march=native $flags $renames -c -o "$out/emit_${name}_$v.o" "$out/emit_$name.c"
        emitted+=("$out/emit_${name}_$v.o")
    done
done
# Link against a snapshot of the library for the same reason.
cp "$BUILD/libham.a" "$out/libham-bench.a"
lib="$out/libham-bench.a"
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter -O2 -march=native $incs \
    -o "$out/kernels" bench/kernels.c "$out/handwritten_o3.o" "$out/handwritten_fast.o" "${emitted[@]}" "$lib" $ldlibs
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter -O3 -march=native -ffast-math -fopenmp-simd $incs \
    -o "$out/lstm_sgemm" bench/lstm_sgemm.c bench/fma_peak.c "$lib" $ldlibs
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter -O2 -march=native $incs \
    -o "$out/race_ham" bench/race_ham.c "$lib" $ldlibs

export BENCH_CC_VERSION="$(gcc --version | head -n 1)"
export BENCH_LLVM_VERSION="$($LLVM_CONFIG --version)"
export BENCH_CPU_EXTRA="$(grep -o -w -E 'avx2|avx512f|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')$(lscpu 2>/dev/null | awk -F: '/L3 cache/ {gsub(/^ +/, "", $2); print "L3 " $2}')"
echo "bench.sh: kernels (1/3) ..." >&2
"$out/kernels" "$out/kernels.md" "$out/kernels.json" > "$out/kernels.log"
echo "bench.sh: LSTM against sgemm (2/3) ..." >&2
: > "$out/lstm.md"
"$out/lstm_sgemm" "$out/lstm.md" "$out/lstm.json" > "$out/lstm.log" ||
    echo "bench.sh: lstm_sgemm: JIT and sgemm disagree (see $out/lstm.md)" >&2
echo "bench.sh: ham against PyTorch (3/3) ..." >&2
/usr/bin/python3 bench/race.py --ham "$out/race_ham" --kernels-md "$out/kernels.md" --kernels-json "$out/kernels.json" \
    --lstm-md "$out/lstm.md" --lstm-json "$out/lstm.json" --out bench/results.md ${QUICK:+--quick}
echo "wrote bench/results.md"
