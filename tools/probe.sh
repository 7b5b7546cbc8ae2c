#!/usr/bin/env bash
# probe.sh SPEC [CKPT] [--opt NAME]: what an optimizer does with
# synthetic gradient streams (a steady gradient by its scale, noise at several
# signal-to-noise ratios, a sign flip): tables of its updates, from
# tools/probe_driver.c linked with the optimizer as `hamc emit-c --float` writes it
# (a checkpoint's learned params baked in).  For looking inside a meta-trained
# optimizer; results/README.md shows what it says about the MNIST LSTM.
# Needs cc and bin/hamc (make); HAMC overrides the compiler.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hamc=${HAMC:-$root/bin/hamc}
usage() { echo "usage: tools/probe.sh SPEC [CKPT] [--opt NAME]" >&2; exit 2; }
[ $# -ge 1 ] || usage
spec=$1
shift
emit=()
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then emit+=(--params "$1"); shift; fi
while [ $# -gt 0 ]; do
    case "$1" in
    --opt) [ $# -ge 2 ] || usage; emit+=(--opt "$2"); shift 2 ;;
    *) usage ;;
    esac
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-probe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$root/tools/probe_build.sh"
probe_build probe.sh "$spec" "$tmp/probe" "$root/tools/probe_driver.c" -std=c99 -lm
echo "probe of $name ($spec${emit[*]:+ ${emit[*]}})"
"$tmp/probe"
