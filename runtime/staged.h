/* staged.h: running a staged step: elementwise stage kernels around BLAS GEMMs.
 *
 * The compiler (compiler/stage.h) cuts a step whose parameter-matrix products are
 * large into stages; each stage is a JIT kernel over [0, end) of a sub-block whose
 * arrays are offset to it, reading and writing aux columns (HamStepArgs.aux).  A
 * HamStaged describes the stages and the GEMMs between them; ham_staged_run does one
 * block of a forward step or of its adjoint with the same contract as an ordinary
 * kernel (runtime/kernel.h), so the runtime cannot tell them apart: the JIT's entry
 * points for a staged step are small functions calling ham_staged_run.
 *
 * Sub-blocks of HAM_STAGED_SUB coordinates keep the aux columns in cache.  Results
 * depend only on the block's bounds, never on the thread running it: every GEMM is
 * a single-threaded OpenBLAS call on fixed sizes, and the param adjoints are summed
 * stage by stage, sub-block by sub-block, in order. */
#ifndef HAM_STAGED_H
#define HAM_STAGED_H

#include "kernel.h"

/* Measured on the MNIST LSTM eval step under load (3-4): 5.3-5.7 ms at 128-256
 * coordinates, 5.9-6.3 at 512, 6.8 at 2048; the meta-step was too noisy to rank.  On a
 * Zen 5 (1 MiB L2; fastest of 4 interleaved rounds) the forward kernel took 1.41-1.47 ms
 * at 128 and 256, 1.67 at 512, 1.75 at 1024.  -DHAM_STAGED_SUB=N builds another size. */
#ifndef HAM_STAGED_SUB
#define HAM_STAGED_SUB 256
#endif

/* The aux columns' leading dimension (HamStepArgs.aux_stride) for blocks of n
 * coordinates: the sub-block rounded up to whole cache lines, plus a line when that is
 * a multiple of 256 elements. */
static inline int ham_staged_leading_dim(int64_t n)
{
    int ld = (int)((n < HAM_STAGED_SUB ? n : HAM_STAGED_SUB) + 15) / 16 * 16;
    return ld % 256 == 0 ? ld + 16 : ld;
}

typedef struct HamStagedGemm {
    int level;               // runs after stage level-1, before stage level
    int rows, cols;          // W: rows x cols, W[r][c] = params[w[r * cols + c]]
    int x_col, y_col;        // X = aux columns x_col.., Y = aux columns y_col..
    int *w;
} HamStagedGemm;

/* A run of consecutive params packed consecutively: packed[at + i] = params[param + i]
 * for i < len, `at` counting over all GEMMs' weights in order. */
typedef struct HamStagedRun {
    int param, at, len;
} HamStagedRun;

typedef struct HamStaged {
    int nstage, ncol, ngemm;
    int nstate, nparam;
    HamStagedGemm *gemm;
    int nrun, nweight;       // the GEMMs' weights as runs, and their count (ham_staged_index)
    HamStagedRun *run;
    int gemm_beta0;          // forward f32 GEMMs may write Y with beta 0 (staged.c):
                             // with OpenBLAS's small-matrix kernels, unless
                             // HAM_GEMM_BETA0=0 (for tests: the same bits either way)
    /* [precision][stage]; NULL where a stage has nothing to do. */
    HamKernelFn *fwd[2];     // exports and outputs
    HamKernelFn *fwd_aux[2]; // exports only (the adjoint's recomputation)
    HamKernelFn *adj[2];
} HamStaged;

/* ham_staged_new: an empty description with room for nstage stages and ngemm GEMMs
 * (the caller fills it, then calls ham_staged_index); ham_staged_free frees it and
 * its arrays. */
HamStaged *ham_staged_new(int nstage, int ngemm);
void ham_staged_free(HamStaged *st);

/* ham_staged_index: the runs of the filled-in GEMMs' weights.  Packing them and adding
 * their adjoints back run by run is a copy and a vector add where an element at a time
 * was an indexed load per weight: the LSTM's 5000 weights are 20-param rows. */
void ham_staged_index(HamStaged *st);

/* ham_staged_run: one block, args as for a kernel.  which = 2 * adjoint + precision
 * (HamPrecision).  On out-of-memory it reports and exits, as the runtime does. */
void ham_staged_run(const HamStaged *st, int which, const HamStepArgs *args);

#endif
