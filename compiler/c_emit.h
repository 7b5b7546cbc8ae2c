/* c_emit.h: `hamc emit-c`, an optimizer as one self-contained C99 file.
 *
 * The emitted .c needs only <math.h>, <stdint.h> and <string.h>: no compiler, no
 * runtime.  It holds, for one optimizer and one precision (T = float or double):
 *
 *   HamStepArgs                      the struct of runtime/kernel.h, same layout,
 *                                    skipped when kernel.h came first
 *   HAM_<OPT>_NSTATE/NPARAM/NHYPER   sizes, in scalars
 *   ham_<opt>_forward_<f32|f64>      the forward kernel (runtime/kernel.h contract)
 *   ham_<opt>_adjoint_<f32|f64>      the adjoint kernel, with_adjoint only
 *   ham_<opt>_init_state_<prec>      (T *state, int64_t n, int64_t stride)
 *   ham_<opt>_step_<prec>            (T *theta, const T *g, T *state, T *scratch,
 *                                     int64_t n, double t): forward with the baked
 *                                    params and hypers, theta += update; scratch
 *                                    holds (NSTATE + 1) * n elements
 *
 * The kernels walk the same KernelPlan as the JIT (codegen.h): one statement per
 * node, in the plan's order, with the semantics of dag_eval_op (dag_eval.c) in T.
 * Header mode writes the matching declarations instead. */
#ifndef HAM_C_EMIT_H
#define HAM_C_EMIT_H

#include <stdio.h>

#include "../runtime/kernel.h"
#include "step.h"

typedef struct CEmitOptions {
    HamPrecision precision;       // HAM_F32 (float) or HAM_F64 (double)
    int with_adjoint;             // also emit the adjoint kernel (needs s->adj_state)
    const double *params;         // [s->nparam] to bake in, or NULL: the initializers
    unsigned long long seed;      // draws random initializers when params is NULL
    const double *hypers;         // [s->nhyper] defaults to bake in, or NULL: the spec's
    int header;                   // 1: the .h (declarations) instead of the .c
    const char *spec_path;        // provenance for the comment block, or NULL
    const char *checkpoint_path;  // where params came from, or NULL
} CEmitOptions;

/* c_emit_default_options: f64, no adjoint, initializers with seed 1, the .c. */
void c_emit_default_options(CEmitOptions *o);

/* c_emit: write the C for s under o to out.  Returns 0, or -1 with a message on
 * stderr (adjoint asked for but not derived, an initializer that is not constant,
 * a symbol no kernel argument holds, or a write error). */
int c_emit(FILE *out, const StepProgram *s, const CEmitOptions *o);

/* c_emit_command: the whole `hamc emit-c` command, argv[0] being "emit-c":
 *     hamc emit-c FILE [--opt NAME] [--float|--double] [--adjoint] [--header]
 *                      [--seed N] [-o OUT]
 * Exit status as the driver's: 0 success, 1 errors in the input, 2 bad usage. */
int c_emit_command(int argc, char **argv);

#endif
