#!/usr/bin/env bash
# torch_mlp.sh: check the MLP loss and gradient of runtime/mlp.c against PyTorch.
#
# Runs the unit-test binary test_task with HAM_TORCH_DUMP set, so that it writes its
# MLP cases (weights, batch, ham's loss and gradient) there, then has
# tests/oracle/torch_mlp.py recompute each with torch and compare (relative 1e-5).
# Skipped, with a `skipped:` note on stderr and no checks counted, when /usr/bin/python3
# cannot import torch.  The last line of stdout is `N passed, N failed` (the oracle's
# checks plus one for test_task itself); the exit status is 1 if anything failed.
# Environment: TEST_BIN, the directory of the unit-test binaries (default build/tests).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${TEST_BIN:=$root/build/tests}"
python=/usr/bin/python3

if ! "$python" -c 'import torch, numpy' 2>/dev/null; then
    echo "skipped: torch_mlp.sh ($python cannot import torch; apt-get install python3-torch)" >&2
    echo "0 passed, 0 failed"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-torch.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# test_task runs from the repository root, where it finds data/mnist.
if (cd "$root" && HAM_TORCH_DUMP="$tmp/mlp.bin" timeout 600 "$TEST_BIN/test_task") \
        >"$tmp/unit.out" 2>"$tmp/unit.err" && [ -s "$tmp/mlp.bin" ]; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL test_task with HAM_TORCH_DUMP (no dump, or its own checks failed):" >&2
    tail -n 10 "$tmp/unit.err" "$tmp/unit.out" | sed 's/^/    | /' >&2
fi

if [ -s "$tmp/mlp.bin" ]; then
    timeout 600 "$python" "$root/tests/oracle/torch_mlp.py" "$tmp/mlp.bin" >"$tmp/oracle.out"
    status=$?
    last=$(tail -n 1 "$tmp/oracle.out")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        pass=$((pass + BASH_REMATCH[1])) fail=$((fail + BASH_REMATCH[2]))
        [ "$status" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && fail=$((fail + 1))
    else
        fail=$((fail + 1))
        echo "FAIL torch_mlp.py: exit status $status, no summary line" >&2
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
