/* lower.h: from a checked optimizer to scalar DAG nodes, one coordinate's worth.
 *
 * The language's values are scalars, vectors and small matrices of static shape;
 * lowering turns each into its elements (row-major), each a DAG node.  The symbols
 * of the DAG are numbered by kind (see sema.h): SYM_STATE index k is the k-th scalar
 * of all states flattened in declaration order, SYM_PARAM likewise for params,
 * SYM_HYPER the hyper's index, SYM_INPUT the InputKind (g, t, theta).  Defs are
 * inlined; a def called twice with the same argument nodes is lowered once. */
#ifndef HAM_LOWER_H
#define HAM_LOWER_H

#include "dag.h"
#include "sema.h"

/* A tensor value: shape and its elements, row-major. */
typedef struct TVal {
    Shape shape;
    const DagNode **el;   // shape_size(shape) nodes, or NULL on failure
} TVal;

typedef struct Lowering Lowering;

/* lower_new: a lowering of `info` into pool; states read the symbols x_t until
 * lower_bind_states says otherwise. */
Lowering *lower_new(Program *prog, OptInfo *info, DagPool *pool, Arena *arena);

/* Bind the names of the states to other nodes (a stage of an integrator), and the
 * primes (x') to the post-step nodes.  NULL restores the symbols / unbinds. */
void lower_bind_states(Lowering *l, const DagNode *const *values);
void lower_bind_primes(Lowering *l, const DagNode *const *values);

/* lower_expr: the elements of e in the current bindings (NULL el on failure, with
 * the pool's error set). */
TVal lower_expr(Lowering *l, Expr *e);

/* Symbols, by kind and scalar index. */
const DagNode *lower_state_sym(Lowering *l, int k);
const DagNode *lower_param_sym(Lowering *l, int k);

/* A display name for scalar k of a symbol ("p", "q[1]", "W[2,0]"). */
const char *lower_scalar_name(Arena *a, const Sym *sym, int k);

/* Constant initial values of a state or param declared `= value`: writes
 * shape_size(sym->shape) doubles (hypers at their declared values).  Returns 0, or
 * -1 if the value is not constant. */
int lower_initial_values(Lowering *l, const Sym *sym, double *out);

#endif
