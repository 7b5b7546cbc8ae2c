#!/usr/bin/env bash
# blas_kernels.sh: the OpenBLAS kernels hamc chooses (runtime/blas_setup.h).
#   - `hamc --version` names them and says who chose: with OPENBLAS_CORETYPE unset,
#     the kernels the CPU's flags in /proc/cpuinfo call for (an oracle independent of
#     the compiler's __builtin_cpu_supports), or OpenBLAS's own choice where the rule
#     leaves it; the user's OPENBLAS_CORETYPE wins, and where it names other kernels
#     than hamc's rule would, --version says which; HAM_BLAS_CHOOSE=0 leaves it to
#     OpenBLAS;
#   - the program executed again with the variable set is the same program: arguments
#     with spaces, stdin, stdout, stderr and the exit status pass through;
#   - the kernels change no result beyond rounding: an MNIST Adam run under hamc's
#     choice and under OpenBLAS's agrees to 1e-5;
#   - the staged LSTM's gate products, written by OpenBLAS's small-matrix kernels with
#     beta 0 under the AVX-512 kernels (runtime/staged.c), give the same bytes as Y
#     zeroed and the product added (HAM_GEMM_BETA0=0): the curves of MNIST runs and a
#     meta-trained checkpoint (its adjoint recomputes the forward).  On a CPU whose
#     kernels have no small-matrix path both runs take the memset, and the check is
#     only that the variable changes nothing.
# Failures go to stderr; the last line of stdout is `N passed, N failed`.
. "$(dirname "$0")/../cli_common.sh" blas_kernels
unset OPENBLAS_CORETYPE HAM_BLAS_CHOOSE HAM_BLAS_CHOSEN

# ---- who chose, and what ----
flags=" $(grep -m 1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { case $flags in *" $1 "*) return 0 ;; esac; return 1; }
expect=""
if has avx512f && has avx512cd && has avx512bw && has avx512dq && has avx512vl; then
    if has avx512_bf16; then expect=Cooperlake; else expect=SkylakeX; fi
elif grep -q -m 1 GenuineIntel /proc/cpuinfo && has avx2 && has fma; then
    expect=Haswell
fi
"$HAMC" --version >"$tmp/out" 2>"$tmp/err" && ok || bad "hamc --version: $(cat "$tmp/err")"
if [ -n "$expect" ]; then
    grep -q "; $expect kernels, chosen by hamc from the CPU's features\$" "$tmp/out" && ok ||
        bad "hamc --version should say '$expect kernels, chosen by hamc': $(cat "$tmp/out")"
    grep -q "OpenBLAS .* $expect " "$tmp/out" && ok || bad "OpenBLAS's config should name $expect: $(cat "$tmp/out")"
else
    grep -q "kernels, OpenBLAS's own choice\$" "$tmp/out" && ok ||
        bad "no rule for this CPU, yet: $(cat "$tmp/out")"
fi
# The user's choice, and what hamc would have chosen where it differs.
said="as OPENBLAS_CORETYPE says${expect:+ (unset, hamc would choose $expect here)}"
OPENBLAS_CORETYPE=Prescott "$HAMC" --version >"$tmp/out" 2>&1
grep -q "; Prescott kernels, $said\$" "$tmp/out" && ok ||
    bad "OPENBLAS_CORETYPE=Prescott should win, and say '$said': $(cat "$tmp/out")"
if [ -n "$expect" ]; then
    OPENBLAS_CORETYPE=$(echo "$expect" | tr 'A-Z' 'a-z') "$HAMC" --version >"$tmp/out" 2>&1
    grep -q "; $expect kernels, as OPENBLAS_CORETYPE says\$" "$tmp/out" && ok ||
        bad "OPENBLAS_CORETYPE naming hamc's own choice needs no remark: $(cat "$tmp/out")"
fi
HAM_BLAS_CHOOSE=0 "$HAMC" --version >"$tmp/out" 2>&1
grep -q "kernels, OpenBLAS's own choice\$" "$tmp/out" && ok ||
    bad "HAM_BLAS_CHOOSE=0 should leave the kernels to OpenBLAS: $(cat "$tmp/out")"
