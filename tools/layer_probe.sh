#!/usr/bin/env bash
# layer_probe.sh SPEC [CKPT] [--opt NAME] [--task T] [--runs N] [--steps N]: what an
# optimizer does to each layer of the MNIST MLP on real gradient streams: per array
# (W1, b1, W2, b2, ...) the mean |gradient|, the mean |update| at steps 1, 5, 20 and
# the last, how far the coordinates travelled, the first-order decrease bought per
# step, and how the updates align with -g and -sign(g) (and how much of them falls
# where g is 0), then the same for the whole network; from tools/layer_probe_driver.c linked with the optimizer as `hamc emit-c
# --float` writes it (a checkpoint's learned params baked in) and with build/libham.a's
# tasks.  Defaults: --task "mnist split=eval", 20 runs of 100 steps.  The companion of
# tools/probe.sh (synthetic streams); results/mnist_sigmoid/policy_study/ has the MNIST
# LSTM, phnn_rms and NAG side by side.
# Needs cc, bin/hamc and build/libham.a (make) and the MNIST data (make data); HAMC,
# HAM_LIB (the library) and HAM_LDFLAGS (extra link flags: a sanitized library's) override.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hamc=${HAMC:-$root/bin/hamc}
lib=${HAM_LIB:-$root/build/libham.a}
usage() { echo "usage: tools/layer_probe.sh SPEC [CKPT] [--opt NAME] [--task T] [--runs N] [--steps N]" >&2; exit 2; }
[ $# -ge 1 ] || usage
spec=$1
shift
emit=() task="mnist split=eval" runs=20 steps=100
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then emit+=(--params "$1"); shift; fi
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case "$1" in
    --opt) emit+=(--opt "$2") ;;
    --task) task=$2 ;;
    --runs) runs=$2 ;;
    --steps) steps=$2 ;;
    *) usage ;;
    esac
    shift 2
done
[ -f "$lib" ] || { echo "layer_probe.sh: no $lib (run make)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$root/tools/probe_build.sh"
# shellcheck disable=SC2086  # HAM_LDFLAGS: several words
probe_build layer_probe.sh "$spec" "$tmp/probe" "$root/tools/layer_probe_driver.c" -std=c11 -I "$root/runtime" "$lib" \
    ${HAM_LDFLAGS:-} -lopenblas -lpthread -lm
echo "layer probe of $name ($spec${emit[*]:+ ${emit[*]}})"
cd "$root" && "$tmp/probe" "$task" "$runs" "$steps"
