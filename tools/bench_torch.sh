#!/bin/sh
# bench_torch.sh: quadratic meta-training step, ham against the PyTorch reference
# (bench/torch_ref.py), both single-threaded, same configuration: dim 10, meta-batch 1,
# unroll 20, 100 steps per run, Adam lr 0.01.  ham's ms/meta-step comes from its own
# "N meta-steps in S s" line (one epoch, so no per-epoch evaluation/checkpoint cost is
# amortized in; JIT compile time is outside S).  Runs in well under 2 minutes.
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
HAMC=${HAMC:-bin/hamc}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# runs-per-epoch for ham (5 meta-steps per run) sized so S is >= ~1.5 s (printed to 0.1 s)
ham_runs() { case $1 in seed_hnn) echo 40000 ;; lstm) echo 400 ;; esac; }
TORCH_META=${TORCH_META:-200}

printf '%-10s %18s %20s %10s %18s\n' optimizer "ham ms/meta-step" "torch ms/meta-step" "torch/ham" "torch ms/eval-step"
for opt in seed_hnn lstm; do
    line=$(HAM_THREADS=1 "$HAMC" train "stdlib/$opt.ham" --task quadratic --unroll 20 --steps 100 \
        --epochs 1 --runs-per-epoch "$(ham_runs $opt)" --eval-runs 1 --threads 1 \
        --out "$TMP/x.ckpt" 2>/dev/null | grep 'meta-steps in')
    ham_ms=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) meta-steps in \([0-9.]*\) s.*/\1 \2/p' |
        awk '{ printf "%.5f", 1000 * $2 / $1 }')
    json=$(OMP_NUM_THREADS=1 $PY bench/torch_ref.py --optimizer "$opt" --task quadratic \
        --unroll 20 --steps 100 --meta-steps "$TORCH_META" --threads 1)
    t_ms=$(echo "$json" | $PY -c 'import json,sys; d=json.load(sys.stdin); print("%.5f %.5f" % (d["ms_per_meta_step"], d["ms_per_eval_step"]))')
    set -- $t_ms
    awk -v o="$opt" -v h="$ham_ms" -v t="$1" -v e="$2" \
        'BEGIN { printf "%-10s %18.4f %20.4f %9.1fx %18.4f\n", o, h, t, (h > 0 ? t / h : 0), e }'
done
