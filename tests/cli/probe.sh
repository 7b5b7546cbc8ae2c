#!/usr/bin/env bash
# probe.sh: tools/probe.sh (an optimizer's updates on synthetic gradient streams)
# against updates known in closed form, on a learned checkpoint, and on bad input.
. "$(dirname "$0")/../cli_common.sh" probe
export HAMC
probe=$root/tools/probe.sh

# row T of the constant-gradient table, column K (1 = g 1e-06 ... 7 = g 1e+00)
constant_at() { awk -v t="$2" -v k="$3" '/^constant/ {on = 1; next} on && $1 == t {print $(k + 1); exit}' "$1"; }

if "$probe" stdlib/adam.ham > "$tmp/adam.out" 2> "$tmp/adam.err"; then ok; else bad "adam: $(head -c 300 "$tmp/adam.err")"; fi
# Adam on a steady g: lr g / (|g| + eps) at every step: -1e-3, and -1e-3 / 1.01 at g = 1e-6
[ "$(constant_at "$tmp/adam.out" 1 5)" = "-1.000e-03" ] && ok || bad "adam, t 1, g 1e-2: $(constant_at "$tmp/adam.out" 1 5)"
[ "$(constant_at "$tmp/adam.out" 30 1)" = "-9.901e-04" ] && ok || bad "adam, t 30, g 1e-6: $(constant_at "$tmp/adam.out" 30 1)"
grep -q "^noisy gradient" "$tmp/adam.out" && grep -q "^sign flip" "$tmp/adam.out" && ok || bad "adam: tables missing"

# SGD: -lr g exactly
"$probe" stdlib/sgd.ham > "$tmp/sgd.out" 2>&1 || bad "sgd failed"
[ "$(constant_at "$tmp/sgd.out" 10 7)" = "-1.000e-02" ] && ok || bad "sgd, t 10, g 1: $(constant_at "$tmp/sgd.out" 10 7)"

# A meta-trained checkpoint, its params baked in: finite updates in every table
if "$probe" stdlib/phnn_rms.ham results/mnist_sigmoid/phnn_rms.ckpt > "$tmp/rms.out" 2> "$tmp/rms.err"; then
    ok
    grep -qi "nan\|inf" "$tmp/rms.out" && bad "phnn_rms: non-finite updates" || ok
    [ "$(grep -c '^ *[0-9]' "$tmp/rms.out")" -eq 28 ] && ok || bad "phnn_rms: $(grep -c '^ *[0-9]' "$tmp/rms.out") table rows, want 28"
else
    bad "phnn_rms checkpoint: $(head -c 300 "$tmp/rms.err")"
fi

# Bad input: hamc's diagnostic and a nonzero exit; bad usage exits 2
"$probe" "$tmp/none.ham" > /dev/null 2> "$tmp/none.err" && bad "a missing spec succeeded" || ok
grep -q "none.ham" "$tmp/none.err" && ok || bad "missing spec: $(head -c 200 "$tmp/none.err")"
"$probe" stdlib/adam.ham --bogus > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "an unknown option did not exit 2"
summary
