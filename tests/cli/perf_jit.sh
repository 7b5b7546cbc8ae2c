#!/usr/bin/env bash
# perf_jit.sh: HAM_PERF_JIT=1 reports the JIT's kernels to perf (compiler/jit.c): a
# jitdump file under $JITDUMPDIR/.debug/jit/ that names every compiled kernel, which
# `perf inject --jit` turns into symbols; without the variable no file is written.
# Failures go to stderr; the last line of stdout is `N passed, N failed`.
. "$(dirname "$0")/../cli_common.sh" perf_jit
spec=$root/stdlib/adam.ham

JITDUMPDIR=$tmp/on HAM_PERF_JIT=1 "$HAMC" run "$spec" --task quadratic --runs 2 --steps 3 >"$tmp/out" 2>"$tmp/err" &&
    ok || bad "run with HAM_PERF_JIT=1: $(cat "$tmp/err")"
dump=$(find "$tmp/on" -name 'jit-*.dump' 2>/dev/null | head -n 1)
[ -n "$dump" ] && [ -s "$dump" ] && ok || bad "HAM_PERF_JIT=1 wrote no jitdump under \$JITDUMPDIR/.debug/jit"
[ -n "$dump" ] && grep -a -q 'ham_adam_forward_f32' "$dump" && ok || bad "the jitdump does not name adam's f32 forward kernel"
JITDUMPDIR=$tmp/off "$HAMC" run "$spec" --task quadratic --runs 2 --steps 3 >"$tmp/out" 2>"$tmp/err" && ok ||
    bad "run without HAM_PERF_JIT: $(cat "$tmp/err")"
[ ! -e "$tmp/off" ] && ok || bad "a jitdump was written without HAM_PERF_JIT"
summary
