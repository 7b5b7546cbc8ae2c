/* dag_eval.c: the reference interpreter, the meaning of every op in double.
 *
 * dag_eval_op is the one place that says what an op computes; constant folding in
 * the smart constructors calls it too, so a folded constant is bit for bit what the
 * interpreter would have computed, and the JIT and the C emitter are tested against
 * this file.  The formulas are the numerically stable ones (PyTorch's where it
 * matters): sigmoid and softplus never overflow exp, log1p and expm1 come from libm.
 *
 * dag_eval gathers the nodes reachable from the roots (dag_topo), then computes each
 * once in increasing id order, which is a topological order, into an array indexed by
 * position in that list.  No recursion, so chains of any length are fine.  SELECT
 * computes both branches (it is a value, not control flow); the untaken one may be
 * NaN or inf without harm. */
#include "dag.h"

#include <math.h>
#include <stdio.h>

static char eval_error[160];

const char *dag_eval_error(void) { return eval_error; }

/* sigmoid(a) = 1 / (1 + e^-a), through e^a / (1 + e^a) for a < 0 so exp never
 * overflows; NaN falls to the second branch and stays NaN. */
static double sigmoid(double a)
{
    if (a >= 0)
        return 1 / (1 + exp(-a));
    double e = exp(a);
    return e / (1 + e);
}

/* softplus(a) = log(1 + e^a) = max(a, 0) + log1p(e^-|a|). */
static double softplus(double a)
{
    return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a));
}

/* min/max as torch.minimum/maximum: NaN if either is NaN; between -0 and +0, min
 * picks -0 and max +0, so the result does not depend on the operand order (the
 * hash-consing reorders commutative operands). */
static double min2(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    if (a != b)
        return a < b ? a : b;
    return signbit(a) ? a : b;
}

static double max2(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    if (a != b)
        return a > b ? a : b;
    return signbit(a) ? b : a;
}

/* sign(a) = -1, 0, 1 as torch.sign; sign(-0) = -0 and sign(NaN) = NaN. */
static double sign(double a)
{
    return a > 0 ? 1.0 : a < 0 ? -1.0 : a;
}

double dag_eval_op(DagOp op, double a, double b, double c)
{
    switch (op) {
    case OP_CONST:
    case OP_SYM:
    case OP_COUNT:
        return NAN;  // leaves have no operands; callers handle them
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_NEG: return -a;
    case OP_POW: return pow(a, b);
    case OP_EXP: return exp(a);
    case OP_LOG: return log(a);
    case OP_LOG1P: return log1p(a);
    case OP_EXPM1: return expm1(a);
    case OP_SQRT: return sqrt(a);
    case OP_TANH: return tanh(a);
    case OP_SIGMOID: return sigmoid(a);
    case OP_SOFTPLUS: return softplus(a);
    case OP_RELU: return a < 0 ? 0.0 : a;   // NaN stays NaN, relu(-0) = -0 (llvm_gen.c)
    case OP_ABS: return fabs(a);
    case OP_SIGN: return sign(a);
    case OP_SIN: return sin(a);
    case OP_COS: return cos(a);
    case OP_MIN: return min2(a, b);
    case OP_MAX: return max2(a, b);
    case OP_LT: return a < b;
    case OP_LE: return a <= b;
    case OP_GT: return a > b;
    case OP_GE: return a >= b;
    case OP_EQ: return a == b;
    case OP_NE: return a != b;
    case OP_AND: return a != 0 && b != 0;
    case OP_OR: return a != 0 || b != 0;
    case OP_NOT: return a == 0;
    case OP_SELECT: return a != 0 ? b : c;
    }
    return NAN;
}

/* leaf_value: a constant, or a symbol's value from env (NaN and an error if absent). */
static double leaf_value(const DagNode *n, const DagEnv *env, int *bad)
{
    if (n->op == OP_CONST)
        return n->value;
    if (!env || !env->values[n->cls] || n->index < 0 || n->index >= env->count[n->cls]) {
        if (!*bad)
            snprintf(eval_error, sizeof eval_error, "no value for symbol %s (class %d, "
                     "index %d)", n->name ? n->name : "?", (int)n->cls, n->index);
        *bad = 1;
        return NAN;
    }
    return env->values[n->cls][n->index];
}

int dag_eval(int nroots, const DagNode *const *roots, const DagEnv *env, double *out)
{
    int n, bad = 0;
    eval_error[0] = 0;
    for (int r = 0; r < nroots; r++)
        if (!roots[r]) {
            snprintf(eval_error, sizeof eval_error, "root %d is NULL", r);
            bad = 1;
        }
    const DagNode **list = dag_topo(nroots, roots, &n);
    double *val = dag_realloc(NULL, (size_t)(n ? n : 1) * sizeof *val);
    for (int i = 0; i < n; i++) {
        const DagNode *x = list[i];
        double v[3] = {0, 0, 0};
        int arity = dag_op_info[x->op].arity;
        if (arity == 0) {
            val[i] = leaf_value(x, env, &bad);
            continue;
        }
        for (int k = 0; k < arity; k++)
            v[k] = val[x->kid[k]->slot];
        val[i] = dag_eval_op(x->op, v[0], v[1], v[2]);
    }
    for (int r = 0; r < nroots; r++)
        out[r] = bad || !roots[r] ? NAN : val[roots[r]->slot];
    dag_realloc(val, 0);
    dag_realloc(list, 0);
    return bad ? -1 : 0;
}
