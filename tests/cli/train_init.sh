#!/usr/bin/env bash
# train_init.sh: `hamc train SPEC --init CKPT`, a fresh run whose params start as a
# checkpoint's, matched by name (compiler/param_init.h):
#   - a spec extending a trained one with a param that changes nothing at its initial
#     value starts exactly where the trained one ended: the same final losses as the
#     trained optimizer on the same tasks; the report line names the params taken
#     and the one that kept its initializer; meta-training from there moves it;
#   - the same optimizer --init'd from its own checkpoint runs as the checkpoint;
#   - refused with one line and a nonzero exit: a param of the same name and another
#     shape (the checkpoint's own hyper overrides sizing its params), a checkpoint
#     sharing no param name, one whose stored spec lacks the optimizer it names, a
#     missing or corrupt file, and --init with --resume.
. "$(dirname "$0")/../cli_common.sh" init
spec=$root/examples/phnn_small.ham
run_final() {   # run_final SPEC CKPT: the mean final loss on 30 fixed quadratics
    "$HAMC" run "$1" --params "$2" --task quadratic --runs 30 --steps 60 --seed 11 --json 2>"$tmp/err" |
        tail -n 1 | /usr/bin/python3 -c 'import json, sys; print(repr(json.loads(sys.stdin.read())["final_mean"]))'
}
"$HAMC" train "$spec" --task quadratic --epochs 3 --runs-per-epoch 5 --eval-runs 10 --seed 3 \
    --out "$tmp/base.ckpt" >/dev/null 2>"$tmp/err" && ok || bad "training the base: $(cat "$tmp/err")"

# phnn_small with a learned gain, e^gain = 1 at its initial value.
sed -e 's/optimizer phnn_small {/optimizer phnn_gain {/' -e 's/^\( *param r\[2\] = -2,\)/    param gain = 0\n\1/' \
    -e 's/update = out_mul \* dot/update = out_mul * exp(gain) * dot/' "$spec" >"$tmp/gain.ham"
grep -q 'exp(gain)' "$tmp/gain.ham" && grep -q 'param gain = 0' "$tmp/gain.ham" && ok || bad "the extended spec: $(cat "$tmp/gain.ham")"
"$HAMC" train "$tmp/gain.ham" --task quadratic --init "$tmp/base.ckpt" --epochs 0 --out "$tmp/gain0.ckpt" \
    >"$tmp/out" 2>"$tmp/err" && ok || bad "--init from another optimizer: $(cat "$tmp/err")"
grep -q "^init: 6 of 7 params of 'phnn_gain' (42 of 43 numbers) from .*base.ckpt ('phnn_small', its best params): W, b, w, r, K, a; kept their initializers: gain$" "$tmp/out" &&
    ok || bad "the report line: $(cat "$tmp/out")"
want=$(run_final "$spec" "$tmp/base.ckpt")
got=$(run_final "$tmp/gain.ham" "$tmp/gain0.ckpt")
[ -n "$want" ] && [ "$want" = "$got" ] && ok || bad "the extended spec does not start where the base ended: $want vs $got"
"$HAMC" train "$tmp/gain.ham" --task quadratic --init "$tmp/base.ckpt" --epochs 2 --runs-per-epoch 5 --eval-runs 10 \
    --out "$tmp/gain2.ckpt" >/dev/null 2>"$tmp/err" && ok || bad "training on from --init: $(cat "$tmp/err")"
/usr/bin/python3 "$root/tests/reliability/ckpt.py" params "$tmp/gain2.ckpt" >"$tmp/p2" 2>&1
/usr/bin/python3 "$root/tests/reliability/ckpt.py" params "$tmp/gain0.ckpt" >"$tmp/p0" 2>&1
! cmp -s "$tmp/p0" "$tmp/p2" && ok || bad "meta-training from --init left the params where they were"

"$HAMC" train "$spec" --task quadratic --init "$tmp/base.ckpt" --epochs 0 --out "$tmp/same.ckpt" >"$tmp/out" 2>"$tmp/err" &&
    ok || bad "--init from the same optimizer: $(cat "$tmp/err")"
grep -q "^init: 6 of 6 params" "$tmp/out" && ! grep -q "kept" "$tmp/out" && ok || bad "same optimizer report: $(cat "$tmp/out")"
[ "$(run_final "$spec" "$tmp/same.ckpt")" = "$want" ] && ok || bad "--init from its own checkpoint runs differently"

# A hyper that sizes a param: the checkpoint's spec is checked with the overrides it was
# trained with, so its a has 3 numbers, and a target with the declared 2 is refused.
printf 'optimizer h {\n    hyper k = 2\n    input g\n    param a[k] = 0\n    update = -0.01 * (1 + sum(a)) * g\n}\n' >"$tmp/h.ham"
"$HAMC" train "$tmp/h.ham" --task quadratic --set k=3 --epochs 1 --runs-per-epoch 2 --eval-runs 2 --out "$tmp/h3.ckpt" \
    >/dev/null 2>"$tmp/err" && ok || bad "training a hyper-sized param: $(cat "$tmp/err")"
"$HAMC" train "$tmp/h.ham" --task quadratic --set k=3 --init "$tmp/h3.ckpt" --epochs 0 --out "$tmp/h3b.ckpt" >"$tmp/out" 2>"$tmp/err" &&
    grep -q "(3 of 3 numbers)" "$tmp/out" && ok || bad "--init with the same hyper: $(cat "$tmp/out" "$tmp/err")"

refused() {   # refused WHAT STATUS PATTERN SPEC [train options]: exit STATUS, one stderr line matching PATTERN
    local what=$1 status=$2 pattern=$3 s=$4
    shift 4
    "$HAMC" train "$s" --task quadratic --epochs 1 --out "$tmp/x.ckpt" "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    [ $rc -eq "$status" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$pattern" "$tmp/err" && [ ! -e "$tmp/x.ckpt" ] &&
        ok || bad "$what: exit $rc, $(cat "$tmp/err")"
}
printf 'optimizer k {\n    input g\n    param K = 0.5, r = 1\n    update = -K * r * g\n}\n' >"$tmp/k.ham"
refused "another shape" 1 "param 'K' is scalar in 'k' but matrix\[2,2\] in 'phnn_small'" "$tmp/k.ham" --init "$tmp/base.ckpt"
printf 'optimizer z {\n    input g\n    param lr = 0.1\n    update = -lr * g\n}\n' >"$tmp/z.ham"
refused "a hyper-sized param of another size" 1 "param 'a' is vector\[2\] in 'h' but vector\[3\] in 'h'" "$tmp/h.ham" --init "$tmp/h3.ckpt"
refused "no shared name" 1 "'phnn_small' has no param named as one of 'z'" "$tmp/z.ham" --init "$tmp/base.ckpt"
/usr/bin/python3 "$root/tests/reliability/ckpt.py" set-str "$tmp/base.ckpt" "$tmp/renamed.ckpt" NAME nosuch
refused "a name its spec lacks" 1 "renamed.ckpt: no optimizer 'nosuch' (checking the spec stored in the checkpoint)" "$spec" --init "$tmp/renamed.ckpt"
refused "a missing file" 1 "$tmp/none.ckpt" "$spec" --init "$tmp/none.ckpt"
head -c 100 "$tmp/base.ckpt" >"$tmp/cut.ckpt"
refused "a truncated file" 1 "cut.ckpt" "$spec" --init "$tmp/cut.ckpt"
refused "--init with --resume" 2 "not both" "$spec" --init "$tmp/base.ckpt" --resume "$tmp/base.ckpt"
summary