# A stale mark from a parent does not make the user's choice hamc's.
HAM_BLAS_CHOSEN=Haswell OPENBLAS_CORETYPE=Prescott "$HAMC" --version >"$tmp/out" 2>&1
grep -q "Prescott kernels, $said\$" "$tmp/out" && ok ||
    bad "a stale HAM_BLAS_CHOSEN took the user's choice: $(cat "$tmp/out")"

# ---- the second execution is the same program ----
mkdir "$tmp/a dir"
printf 'optimizer bad {\n  state v\n  param lr = 0.1\n  update = -lr * q\n}\n' >"$tmp/a dir/bad spec.ham"
"$HAMC" check "$tmp/a dir/bad spec.ham" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 1 ] && ok || bad "check of a bad spec: exit status $status, not 1"
grep -q "^$tmp/a dir/bad spec.ham:[0-9]*:[0-9]*: error: " "$tmp/err" && ok ||
    bad "the error names the file with its spaces: $(cat "$tmp/err")"
printf 'task quadratic\nrun adam runs=4 steps=5\n' | "$HAMC" repl >"$tmp/out" 2>"$tmp/err" && ok ||
    bad "a REPL session on stdin: $(tail -n 3 "$tmp/err")"
grep -q "final loss" "$tmp/out" && ok || bad "the REPL read its stdin: $(tail -n 5 "$tmp/out")"

# ---- the same numbers, whatever the kernels ----
run_mnist() (
    set -o pipefail
    "$HAMC" run "$root/stdlib/adam.ham" --task mnist --runs 4 --steps 20 --seed 3 --json 2>"$tmp/err" | tail -n 1
)
run_mnist >"$tmp/chosen.json" && HAM_BLAS_CHOOSE=0 run_mnist >"$tmp/own.json" && ok ||
    bad "MNIST Adam runs: $(cat "$tmp/err")"
/usr/bin/python3 - "$tmp/chosen.json" "$tmp/own.json" <<'PY' >"$tmp/py.out" 2>&1 && ok ||
import json, sys
a, b = (json.load(open(f))["curve_mean"] for f in sys.argv[1:3])
assert len(a) == len(b) == 21
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
assert worst < 1e-5, f"curves differ by {worst:.2e} relative"
PY
    bad "hamc's kernels against OpenBLAS's: $(cat "$tmp/py.out")"

# ---- the staged products with beta 0 or after a memset: the same bytes ----
case $expect in
SkylakeX | Cooperlake) ;;
*) echo "note: no AVX-512 kernels here (${expect:-left to OpenBLAS}): both runs below take the memset" ;;
esac
lstm=$root/stdlib/lstm_pre.ham
for b in 1 0; do
    HAM_GEMM_BETA0=$b "$HAMC" run "$lstm" --task mnist --runs 2 --steps 12 --seed 5 --csv "$tmp/lstm$b.csv" \
        >/dev/null 2>"$tmp/err" && ok || bad "lstm_pre run (HAM_GEMM_BETA0=$b): $(cat "$tmp/err")"
    HAM_GEMM_BETA0=$b "$HAMC" train "$lstm" --task mnist --out "$tmp/lstm$b.ckpt" --unroll 4 --steps 8 --epochs 1 \
        --runs-per-epoch 2 --eval-runs 1 --seed 5 >/dev/null 2>"$tmp/err" && ok ||
        bad "lstm_pre train (HAM_GEMM_BETA0=$b): $(cat "$tmp/err")"
done
[ -s "$tmp/lstm1.csv" ] && cmp -s "$tmp/lstm1.csv" "$tmp/lstm0.csv" && ok ||
    bad "lstm_pre's MNIST curves differ between beta 0 and memset + beta 1"
[ -s "$tmp/lstm1.ckpt" ] && cmp -s "$tmp/lstm1.ckpt" "$tmp/lstm0.ckpt" && ok ||
    bad "lstm_pre's checkpoints differ between beta 0 and memset + beta 1"
summary
