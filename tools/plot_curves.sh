#!/usr/bin/env bash
# plot_curves.sh OUT.png TITLE NAME=CURVE.csv...: mean loss against step, log scale,
# one line per optimizer with its shaded 95% band, from the curve CSVs that
# `hamc run --csv` writes (columns step,mean,ci95_lo,ci95_hi,median,runs).
# Uses gnuplot (gnuplot-nox, installed by `make deps`); PNG through cairo when the
# terminal exists, libgd otherwise; an .svg OUT gives SVG.
set -euo pipefail
out=$1 title=$2
shift 2
command -v gnuplot >/dev/null || { echo "plot_curves.sh: gnuplot is missing (run make deps)" >&2; exit 1; }
case "$out" in
*.svg) term="svg size 900,600 dynamic" ;;
*) if gnuplot -e "set terminal" 2>&1 | grep -q pngcairo; then term="pngcairo size 900,600"; else term="png size 900,600"; fi ;;
esac
plots=() lines=()
for spec in "$@"; do
    name=${spec%%=*} file=${spec#*=}
    [ -s "$file" ] || { echo "plot_curves.sh: no curve file $file" >&2; exit 1; }
    plots+=("'$file' using 1:(\$3>0?\$3:1e-12):4 every ::1 with filledcurves notitle fs transparent solid 0.15 lc rgb col(${#plots[@]})")
    lines+=("'$file' using 1:2 every ::1 with lines lw 2 lc rgb col(${#lines[@]}) title '$name'")
done
all=$(IFS=,; echo "${plots[*]},${lines[*]}")
gnuplot <<GP
set terminal $term
set output '$out'
set termoption noenhanced
set title '$title'
set xlabel 'step'
set ylabel 'mean loss (95% band)'
set logscale y
set grid
set key outside right
array C[10] = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']
col(i) = C[(i % 10) + 1]
set datafile separator ','
plot $all
GP
