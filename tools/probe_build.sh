# probe_build.sh: what tools/probe.sh and tools/layer_probe.sh share, sourced by them:
#     probe_build TOOL SPEC OUT DRIVER [cc arguments...]
# emits SPEC with `hamc emit-c --float` and the options in the array emit (--params,
# --opt) into $tmp/opt.c, finds the optimizer's name (set as $name) and state count, and
# compiles DRIVER with it into OUT, naming its step and state initializer by
# -DPROBE_STEP, -DPROBE_INIT and -DPROBE_NSTATE.  Needs $hamc and $tmp; exits 1, naming
# TOOL, when the emitted C has no step function.
probe_build() {
    local tool=$1 spec=$2 out=$3 driver=$4 nstate
    shift 4
    "$hamc" emit-c "$spec" --float "${emit[@]}" -o "$tmp/opt.c"
    name=$(sed -n 's/^void ham_\([A-Za-z0-9_]*\)_step_f32(.*/\1/p' "$tmp/opt.c" | head -n 1)
    nstate=$(sed -n 's/^#define HAM_[A-Z0-9_]*_NSTATE \([0-9]*\)$/\1/p' "$tmp/opt.c" | head -n 1)
    [ -n "$name" ] && [ -n "$nstate" ] || { echo "$tool: no step function in the emitted C" >&2; exit 1; }
    cc -O2 -o "$out" -DPROBE_STEP="ham_${name}_step_f32" -DPROBE_INIT="ham_${name}_init_state_f32" \
        -DPROBE_NSTATE="$nstate" "$driver" "$tmp/opt.c" "$@"
}
