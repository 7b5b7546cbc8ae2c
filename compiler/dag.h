/* dag.h: the hash-consed scalar expression DAG, the symbolic core of the compiler.
 *
 * Lowering turns each .ham expression into scalar nodes per coordinate; everything
 * after that (dH/dx, integrator steps, adjoints, the interpreter, LLVM IR and C) works
 * on these nodes.  A DagNode is an op (ops.def) applied to up to three operand nodes,
 * or a leaf: a double constant or a symbol (class + index, e.g. state 2).
 *
 * Ownership and sharing.  A DagPool owns every node it makes; all of them die at once
 * with dag_pool_free (one pool per compilation or per REPL entry).  Nodes are
 * immutable and hash-consed: structurally equal nodes are the same pointer, so
 * pointer equality is structural equality and common subexpressions are shared for
 * free.  Each node has a dense id in creation order; operands are always made before
 * their users, so increasing id is a topological order.  Never free a node or write
 * its fields.
 *
 * Errors.  Constructors never crash on size: past the pool's node limit they return
 * NULL and the pool records the error.  Every constructor accepts NULL operands and
 * returns NULL, so a caller can build a whole expression and check dag_pool_failed
 * (or the final pointer) once, as with NaN.
 *
 * Simplification.  The smart constructors apply rewrite rules chosen by the pool's
 * DagRules (default DAG_RULES_SOUND: only rewrites exact in IEEE double for every
 * input, including -0, inf and NaN; see dag_simplify.c for the list and the few
 * where "exact" is up to rounding).  DAG_RULES_ALGEBRAIC adds real-number identities
 * that hold for finite values only (x*0 = 0, x - x = 0, constant collection).
 *
 * Not thread-safe: a pool, and the traversals over its nodes (which use a scratch
 * field in each node), belong to one thread at a time. */
#ifndef HAM_DAG_H
#define HAM_DAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { DAG_COMM = 1, DAG_BOOL = 2 };  // DagOpInfo.flags, see ops.def

typedef enum {
#define OP(e, name, arity, infix, prec, flags) OP_##e,
#include "ops.def"
#undef OP
    OP_COUNT
} DagOp;

typedef struct DagOpInfo {
    const char *name;   // "tanh": the .ham function name, also used in dumps
    int arity;          // 0 (leaf) .. 3 (select)
    const char *infix;  // "+", "<=", "!" or NULL for call syntax
    int prec;           // printing precedence, larger binds tighter
    int flags;          // DAG_COMM | DAG_BOOL
} DagOpInfo;

extern const DagOpInfo dag_op_info[OP_COUNT];

/* What a symbol stands for; the interpreter reads its value from the matching array
 * of a DagEnv, and code generators map each class to its own argument. */
typedef enum {
    SYM_INPUT,        // per-coordinate runtime input: g, t, theta
    SYM_STATE,        // per-coordinate state x_t
    SYM_PARAM,        // learned parameter phi, shared by all coordinates
    SYM_HYPER,        // hyperparameter, constant at run time but overridable
    SYM_SEED,         // adjoint seed (incoming cotangent) of a reverse sweep
    SYM_AUX,          // anything else (temporaries of later passes, tests)
    SYM_CLASS_COUNT,
} SymClass;

typedef struct DagNode DagNode;
struct DagNode {
    DagOp op;                 // what this node computes
    int id;                   // dense, creation order: a topological order
    const DagNode *kid[3];    // operands, kid[0..arity); unused ones are NULL
    double value;             // OP_CONST: the constant (NaN is one canonical NaN)
    SymClass cls;             // OP_SYM: the symbol's class ...
    int index;                // ... and its index within the class
    const char *name;         // OP_SYM: display name (owned by the pool), or NULL
    /* Private to the dag module. */
    uint64_t hash;            // of op, operands and payload
    DagNode *chain;           // next node in the same hash bucket
    int slot;                 // traversal scratch: position in the last dag_topo list
};

typedef struct DagPool DagPool;

/* Which rewrites the smart constructors apply (each level includes the previous). */
typedef enum {
    DAG_RULES_NONE,       // hash-consing and operand ordering only, no folding
    DAG_RULES_SOUND,      // + rewrites exact for all IEEE inputs (the default)
    DAG_RULES_ALGEBRAIC,  // + identities valid for finite values (x*0 = 0, ...)
} DagRules;

/* Pools. */
DagPool *dag_pool_new(void);
void dag_pool_free(DagPool *p);
void dag_pool_set_rules(DagPool *p, DagRules rules);
DagRules dag_pool_rules(const DagPool *p);
void dag_pool_set_algebraic(DagPool *p, int on);  // ALGEBRAIC if on, else SOUND
void dag_pool_set_limit(DagPool *p, int max_nodes);
int dag_pool_size(const DagPool *p);               // nodes made so far
int dag_pool_failed(const DagPool *p);             // nonzero once a limit was hit
const char *dag_pool_error(const DagPool *p);      // message, or "" if none
const DagNode *dag_node_by_id(const DagPool *p, int id);

/* Leaves.  dag_sym keys on (cls, index); the first name given for a symbol sticks. */
const DagNode *dag_const(DagPool *p, double value);
const DagNode *dag_sym(DagPool *p, SymClass cls, int index, const char *name);

/* Smart constructors: simplify under the pool's rules, then hash-cons. */
const DagNode *dag_unary(DagPool *p, DagOp op, const DagNode *a);
const DagNode *dag_binary(DagPool *p, DagOp op, const DagNode *a, const DagNode *b);
const DagNode *dag_select(DagPool *p, const DagNode *c, const DagNode *a,
                          const DagNode *b);
