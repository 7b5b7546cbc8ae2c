#!/usr/bin/env bash
# torch_optim.sh: check the stdlib baselines (sgd, momentum, nag, rmsprop, adam,
# adagrad) against torch.optim on identical gradient sequences.
#
# Runs the unit-test binary test_torch_optim with HAM_TORCH_DUMP set to a temporary
# directory, where it writes one file per case (hypers, theta_0, the gradient
# sequence, ham's f64 and f32 trajectories), then has tests/oracle/torch_optim.py
# replay each case with torch.optim in float64 and float32 and compare.  The last line
# of stdout is `N passed, N failed` (the oracle's checks plus one for
# test_torch_optim itself); the exit status is 1 if anything failed.  If
# /usr/bin/python3 cannot import torch, that is reported and counted as 1 failed
# (`make deps` installs python3-torch).
# Environment: TEST_BIN, the directory of the unit-test binaries (default build/tests
# next to this script's repository).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${TEST_BIN:=$root/build/tests}"
python=/usr/bin/python3
bin=$TEST_BIN/test_torch_optim
pass=0 fail=0

if ! "$python" -c 'import torch' 2>/dev/null; then
    echo "FAIL torch_optim.sh: $python cannot import torch (run make deps, or apt-get install python3-torch)"
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -x "$bin" ]; then
    echo "FAIL torch_optim.sh: no test binary $bin (run make)"
    echo "0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ham-torch-optim.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/dump"

# test_torch_optim runs from the repository root, where it finds stdlib/.
if (cd "$root" && HAM_TORCH_DUMP="$tmp/dump" timeout 600 "$bin") >"$tmp/unit.out" 2>"$tmp/unit.err"; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL test_torch_optim with HAM_TORCH_DUMP (its own checks failed):"
    tail -n 20 "$tmp/unit.err" "$tmp/unit.out" | sed 's/^/    | /'
fi

if [ -n "$(ls -A "$tmp/dump")" ]; then
    timeout 600 "$python" "$root/tests/oracle/torch_optim.py" "$tmp/dump" >"$tmp/oracle.out" 2>"$tmp/oracle.err"
    status=$?
    last=$(tail -n 1 "$tmp/oracle.out")
    sed '$d' "$tmp/oracle.out"
    sed 's/^/    | /' "$tmp/oracle.err" >&2
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        pass=$((pass + BASH_REMATCH[1])) fail=$((fail + BASH_REMATCH[2]))
        [ "$status" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && fail=$((fail + 1))
    else
        fail=$((fail + 1))
        echo "FAIL torch_optim.py: exit status $status, no summary line"
    fi
else
    fail=$((fail + 1))
    echo "FAIL test_torch_optim wrote no dump in $tmp/dump"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
