/* derive.h: `hamc derive` (the derived equations, printed for people) and
 * `hamc gradcheck` (the adjoint against finite differences of the step). */
#ifndef HAM_DERIVE_H
#define HAM_DERIVE_H

#include <stdio.h>

#include "rng.h"
#include "step.h"

enum { DUMP_FIELD = 1, DUMP_STEP = 2, DUMP_ADJOINT = 4, DUMP_DAG = 8, DUMP_ALL = 7 };

/* derive_print: what `dump` selects, plus a summary with node counts (before and
 * after simplification, from a second build without rules). */
void derive_print(FILE *out, StepProgram *s, int dump, int nodes_unsimplified);

/* derive_set_latex: print the equation groups of derive_print as LaTeX align*
 * environments instead of text (derive_latex.c). */
void derive_set_latex(int on);
void derive_latex_group(FILE *out, const char *title, int n, const DagNode *const *roots,
                        const char *const *names);

/* derive_dump_python: every derived program as Python for tests/oracle: a function
 * build(sym, C, F) that makes each node with sym(name), C(value) and F[opname](...),
 * and returns the named lists (next, update, adj_state, adj_param, H, dHdx, J, R, G,
 * u, field, dissipated, supplied).  Symbols: s<k> state, w<k> param, h<k> hyper,
 * i<k> input, z<k> seed. */
void derive_dump_python(FILE *out, StepProgram *s);

typedef struct GradcheckResult {
    double worst_rel;      // the largest relative error seen
    const char *worst_at;  // which derivative it was ("W[1,0]", "state p")
    int checked;           // derivatives compared
    int skipped;           // at kinks (one-sided slopes differ) or non-finite values
} GradcheckResult;

/* derive_gradcheck: at `trials` random points (states reached by running the step
 * from the initial state on random gradients, params from their initializers plus
 * noise), compare the adjoint with central differences of seeds . (x', update). */
int derive_gradcheck(StepProgram *s, int trials, unsigned long long seed, GradcheckResult *r);


#endif