/* dag_op: any non-leaf op with operands a, b, c (unused ones ignored). */
const DagNode *dag_op(DagPool *p, DagOp op, const DagNode *a, const DagNode *b,
                      const DagNode *c);
const DagNode *dag_add(DagPool *p, const DagNode *a, const DagNode *b);
const DagNode *dag_sub(DagPool *p, const DagNode *a, const DagNode *b);
const DagNode *dag_mul(DagPool *p, const DagNode *a, const DagNode *b);
const DagNode *dag_div(DagPool *p, const DagNode *a, const DagNode *b);
const DagNode *dag_pow(DagPool *p, const DagNode *a, const DagNode *b);
const DagNode *dag_neg(DagPool *p, const DagNode *a);
const DagNode *dag_powi(DagPool *p, const DagNode *a, int k);  // a^k, k integer

/* dag_simplify_roots: rebuild roots[0..n) bottom-up under the pool's current rules
 * into out[] (memoized across the roots); returns 0, or -1 if the pool failed.
 * Used after differentiation, or after switching to DAG_RULES_ALGEBRAIC. */
int dag_simplify_roots(DagPool *p, int n, const DagNode *const *roots,
                       const DagNode **out);
const DagNode *dag_simplify(DagPool *p, const DagNode *node);

/* Differentiation (dag_diff.c).  Non-differentiable points follow PyTorch; each rule
 * is written out as math in dag_diff.c.  The nodes in wrt[] are independent
 * variables: usually symbols; any other node is treated as a leaf (its operands are
 * not differentiated through).  A derivative that is structurally zero is the
 * constant 0.
 *
 * dag_diff: d f / d x, by one forward sweep.
 * dag_jvp: result[k] = sum_j d outs[k] / d wrt[j] * tangents[j].
 * dag_vjp: result[j] = sum_k seeds[k] * d outs[k] / d wrt[j], by one reverse sweep
 *   over the nodes reachable from outs in decreasing id order.
 * Both return 0, or -1 if the pool failed (result[] then holds NULLs). */
const DagNode *dag_diff(DagPool *p, const DagNode *f, const DagNode *x);
int dag_jvp(DagPool *p, int nwrt, const DagNode *const *wrt,
            const DagNode *const *tangents, int nout, const DagNode *const *outs,
            const DagNode **result);
int dag_vjp(DagPool *p, int nout, const DagNode *const *outs,
            const DagNode *const *seeds, int nwrt, const DagNode *const *wrt,
            const DagNode **result);

/* Interpreter (dag_eval.c): the reference semantics, the oracle for the JIT. */
typedef struct DagEnv {
    const double *values[SYM_CLASS_COUNT];  // values[cls][index]
    int count[SYM_CLASS_COUNT];             // length of each array (bounds check)
} DagEnv;

/* dag_eval_op: the scalar semantics of op on operands a, b, c (unused ones ignored).
 * Constant folding calls it too, so folding and evaluation agree bit for bit. */
double dag_eval_op(DagOp op, double a, double b, double c);

/* dag_eval: out[k] = value of roots[k]; each reachable node is computed once, in id
 * order.  Returns 0, or -1 if a root is NULL or a symbol has no value in env (out[]
 * is then filled with NaN and the message goes to dag_eval_error()). */
int dag_eval(int nroots, const DagNode *const *roots, const DagEnv *env, double *out);
const char *dag_eval_error(void);

/* Traversal.  dag_topo: the distinct nodes reachable from roots (leaves included),
 * sorted by id, as an array the caller releases with dag_realloc(list, 0).  Also sets
 * each listed node's slot to its position, which dag_in_topo checks. */
const DagNode **dag_topo(int nroots, const DagNode *const *roots, int *count);
int dag_in_topo(const DagNode *const *list, int count, const DagNode *node);

/* dag_count: the number of distinct non-leaf nodes reachable from roots. */
int dag_count(int nroots, const DagNode *const *roots);

/* Printing (dag_print.c): readable infix with minimal parentheses.  Nodes used more
 * than once, and large subtrees, become temporaries t1, t2, ... printed first, one
 * per line; then one line `name = expr` per root (root_names may be NULL: r0, r1...). */
void dag_print_roots(FILE *out, int nroots, const DagNode *const *roots,
                     const char *const *root_names);
/* dag_print_expr: one expression inline, temporaries included as above. */
void dag_print_expr(FILE *out, const DagNode *node);
/* dag_format_const: shortest text that reads back as the same double. */
void dag_format_const(char *buf, size_t size, double value);

/* dag_realloc: the one allocation function of the module (size 0 frees, NULL in
 * allocates).  On out-of-memory it reports and exits: the node limit is the
 * graceful path, exhausting memory below it is not recoverable. */
void *dag_realloc(void *ptr, size_t size);

/* Module-internal: the rewrite rules (dag_simplify.c).  dag_rewrite returns the
 * simplified node for op(a, b, c), or NULL when no rule applies; operands are
 * already non-NULL and in canonical order. */
const DagNode *dag_rewrite(DagPool *p, DagOp op, const DagNode *a, const DagNode *b,
                           const DagNode *c);
/* dag_make: hash-cons op(a, b, c) exactly as given, no rules. */
const DagNode *dag_make(DagPool *p, DagOp op, const DagNode *a, const DagNode *b,
                        const DagNode *c);

#endif
