#!/usr/bin/env bash
# kernel_timing.sh: tools/kernel_timing.sh compiles a spec's kernel as the JIT does and
# times it alone: a timing line for a whole-step kernel and for an LSTM stage kernel
# (with an llc flag passed on), and exit 1 with the kernels listed when the name fits
# none, and with a reason for a staged step's entry point (it would call into hamc).
# Failures go to stderr; the last line of stdout is `N passed, N failed`.
. "$(dirname "$0")/../cli_common.sh" kernel_timing
export HAMC
tool=$root/tools/kernel_timing.sh

"$tool" "$root/stdlib/adam.ham" forward_f32 1000 >"$tmp/out" 2>"$tmp/err" && ok || bad "adam forward_f32: $(cat "$tmp/err")"
grep -Eq '^ham_adam_forward_f32_[0-9]+: n 1000, [0-9.]+ ns \([0-9]+ TSC ticks\) per 16 coordinates' "$tmp/out" && ok ||
    bad "adam forward_f32: no timing line: $(cat "$tmp/out")"
"$tool" "$root/stdlib/lstm_pre.ham" stage1_fwd_f32 -- -enable-misched=false >"$tmp/out" 2>"$tmp/err" && ok ||
    bad "lstm_pre stage1_fwd_f32 with an llc flag: $(cat "$tmp/err")"
grep -Eq '^ham_lstm_pre_stage1_fwd_f32_[0-9]+: n 256, ' "$tmp/out" && ok || bad "lstm_pre stage1_fwd_f32: $(cat "$tmp/out")"
"$tool" "$root/stdlib/adam.ham" stage1_fwd_f32 >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "names 0 kernels of .*ham_adam_forward_f32" "$tmp/err" && ok ||
    bad "a kernel adam lacks: want exit 1 and the kernels listed, got: $(cat "$tmp/err")"
"$tool" "$root/stdlib/lstm_pre.ham" forward_f32 >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "entry point" "$tmp/err" && ok ||
    bad "a staged step's entry point: want exit 1 and the reason, got: $(cat "$tmp/err")"
summary
