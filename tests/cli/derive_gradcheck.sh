#!/usr/bin/env bash
# derive_gradcheck.sh: every stdlib and example spec derives (text, LaTeX, sympy dump,
# DAG dump) and passes `hamc gradcheck` (the adjoint against central differences of
# the step).  The LSTM specs check one trial: five thousand params each need two
# evaluations of a 10^4-node step.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
HAMC=${HAMC:-$root/bin/hamc}
export HAM_STDLIB=$root/stdlib
pass=0 fail=0
check() {   # check NAME COMMAND...
    local name=$1
    shift
    if out=$("$@" 2>&1); then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name"
        echo "$out" | tail -5
    fi
}
for f in "$root"/stdlib/*.ham "$root"/examples/*.ham; do
    name=$(basename "$f" .ham)
    [ "$name" = prelude ] && continue
    check "derive $name" "$HAMC" derive "$f"
    check "derive --format latex $name" "$HAMC" derive "$f" --format latex
    check "derive --format sympy $name" "$HAMC" derive "$f" --format sympy --dump=dag
    trials=3
    case "$name" in lstm*) trials=1 ;; esac
    check "gradcheck $name" "$HAMC" gradcheck "$f" --trials "$trials"
done
# sgd has no state and no params: its only derivatives are those of the update along the
# inputs g and theta (the exact meta-gradient's g_bar and theta_bar), and they are checked.
out=$("$HAMC" gradcheck "$root/stdlib/sgd.ham" 2>&1)
status=$?
if [ $status -eq 0 ] && echo "$out" | grep -Eq '^sgd  *ok  *worst relative error .* \(d/d(g|theta)\) over [1-9][0-9]* derivatives' &&
   ! echo "$out" | grep -q FAIL; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: gradcheck sgd: status $status"; echo "$out"; fi
# An integrator the system cannot use is refused with one message.
out=$("$HAMC" derive "$root/stdlib/heavy_ball.ham" --integrator leapfrog 2>&1)
status=$?
if [ $status -eq 1 ] && [ "$(echo "$out" | grep -c 'error:')" -eq 1 ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: leapfrog on heavy_ball: status $status"; echo "$out"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
