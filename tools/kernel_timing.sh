#!/usr/bin/env bash
# kernel_timing.sh: one of a spec's JIT kernels, compiled as the JIT compiles it and
# timed alone on N (<= 16384) coordinates in cache (tools/kernel_timing.c): a microscope for work
# on the code generator, e.g. the LSTM's stage kernels (README, session 22).
#
#   tools/kernel_timing.sh SPEC KERNEL [N] [-- LLC_FLAGS...]
#
# KERNEL: the end of a kernel's name in `hamc emit-llvm SPEC` (stage1_fwd_f32,
# forward_f32, ...); it must name one.  The IR is hamc's ($HAMC, else bin/hamc: the
# JIT's passes, the HAM_* options in effect), compiled by llc -O3 for the JIT's CPU and
# features; LLC_FLAGS are added (e.g. -enable-misched=false, or -mcpu=icelake-server,
# which overrides the default).
# Pinned to core 0 when taskset exists.  Compare variants in interleaved runs: this
# machine's speed drifts by tens of percent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
    echo "usage: tools/kernel_timing.sh SPEC KERNEL [N] [-- LLC_FLAGS...]" >&2
    exit 2
fi
spec=$1 kernel=$2
shift 2
n=256
if [ $# -gt 0 ] && [ "$1" != "--" ]; then n=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
llvm=/usr/lib/llvm-14
dir=$(mktemp -d "${TMPDIR:-/tmp}/ham_kernel_timing.XXXXXX")
trap 'rm -rf "$dir"' EXIT

cc -std=c11 -O2 -Wall -Wextra -I runtime -I "$llvm/include" tools/kernel_timing.c runtime/rng.c -o "$dir/kt" \
    -L"$llvm/lib" -lLLVM-14 -ldl -lm
{ read -r cpu; read -r features; } < <("$dir/kt" --host)
"${HAMC:-bin/hamc}" emit-llvm "$spec" -O2 > "$dir/k.ll"
"$llvm/bin/llc" -O3 -mcpu="$cpu" -mattr="$features" -relocation-model=pic "$@" -filetype=obj \
    -o "$dir/k.o" "$dir/k.ll"
cc -shared -o "$dir/k.so" "$dir/k.o" -lmvec -lm
mapfile -t found < <(grep -o "^define void @[A-Za-z0-9_]*_${kernel}_[0-9]*(" "$dir/k.ll" | sed 's/^define void @//; s/($//')
if [ ${#found[@]} -ne 1 ]; then
    echo "kernel_timing.sh: '$kernel' names ${#found[@]} kernels of $spec: $(grep -o '^define void @[A-Za-z0-9_]*' "$dir/k.ll" | sed 's/^define void @//' | tr '\n' ' ')" >&2
    exit 1
fi
if awk -v f="${found[0]}" '$0 ~ "^define void @" f "\\(" {on = 1} on && /inttoptr/ {hit = 1} on && /^}/ {on = 0} END {exit !hit}' "$dir/k.ll"; then
    echo "kernel_timing.sh: ${found[0]} is a staged step's entry point (it calls into the hamc that emitted it); time its stage kernels (stageK_fwd_f32, ...)" >&2
    exit 1
fi
pin=()
command -v taskset > /dev/null && pin=(taskset -c 0)
"${pin[@]}" "$dir/kt" "$dir/k.so" "${found[0]}" "$n"
