# fixtures.bash: helpers the reliability suites source (not a suite itself: run_all.sh
# runs tests/reliability/*.sh only).
#
#   mkidx FILE TYPE DIM...   an IDX file: magic 00 00 TYPE NDIMS, the dims as big-endian
#                            u32, then prod(DIM) bytes, byte i being i % 10 (valid labels)
#   mktiny DIR               a valid miniature MNIST in DIR: 4 training images and 2 test
#                            images of 28 x 28, with their labels (task "mnist data=DIR")

mkidx() {
    local f=$1 type=$2 n=1 d
    shift 2
    {
        printf "\\000\\000\\$(printf %03o "$type")\\$(printf %03o $#)"
        for d in "$@"; do
            n=$((n * d))
            printf "\\$(printf %03o $((d >> 24 & 255)))\\$(printf %03o $((d >> 16 & 255)))"
            printf "\\$(printf %03o $((d >> 8 & 255)))\\$(printf %03o $((d & 255)))"
        done
        awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "%c", i % 10 }'
    } >"$f"
}

mktiny() {
    mkdir -p "$1"
    mkidx "$1/train-images-idx3-ubyte" 8 4 28 28
    mkidx "$1/train-labels-idx1-ubyte" 8 4
    mkidx "$1/t10k-images-idx3-ubyte" 8 2 28 28
    mkidx "$1/t10k-labels-idx1-ubyte" 8 2
}
