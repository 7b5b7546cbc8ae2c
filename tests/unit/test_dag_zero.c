/* test_dag_zero.c: x * 0 in the sound rules, only where x is finite by construction.
 *
 * Inputs may be inf or NaN, so of the DAG's nodes only comparison and logic results
 * (0 or 1 whatever their operands) are finite by construction.  Checked:
 *   - (±0) * b and b * (±0) become that zero for every such op b, and the rewritten
 *     node equals, bit for bit, what the interpreter gives for the product at special
 *     operands (±0, ±1, ±inf, NaN, subnormal);
 *   - 0 * x stays a product for a symbol x and for functions that can be NaN or inf
 *     (NaN * 0 is NaN), and for a select of bools (not flagged as a truth value);
 *   - algebraic mode still folds 0 * x = 0. */
#include <math.h>
#include <string.h>

#include "dag.h"
#include "test.h"

static const double specials[] = {0.0, -0.0, 1.0, -1.0, 2.5, INFINITY, -INFINITY, NAN, 5e-324};
enum { NS = sizeof specials / sizeof specials[0] };

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

static void test_bool_times_zero(void)
{
    static const DagOp bools[] = {OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_AND, OP_OR};
    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *y = dag_sym(p, SYM_INPUT, 1, "y");
    const double zeros[2] = {0.0, -0.0};
    for (int z = 0; z < 2; z++) {
        const DagNode *zero = dag_const(p, zeros[z]);
        for (size_t k = 0; k <= sizeof bools / sizeof bools[0]; k++) {
            const DagNode *b = k < sizeof bools / sizeof bools[0] ? dag_binary(p, bools[k], x, y)
                                                                  : dag_unary(p, OP_NOT, x);
            const DagNode *r1 = dag_mul(p, zero, b), *r2 = dag_mul(p, b, zero);
            ASSERT(r1 == zero);
            ASSERT(r2 == zero);
            for (int i = 0; i < NS; i++) {
                for (int j = 0; j < NS; j++) {
                    double bv = k < sizeof bools / sizeof bools[0]
                                    ? dag_eval_op(bools[k], specials[i], specials[j], 0)
                                    : dag_eval_op(OP_NOT, specials[i], 0, 0);
                    double want = dag_eval_op(OP_MUL, zeros[z], bv, 0);
                    if (!same_bits(want, zeros[z])) {
                        ASSERT(same_bits(want, zeros[z]));
                        fprintf(stderr, "    %s(%g, %g) * %g = %g\n", dag_op_info[b->op].name,
                                specials[i], specials[j], zeros[z], want);
                    }
                }
            }
        }
    }
    dag_pool_free(p);
}

static void test_not_finite_kept(void)
{
    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *zero = dag_const(p, 0);
    const DagNode *maybe[] = {
        x, dag_unary(p, OP_TANH, x), dag_unary(p, OP_SIGMOID, x), dag_unary(p, OP_SIGN, x),
        dag_unary(p, OP_SIN, x), dag_unary(p, OP_EXP, x),
        dag_select(p, dag_binary(p, OP_LT, x, zero), dag_const(p, 1), x),
    };
    for (size_t i = 0; i < sizeof maybe / sizeof maybe[0]; i++) {
        const DagNode *r = dag_mul(p, zero, maybe[i]);
        ASSERT(r->op == OP_MUL);
    }
    dag_pool_set_algebraic(p, 1);
    ASSERT(dag_mul(p, zero, x) == dag_const(p, 0));
    dag_pool_free(p);
}

int main(void)
{
    test_bool_times_zero();
    test_not_finite_kept();
    return test_summary();
}
