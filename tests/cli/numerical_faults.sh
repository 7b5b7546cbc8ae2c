#!/usr/bin/env bash
# numerical_faults.sh: optimizers that explode or produce NaN.  Meta-training reports
# where (epoch, meta-step, step, task, coordinates), skips the meta-step, goes on, and
# writes a checkpoint without a NaN; evaluation counts diverged runs and keeps them out
# of the statistics (JSON null, not NaN).  A training whose every run ends on a skipped
# meta-step (params where every unroll diverges) goes back to its best params with the
# meta-lr halved, says so, and a resumed run keeps halving from there.
. "$(dirname "$0")/../cli_common.sh" faults

cat > "$tmp/explode.ham" <<'HAM'
optimizer explode {
    hyper out_mul = 1e30
    input g
    param a = 1
    update = -out_mul * a * g
}
HAM
cat > "$tmp/nan.ham" <<'HAM'
optimizer nan_param {
    input g
    param p = 1
    update = -0.01 * g * sqrt(p - 10)
}
HAM
out=$("$HAMC" train "$tmp/explode.ham" --task quadratic --epochs 2 --runs-per-epoch 3 --out "$tmp/e.ckpt" 2>&1)
[ $? -eq 0 ] && ok || bad "exploding optimizer: train failed: $out"
echo "$out" | grep -q "diverged (non-finite loss at step [0-9]* of 100, task quadratic, 10 coordinates); meta-step skipped" \
    && ok || bad "no note saying where it diverged: $out"
echo "$out" | grep -q "6 meta-steps skipped" && ok || bad "skipped count: $out"
"$HAMC" run "$tmp/explode.ham" --task quadratic --runs 3 --params "$tmp/e.ckpt" >/dev/null 2>&1 && ok || bad "its checkpoint does not load"

out=$("$HAMC" train "$tmp/nan.ham" --task quadratic --epochs 1 --runs-per-epoch 2 --out "$tmp/n.ckpt" 2>&1)
[ $? -eq 0 ] && echo "$out" | grep -q "skipped" && ok || bad "NaN optimizer: $out"
"$HAMC" run "$tmp/nan.ham" --task quadratic --runs 3 --params "$tmp/n.ckpt" >/dev/null 2>&1 && ok || bad "NaN run: checkpoint does not load"

# A greedy step size: meta-lr 10 throws exp(s) past the quadratics' stability at once.
cat > "$tmp/greedy.ham" <<'HAM'
optimizer greedy {
    input g
    param s = -4
    update = -exp(s) * g
}
HAM
out=$("$HAMC" train "$tmp/greedy.ham" --task quadratic --epochs 6 --runs-per-epoch 3 --meta-lr 10 --unroll 100 \
      --out "$tmp/g.ckpt" 2>&1)
[ $? -eq 0 ] && ok || bad "stalled training failed: $out"
echo "$out" | grep -q "the last 3 runs all ended on a skipped meta-step; restarting from the best params (eval 1.174) with the meta-optimizer reset and meta-lr 5$" \
    && ok || bad "no stall recovery note: $out"
echo "$out" | grep -q "^4 restarts from the best params after stalls" && ok || bad "restart count: $out"
"$HAMC" run "$tmp/greedy.ham" --task quadratic --runs 20 --params "$tmp/g.ckpt" --json 2>/dev/null | tail -1 | grep -q '"diverged": 0' \
    && ok || bad "the stalled run's checkpoint is not its best params"
out=$("$HAMC" train "$tmp/greedy.ham" --task quadratic --epochs 12 --resume "$tmp/g.ckpt" --out "$tmp/g.ckpt" 2>&1)
echo "$out" | grep -q "restarting from the best params (eval 1.174) with the meta-optimizer reset and meta-lr 0.312$" \
    && ok || bad "a resumed run does not keep the halved meta-lr: $out"

json=$("$HAMC" run "$tmp/explode.ham" --task quadratic --runs 20 --json 2>/dev/null | tail -1)
echo "$json" | grep -q '"diverged": 20' && ok || bad "diverged runs not counted: $json"
echo "$json" | grep -qi 'nan' && bad "NaN in JSON: $json" || ok
/usr/bin/python3 -c 'import json,sys; json.loads(sys.argv[1])' "$json" 2>/dev/null && ok || bad "JSON does not parse"
# A runaway unroll is refused before allocating, with the sizes.
out=$("$HAMC" train "$root/examples/phnn_small.ham" --task quadratic --unroll 100000000 --epochs 1 --out "$tmp/u.ckpt" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "GiB; this machine has" && ok || bad "runaway unroll: $out"
summary
