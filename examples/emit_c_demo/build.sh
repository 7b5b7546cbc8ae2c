#!/bin/sh
# build.sh: emit stdlib/adam.ham as C, build train_quadratic.c with nothing but cc and
# libm, and run it.  Usage: examples/emit_c_demo/build.sh  (after `make`)
#
#   hamc emit-c stdlib/adam.ham --double          -o build/adam_f64.c
#   hamc emit-c stdlib/adam.ham --double --header -o build/adam_f64.h
#   cc -std=c99 -O2 train_quadratic.c build/adam_f64.c -lm
#
# While bin/hamc lacks the emit-c command, the same function (c_emit_command in
# compiler/c_emit.c) runs from a three-line driver linked against build/libham.a.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-$root/build/emit_c_demo}
mkdir -p "$out"
export HAM_STDLIB="$root/stdlib"
hamc=${HAMC:-$root/bin/hamc}
if ! "$hamc" help emit-c >/dev/null 2>&1; then
    echo "build.sh: $hamc has no emit-c yet; using examples/emit_c_demo/emit_main.c" >&2
    cc -std=c11 -D_DEFAULT_SOURCE -I "$root/compiler" -I "$root/runtime" -o "$out/emit" \
       "$here/emit_main.c" "$root/build/libham.a" -lm
    hamc=$out/emit
fi
"$hamc" emit-c "$root/stdlib/adam.ham" --double -o "$out/adam_f64.c"
"$hamc" emit-c "$root/stdlib/adam.ham" --double --header -o "$out/adam_f64.h"
cc -std=c99 -Wall -Wextra -pedantic -O2 -I "$out" -o "$out/train_quadratic" \
   "$here/train_quadratic.c" "$out/adam_f64.c" -lm
"$out/train_quadratic"
