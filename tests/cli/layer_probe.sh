#!/usr/bin/env bash
# layer_probe.sh: tools/layer_probe.sh (an optimizer's updates per layer of the MNIST
# MLP) against what SGD does in closed form (|update| = lr |g| in every group at every
# step, a positive first-order decrease, updates exactly down the gradient: cosine 1 with
# -g and no update where g is 0), the layout of a deeper network, a learned
# checkpoint, and bad input.  Skipped, with a note, without data/mnist (`make data`).
. "$(dirname "$0")/../cli_common.sh" layers
export HAMC
probe=$root/tools/layer_probe.sh
# The library of the build under test (make asan's is sanitized: link it so).
export HAM_LIB=$(dirname "${TEST_BIN:-$root/build/tests}")/libham.a
[ -n "${HAM_SANITIZED:-}" ] && export HAM_LDFLAGS="-fsanitize=address,undefined"
if [ ! -f "$root/data/mnist/train-images-idx3-ubyte" ]; then
    echo "skipped: tools/layer_probe.sh (no data/mnist; run \`make data\`)"
    summary
    exit
fi
# column C of the row of group G
col() { awk -v g="$2" -v c="$3" '$1 == g {print $c; exit}' "$1"; }

"$probe" stdlib/sgd.ham --runs 2 --steps 20 >"$tmp/sgd.out" 2>"$tmp/err" && ok || bad "sgd: $(head -c 300 "$tmp/err")"
[ "$(awk '$1 ~ /^[Wb][0-9]$/ {printf "%s:%s ", $1, $2}' "$tmp/sgd.out")" = "W1:15680 b1:20 W2:200 b2:10 " ] &&
    ok || bad "sgd groups: $(cat "$tmp/sgd.out")"
for g in W1 b1 W2 b2; do
    # stdlib/sgd.ham's lr is 0.01: the mean |update| at step 1 is 0.01 x the mean |g| at step 1
    /usr/bin/python3 -c 'import sys; g, d, dec = map(float, sys.argv[1:]); sys.exit(not (abs(d / g - 0.01) < 1e-6 and dec > 0))' \
        "$(col "$tmp/sgd.out" $g 3)" "$(col "$tmp/sgd.out" $g 5)" "$(col "$tmp/sgd.out" $g 10)" &&
        ok || bad "sgd, group $g: |g| $(col "$tmp/sgd.out" $g 3), |d| $(col "$tmp/sgd.out" $g 5), decrease $(col "$tmp/sgd.out" $g 10)"
done
for g in W1 b2 all; do
    [ "$(col "$tmp/sgd.out" $g 11)" = 1.000 ] && [ "$(col "$tmp/sgd.out" $g 13)" = 0.000 ] &&
        awk -v c="$(col "$tmp/sgd.out" $g 12)" 'BEGIN { exit !(c > 0 && c < 1) }' && ok ||
        bad "sgd, group $g alignment: $(grep "^$g " "$tmp/sgd.out")"
done
[ "$(col "$tmp/sgd.out" all 2)" = 15910 ] && ok || bad "the whole network's row: $(cat "$tmp/sgd.out")"
grep -q "^final loss [0-9.]* (mean of 2 runs of 20 steps" "$tmp/sgd.out" && ok || bad "sgd: no final loss line"

"$probe" stdlib/adam.ham --task "mnist hidden=40,40 layers=2" --runs 1 --steps 5 >"$tmp/deep.out" 2>"$tmp/err" &&
    ok || bad "two hidden layers: $(head -c 300 "$tmp/err")"
[ "$(awk '$1 ~ /^[Wb][0-9]$/ {printf "%s:%s ", $1, $2}' "$tmp/deep.out")" = "W1:31360 b1:40 W2:1600 b2:40 W3:400 b3:10 " ] &&
    ok || bad "two hidden layers' groups: $(cat "$tmp/deep.out")"

if "$probe" stdlib/phnn_rms.ham results/mnist_sigmoid/phnn_rms_exact.ckpt --runs 2 --steps 30 >"$tmp/rms.out" 2>"$tmp/err"; then
    ok
    grep -qi "nan\|inf" "$tmp/rms.out" && bad "phnn_rms: non-finite values: $(cat "$tmp/rms.out")" || ok
else
    bad "a learned checkpoint: $(head -c 300 "$tmp/err")"
fi

"$probe" stdlib/sgd.ham --task quadratic --runs 1 --steps 1 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "the task must be mnist" "$tmp/err" && ok || bad "a quadratic task: $(cat "$tmp/err")"
"$probe" "$tmp/none.ham" >/dev/null 2>"$tmp/err" && bad "a missing spec succeeded" || ok
"$probe" stdlib/sgd.ham --bogus 1 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "an unknown option did not exit 2"
summary
