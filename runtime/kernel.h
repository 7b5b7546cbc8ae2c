/* kernel.h: the contract between compiled optimizer kernels and the runtime.
 *
 * A kernel runs one optimizer step (forward) or its adjoint for a block of
 * coordinates [begin, end).  Data is laid out as structure of arrays: state scalar s
 * of coordinate i is state[s * stride + i].  Every array has the kernel's element
 * type (float for f32 kernels, double for f64), including params and hypers.
 *
 * forward:  reads  state, g, theta, t, params, hypers
 *           writes state_next (S arrays), update (the step added to theta)
 * adjoint:  reads  state, g, theta, t, params, hypers, state_next_bar, update_bar
 *           writes state_bar (S arrays) and param_bar[P]: the sum over the block's
 *           coordinates of each param's adjoint (written, not accumulated); and,
 *           where the kernel has input_adjoints and the pointers are not NULL, g_bar
 *           and theta_bar: the adjoints of the inputs g and theta (for the exact
 *           meta-gradient, runtime/batch.h).
 * The sum in param_bar is taken in a fixed order for a given block (lane partials,
 * then lanes in order), so results do not depend on threads: the runtime splits n
 * into blocks of HAM_BLOCK coordinates and adds the blocks' sums in block order.
 *
 * JIT-compiled kernels and the C that `hamc emit-c` writes share this ABI; neither
 * needs the compiler at run time. */
#ifndef HAM_KERNEL_H
#define HAM_KERNEL_H

#include <stdint.h>

/* Coordinates per block: large enough to amortize a call, small enough that 2 cores
 * get balanced work on 10^4 coordinates (MNIST's 16k). */
#define HAM_BLOCK 2048

#ifndef HAM_STEP_ARGS_DEFINED   // emitted C defines the same struct under this guard
#define HAM_STEP_ARGS_DEFINED
typedef struct HamStepArgs {
    int64_t begin, end;          // coordinates [begin, end)
    int64_t stride;              // distance between two state arrays, >= end
    const void *state;           // [S * stride]
    const void *g, *theta;       // [n]
    double t;                    // the step, from 1
    const void *params;          // [P]
    const void *hypers;          // [H]
    void *state_next;            // forward: [S * stride]
    void *update;                // forward: [n]
    const void *state_next_bar;  // adjoint: [S * stride]
    const void *update_bar;      // adjoint: [n]
    void *state_bar;             // adjoint: [S * stride] (never state_next_bar itself:
                                 // a staged step reads xbar' in several stages)
    void *param_bar;             // adjoint: [P], this block's sum
    /* Only for the stage kernels of a staged step (runtime/staged.h), which run on
     * one sub-block [0, end) of a block with its arrays offset to the sub-block: */
    int64_t aux_stride;          // distance between two aux columns
    void *aux;                   // [columns * aux_stride]: GEMM operands and carried values
    void *aux_bar;               // [columns * aux_stride]: their adjoints (accumulated)
    void *g_bar, *theta_bar;     // adjoint: [n] each, or NULL (not written)
} HamStepArgs;
#endif

typedef void (*HamKernelFn)(const HamStepArgs *args);

typedef enum { HAM_F32, HAM_F64 } HamPrecision;

/* How a param starts: a constant per scalar, or drawn from a distribution. */
typedef enum { HAM_INIT_VALUES, HAM_INIT_NORMAL, HAM_INIT_UNIFORM } HamInitKind;

typedef struct HamArrayInfo {
    const char *name;
    int rank, dim[2];            // static shape: scalar, vector[dim0], matrix[dim0, dim1]
    int offset, size;            // first scalar and count in the flat array
    HamInitKind init;
    double a, b;                 // normal(mean a, std b) / uniform(lo a, hi b)
    const double *values;        // HAM_INIT_VALUES: `size` initial values
} HamArrayInfo;

typedef struct HamKernelInfo {
    const char *name;            // the optimizer's name
    uint64_t spec_hash;          // of the derived forward step (codegen_hash): comments and
                                 // formatting do not change it, any change to the math does
    int nstate, nparam, nhyper;  // scalars
    int nstate_arrays, nparam_arrays;
    const HamArrayInfo *states, *params;
    const char *const *hyper_names;
    const double *hyper_values;  // as declared; the runtime may override
    int input_adjoints;          // the adjoint writes HamStepArgs.g_bar and theta_bar
    int theta_bar_nonzero;       // the step reads theta: theta_bar is not 0 everywhere
} HamKernelInfo;

typedef struct HamKernel {
    HamKernelInfo info;
    HamKernelFn forward[2];      // [HAM_F32], [HAM_F64]
    HamKernelFn adjoint[2];      // NULL when not compiled
} HamKernel;

#endif
