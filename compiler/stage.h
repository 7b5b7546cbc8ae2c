/* stage.h: products of parameter matrices with per-coordinate vectors, lowered to GEMMs.
 *
 * Lowering turns W @ x into scalar sums  z_r = sum_c W[r,c] x_c  per coordinate.  For
 * the LSTM (80 x 21 and 80 x 40 gate matrices) these sums are 93% of the work, and
 * as scalar code they run at a fraction of what one GEMM over a block of coordinates
 * reaches:  Z [n x rows] = X [n x cols] W^T.  stage_build finds them in the forward
 * step's DAG and cuts the step into stages:
 *
 *   stage 0 (elementwise) -> GEMMs of level 1 -> stage 1 -> GEMMs of level 2 -> ...
 *
 * A linear form is a sum (an OP_ADD tree) with at least two terms param * v, where v
 * depends on the coordinate, each v once.  Forms over the same set of v's are the
 * rows of one GEMM (a product's rows, a gate's four matrices, W_x x + W_h h over
 * [x; h]).  A form becomes  Y_r + (its other terms), with Y_r a new symbol (SYM_AUX)
 * read from the GEMM's output.  A GEMM's level is one more than the highest level of
 * its v's; a node's level is the highest of its operands' (leaves 0).  Stage k
 * computes the nodes of level k: it stores the v's of later GEMMs (their X matrix)
 * and the values later stages read (carried values) into aux columns, and writes the
 * outputs (next state, update) of level k, except a next state whose old value a later
 * stage still reads: that one waits for the last stage (state_next may alias state).
 * Nodes that do not depend on the coordinate are recomputed by every stage (once per
 * call, in the kernel's entry).
 *
 * The adjoint of a stage is the VJP of its elementwise map (exports and outputs as
 * functions of state, params, and the aux columns it reads), seeded by the adjoints
 * of its exports (SYM_SEED nstate+1+column, accumulated into aux_bar by later stages
 * and the GEMMs' backward products) and of its outputs.  The runtime
 * (runtime/staged.c) runs, per sub-block of coordinates: the forward stages and GEMMs
 * again (exports only), then stage K's adjoint, the level-K GEMMs backward
 * (Xbar += Ybar W, Wbar += Ybar^T X), stage K-1's adjoint, ..., stage 0's.  Exact for
 * the same discrete map: only the order of the sums in the products changes. */
#ifndef HAM_STAGE_H
#define HAM_STAGE_H

#include "codegen.h"

typedef enum {
    STAGE_OFF,    // never stage
    STAGE_AUTO,   // stage when the products are large enough to gain (the default)
    STAGE_FORCE,  // stage every linear form (tests: every spec through the staged path)
} StageMode;

typedef struct StageGemm {
    int level;            // runs after stage level-1 and before stage level
    int rows, cols;       // W is rows x cols
    int x_col, y_col;     // first aux column of X (cols of them) and of Y (rows)
    int *w;               // [rows * cols]: the param index of W[r][c]
} StageGemm;

typedef struct StagedStep {
    int nstage;           // stages 0 .. nstage-1
    int ncol;             // aux columns
    int ngemm;
    StageGemm *gemm;      // by increasing level
    int macs;             // multiply-adds per coordinate in the GEMMs
    KernelPlan *fwd;      // [nstage]: exports and outputs (a plan with nout 0: no kernel)
    KernelPlan *fwd_aux;  // [nstage]: exports only, for the adjoint's recomputation
    KernelPlan *adj;      // [nstage]: NULL without the adjoint
} StagedStep;

/* stage_mode: the mode $HAM_GEMM asks for (off, auto, force), else STAGE_AUTO. */
StageMode stage_mode(void);

/* stage_build: the staged form of s's step (and its adjoint if with_adjoint), or NULL
 * when there is nothing worth staging under mode (or the pool's node limit is hit). */
StagedStep *stage_build(const StepProgram *s, StageMode mode, int with_adjoint);
void stage_free(StagedStep *st);

#endif
