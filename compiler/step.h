/* step.h: the symbolic core's product: one coordinate's forward step and its adjoint.
 *
 * For a checked optimizer, step_build derives, as scalar DAG nodes:
 *   - the dynamics (when there is a hamiltonian): H, dH/dx derived symbolically from
 *     the scalar H, the matrices J, R, G and the port input u, the vector field
 *         f(x, u) = (J - R) dH/dx + G u,
 *     and the two terms of the energy balance dH/dt = -dH/dx^T R dH/dx + y^T u with
 *     y = G^T dH/dx;
 *   - the discrete step: x_{t+1} = Phi(x_t, u_t) by the chosen integrator for the
 *     dynamic states, the `next` values for the others, and the update (which may
 *     read the post-step states x');
 *   - the adjoint: given seeds xbar' (of x_{t+1}) and ubar (of the update),
 *         xbar   = (dPhi/dx)^T xbar' + (dupd/dx)^T ubar
 *         phibar = (dPhi/dphi)^T xbar' + (dupd/dphi)^T ubar
 *         gbar   = (dPhi/dg)^T xbar' + (dupd/dg)^T ubar       (and thetabar alike)
 *     by one reverse sweep, exact for the discrete map whatever the integrator.
 *     Meta-training as Andrychowicz et al. (2016) treats the gradient input as data
 *     and uses xbar and phibar only; the exact meta-gradient also carries gbar through
 *     the optimizee's Hessian and adds thetabar (runtime/batch.h).
 * Symbols: SYM_STATE k (state scalar k), SYM_PARAM k, SYM_HYPER k, SYM_INPUT
 * (InputKind), SYM_SEED k for xbar'[k] (k < nstate) and ubar (k = nstate). */
#ifndef HAM_STEP_H
#define HAM_STEP_H

#include "lower.h"

typedef struct StepOptions {
    int integrator;       // IntegratorKind to use instead of the spec's, or -1
    double dt;            // dt to use instead of the spec's, or 0
    DagRules rules;       // simplification while building (DAG_RULES_SOUND by default)
    int no_adjoint;       // skip the adjoint
} StepOptions;

typedef struct StepProgram {
    Program *prog;
    OptInfo *info;
    DagPool *pool;
    Arena *arena;
    int nstate, nparam, nhyper, nseed;   // scalars of each symbol class
    const char **state_names, **param_names, **hyper_names;
    double *hyper_values;                // the spec's values
    IntegratorKind integrator;
    double dt;

    /* The dynamics (all NULL without a hamiltonian).  Matrices are row-major. */
    int ndyn, nu;
    int *dyn_state;                      // dynamic scalar i is state scalar dyn_state[i]
    const DagNode *H;
    const DagNode **dHdx;                // [ndyn]
    const DagNode **J, **R, **G;         // [ndyn*ndyn], [ndyn*ndyn], [ndyn*nu]
    const DagNode **u, **y;              // [nu]
    const DagNode **field;               // [ndyn]
    const DagNode *dissipated;           // dH/dx^T R dH/dx
    const DagNode *supplied;             // y^T u

    /* The step and its adjoint. */
    const DagNode **next;                // [nstate]: x_{t+1}
    const DagNode *update;
    const DagNode **adj_state;           // [nstate]: xbar
    const DagNode **adj_param;           // [nparam]: phibar (= adj_state + nstate)
    const DagNode **adj_input;           // [2]: gbar, thetabar (= adj_param + nparam)
} StepProgram;

void step_default_options(StepOptions *o);

/* step_build: NULL with a message on d if the pool's node limit is hit or the spec
 * asks for something this integrator cannot do. */
StepProgram *step_build(Program *prog, OptInfo *info, Arena *a, Diag *d, const StepOptions *o);
void step_free(StepProgram *s);   // frees the pool; the arena is the caller's

/* step_subst: rebuild roots with state symbol k replaced by repl[k] (NULL: kept). */
int step_subst(DagPool *p, int nstate, const DagNode *const *repl, int nroots,
               const DagNode *const *roots, const DagNode **out);

/* The symbols' initial values: states from their declarations, params from theirs
 * (random ones drawn by rng_normal/rng_uniform callbacks), hypers as declared. */
typedef double (*StepRandom)(void *ctx, int normal, double a, double b);
int step_initial_state(const StepProgram *s, double *state);
int step_initial_params(const StepProgram *s, double *params, StepRandom draw, void *ctx);
/* step_param_distribution: the arguments (a, b) of a param declared `~ normal(a, b)` or
 * `~ uniform(a, b)`; -1 for a param with a constant initial value. */
int step_param_distribution(const StepProgram *s, const Sym *param, double ab[2]);

#endif
