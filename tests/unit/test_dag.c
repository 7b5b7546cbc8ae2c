/* test_dag.c: unit tests of the expression DAG (compiler/dag*.c).
 *
 * What is checked, and against what:
 *   - hash-consing: same structure gives the same pointer, constants by bit pattern,
 *     commutative operand order, ids topological;
 *   - folding agrees bit for bit with the interpreter on special values (±0, ±inf,
 *     NaN, subnormals), for every op;
 *   - the sound rules are bitwise exact on special inputs (raw DAG vs rewritten DAG),
 *     the unsound ones are not applied by default, the algebraic ones are when asked;
 *   - every derivative rule against a 4-point central finite difference at many
 *     random points away from kinks, through dag_diff and through dag_vjp, and the
 *     PyTorch conventions at the kinks exactly;
 *   - a few hundred random expression trees over all ops: vjp vs finite differences,
 *     diff vs vjp, rebuilding gives the same pointers, simplification keeps values,
 *     algebraic mode keeps values on finite inputs;
 *   - a 200000-long chain builds, differentiates, evaluates and prints without
 *     recursion; the node limit fails cleanly; the printer's output is pinned.
 * The RNG is seeded, so a failure reproduces. */
#include "dag.h"
#include "test.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double urand(void)  // uniform in [0, 1)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double uniform(double lo, double hi) { return lo + (hi - lo) * urand(); }

static int irand(int n) { return (int)(urand() * n); }

/* same: equal as doubles, where NaN equals NaN and -0 differs from +0. */
static int same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static double eval_at(const DagNode *f, const double *xs, int nx)
{
    DagEnv env = {.values = {[SYM_INPUT] = xs}, .count = {[SYM_INPUT] = nx}};
    double out;
    dag_eval(1, &f, &env, &out);
    return out;
}

/* eval_seeded: as eval_at, with SYM_SEED values too. */
static double eval_seeded(const DagNode *f, const double *xs, int nx, const double *seeds,
                          int ns)
{
    DagEnv env = {.values = {[SYM_INPUT] = xs, [SYM_SEED] = seeds},
                  .count = {[SYM_INPUT] = nx, [SYM_SEED] = ns}};
    double out;
    dag_eval(1, &f, &env, &out);
    return out;
}

/* fd4: d f / d xs[k] by the 4-point central difference with step h. */
static double fd4(const DagNode *f, double *xs, int nx, int k, double h)
{
    static const double off[4] = {-2, -1, 1, 2};
    double save = xs[k], v[4];
    for (int i = 0; i < 4; i++) {
        xs[k] = save + off[i] * h;
        v[i] = eval_at(f, xs, nx);
    }
    xs[k] = save;
    return (v[0] - 8 * v[1] + 8 * v[2] - v[3]) / (12 * h);
}

/* kinks: the discrete decisions of every node at xs (which side of each relu, abs,
 * min, comparison, select), so a stencil that crosses a kink can be skipped.
 * Also reports through *finite whether every node value is finite. */
static void kinks(const DagNode *const *list, int n, const double *xs, int nx, char *sig,
                  int *finite)
{
    double *v = malloc((size_t)n * sizeof *v);
    DagEnv env = {.values = {[SYM_INPUT] = xs}, .count = {[SYM_INPUT] = nx}};
    dag_eval(n, list, &env, v);
    *finite = 1;
    for (int i = 0; i < n; i++) {
        const DagNode *x = list[i];
        double a = x->kid[0] ? v[x->kid[0]->slot] : 0, b = x->kid[1] ? v[x->kid[1]->slot] : 0;
        if (!isfinite(v[i]))
            *finite = 0;
        switch (x->op) {
        case OP_RELU: case OP_ABS: case OP_SIGN: sig[i] = (char)((a > 0) + 2 * (a < 0)); break;
        case OP_MIN: case OP_MAX: sig[i] = (char)((a > b) + 2 * (a < b)); break;
        case OP_SELECT: sig[i] = a != 0; break;
        default: sig[i] = (dag_op_info[x->op].flags & DAG_BOOL) ? (char)v[i] : 0;
        }
    }
    free(v);
}

/* fd_check: compare grad[k] (values) with finite differences of f at xs; returns 1
 * checked and passed, 0 failed, -1 skipped (kink in the stencil, non-finite, or the
 * difference quotient too noisy to decide). */
static int fd_check(const DagNode *f, double *xs, int nx, int k, double grad, double tol)
{
    int n, fin, ok = -1;
    const DagNode **list = dag_topo(1, &f, &n);
    char *s0 = malloc((size_t)n + 1), *s1 = malloc((size_t)n + 1);
    double h = 1e-3 * fmax(1, fabs(xs[k])), save = xs[k];
    kinks(list, n, xs, nx, s0, &fin);
    int smooth = fin && isfinite(grad);
    for (int i = -2; i <= 2 && smooth; i++) {
        xs[k] = save + i * h;
        kinks(list, n, xs, nx, s1, &fin);
        smooth = fin && memcmp(s0, s1, (size_t)n) == 0;
    }
    xs[k] = save;
    if (smooth) {
        double d1 = fd4(f, xs, nx, k, h), d2 = fd4(f, xs, nx, k, h / 2);
        double scale = fmax(1, fabs(grad));
        if (fabs(d1 - d2) <= 0.1 * tol * scale)
            ok = fabs(grad - d2) <= tol * scale;
    }
    free(s0);
    free(s1);
    dag_realloc(list, 0);
    return ok;
}

static char *print_to_string(int n, const DagNode *const *roots, const char *const *names)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dag_print_roots(f, n, roots, names);
    fclose(f);
    return buf;
}

static const double specials[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, -2.5, 0.1,
                                  1e308, -1e308, 5e-324, 1e-310, INFINITY, -INFINITY,
                                  NAN, 4.0, -4.0, 0.25, 710.0, -745.5};
enum { NSPECIAL = sizeof specials / sizeof specials[0] };

/* ---- hash-consing ---- */

static void test_hash_consing(void)
{
    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *y = dag_sym(p, SYM_INPUT, 1, "y");
    ASSERT(dag_sym(p, SYM_INPUT, 0, "other") == x);
    ASSERT_STR("x", dag_sym(p, SYM_INPUT, 0, NULL)->name);
    ASSERT(dag_sym(p, SYM_STATE, 0, "x") != x);
    ASSERT(dag_const(p, 0.0) != dag_const(p, -0.0));
    ASSERT(dag_const(p, 0.0) == dag_const(p, 0.0));
    ASSERT(dag_const(p, NAN) == dag_const(p, -NAN));
    ASSERT(dag_add(p, x, y) == dag_add(p, y, x));
    ASSERT(dag_mul(p, x, y) == dag_mul(p, y, x));
    ASSERT(dag_binary(p, OP_MAX, x, y) == dag_binary(p, OP_MAX, y, x));
    ASSERT(dag_sub(p, x, y) != dag_sub(p, y, x));
    ASSERT(dag_binary(p, OP_LT, x, y) != dag_binary(p, OP_GT, y, x));
    /* a constant goes first in a commutative op */
    const DagNode *m = dag_mul(p, x, dag_const(p, 3));
    ASSERT(m->kid[0]->op == OP_CONST && m->kid[1] == x);
    const DagNode *e1 = dag_unary(p, OP_TANH, dag_add(p, dag_mul(p, x, y), x));
    int before = dag_pool_size(p);
    const DagNode *e2 = dag_unary(p, OP_TANH, dag_add(p, x, dag_mul(p, y, x)));
    ASSERT(e1 == e2);
    ASSERT_EQ(before, dag_pool_size(p));
    for (int id = 0; id < dag_pool_size(p); id++) {
        const DagNode *n = dag_node_by_id(p, id);
        int ok = n->id == id;
        for (int k = 0; k < dag_op_info[n->op].arity; k++)
            ok &= n->kid[k]->id < id;
        ASSERT(ok);
    }
    ASSERT(dag_node_by_id(p, -1) == NULL && dag_node_by_id(p, dag_pool_size(p)) == NULL);
    ASSERT_EQ(3, dag_count(1, &e1));  // mul, add, tanh
    dag_pool_free(p);
}

/* ---- folding and evaluation agree ---- */

static void test_folding(void)
{
    DagPool *p = dag_pool_new(), *raw = dag_pool_new();
    dag_pool_set_rules(raw, DAG_RULES_NONE);
    const DagNode *s[3];
    for (int i = 0; i < 3; i++)
        s[i] = dag_sym(raw, SYM_INPUT, i, NULL);
    int bad_fold = 0, bad_eval = 0, cases = 0;
    for (int op = OP_SYM + 1; op < OP_COUNT; op++) {
        int arity = dag_op_info[op].arity;
        int nj = arity >= 2 ? NSPECIAL : 1, nk = arity == 3 ? 5 : 1;
        const DagNode *r = dag_op(raw, (DagOp)op, s[0], s[1], s[2]);
        for (int i = 0; i < NSPECIAL; i++)
            for (int j = 0; j < nj; j++)
                for (int k = 0; k < nk; k++) {
                    double v[3] = {specials[i], specials[j], specials[(k * 7) % NSPECIAL]};
                    double want = dag_eval_op((DagOp)op, v[0], v[1], v[2]);
                    const DagNode *f = dag_op(p, (DagOp)op, dag_const(p, v[0]),
                                              dag_const(p, v[1]), dag_const(p, v[2]));
                    bad_fold += f->op != OP_CONST || !same(f->value, want);
                    bad_eval += !same(eval_at(r, v, 3), want);
                    cases++;
                }
    }
    ASSERT_EQ(0, bad_fold);
    ASSERT_EQ(0, bad_eval);
    ASSERT(cases > 5000);
    /* a few values pinned */
    ASSERT(same(dag_eval_op(OP_SIGMOID, -800, 0, 0), 0.0));
    ASSERT(same(dag_eval_op(OP_SIGMOID, 800, 0, 0), 1.0));
    ASSERT(same(dag_eval_op(OP_SOFTPLUS, 800, 0, 0), 800.0));
    ASSERT_CLOSE(log1p(exp(-3.0)), dag_eval_op(OP_SOFTPLUS, -3, 0, 0), 1e-15);
    ASSERT(same(dag_eval_op(OP_MAX, 0.0, -0.0, 0), 0.0));
    ASSERT(same(dag_eval_op(OP_MAX, -0.0, 0.0, 0), 0.0));
    ASSERT(same(dag_eval_op(OP_MIN, 0.0, -0.0, 0), -0.0));
    ASSERT(isnan(dag_eval_op(OP_MAX, NAN, 1, 0)) && isnan(dag_eval_op(OP_MIN, 1, NAN, 0)));
    ASSERT(same(dag_eval_op(OP_SIGN, -0.0, 0, 0), -0.0));
    ASSERT(isnan(dag_eval_op(OP_RELU, NAN, 0, 0)));
    ASSERT(same(dag_eval_op(OP_SELECT, NAN, 2, 3), 2));
    ASSERT(same(dag_eval_op(OP_NE, NAN, NAN, 0), 1));
    dag_pool_free(raw);
    dag_pool_free(p);
}

/* ---- rules ---- */

/* exact_on_specials: build a pattern without rules and with the default rules, and
 * evaluate both on all pairs of special values.  Returns -(number of mismatches),
 * or 1 if they all agree (within ulps, for finite values) and the rules rewrote the
 * pattern, or 0 if they agree because the rules left it alone. */
typedef const DagNode *(*Pattern)(DagPool *p, const DagNode *x, const DagNode *y);

static int exact_on_specials(Pattern pat, double ulps)
{
    DagPool *raw = dag_pool_new(), *p = dag_pool_new();
    dag_pool_set_rules(raw, DAG_RULES_NONE);
    const DagNode *rx = dag_sym(raw, SYM_INPUT, 0, "x"), *ry = dag_sym(raw, SYM_INPUT, 1, "y");
    const DagNode *sx = dag_sym(p, SYM_INPUT, 0, "x"), *sy = dag_sym(p, SYM_INPUT, 1, "y");
    const DagNode *r = pat(raw, rx, ry), *s = pat(p, sx, sy);
    int bad = 0;
    for (int i = 0; i < NSPECIAL; i++)
        for (int j = 0; j < NSPECIAL; j++) {
            double v[2] = {specials[i], specials[j]};
            double a = eval_at(r, v, 2), b = eval_at(s, v, 2);
            int ok = same(a, b) || (isfinite(a) && fabs(a - b) <= ulps * DBL_EPSILON * fabs(a));
            bad += !ok;
        }
    int rewritten = dag_count(1, &s) < dag_count(1, &r) || s->op != r->op;
    dag_pool_free(raw);
    dag_pool_free(p);
    return bad ? -bad : rewritten;
}

#define C(v) dag_const(p, v)
static const DagNode *pat_mul1(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_mul(p, x, C(1)); }
static const DagNode *pat_muln1(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_mul(p, C(-1), x); }
static const DagNode *pat_addm0(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_add(p, x, C(-0.0)); }
static const DagNode *pat_sub0(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_sub(p, x, C(0.0)); }
static const DagNode *pat_m0sub(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_sub(p, C(-0.0), x); }
static const DagNode *pat_div1(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_div(p, x, C(1)); }
static const DagNode *pat_divn1(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_div(p, x, C(-1)); }
static const DagNode *pat_div4(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_div(p, x, C(4)); }
static const DagNode *pat_divq(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_div(p, x, C(-0.125)); }
static const DagNode *pat_negneg(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_neg(p, dag_neg(p, x)); }
static const DagNode *pat_cneg(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_mul(p, C(3), dag_neg(p, x)); }
static const DagNode *pat_negc(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_neg(p, dag_mul(p, C(0.1), x)); }
static const DagNode *pat_nn(DagPool *p, const DagNode *x, const DagNode *y) { return dag_mul(p, dag_neg(p, x), dag_neg(p, y)); }
static const DagNode *pat_dnn(DagPool *p, const DagNode *x, const DagNode *y) { return dag_div(p, dag_neg(p, x), dag_neg(p, y)); }
static const DagNode *pat_addneg(DagPool *p, const DagNode *x, const DagNode *y) { return dag_add(p, x, dag_neg(p, y)); }
static const DagNode *pat_negadd(DagPool *p, const DagNode *x, const DagNode *y) { return dag_add(p, dag_neg(p, y), x); }
static const DagNode *pat_subneg(DagPool *p, const DagNode *x, const DagNode *y) { return dag_sub(p, x, dag_neg(p, y)); }
static const DagNode *pat_pow1(DagPool *p, const DagNode *x, const DagNode *y) { (void)x; return dag_pow(p, C(1), y); }
static const DagNode *pat_selsame(DagPool *p, const DagNode *x, const DagNode *y) { return dag_select(p, x, y, y); }
static const DagNode *pat_selnot(DagPool *p, const DagNode *x, const DagNode *y)
{
    return dag_select(p, dag_unary(p, OP_NOT, x), x, y);
}
static const DagNode *pat_minxx(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_binary(p, OP_MIN, x, x); }
static const DagNode *pat_ltxx(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_binary(p, OP_LT, x, x); }
static const DagNode *pat_absneg(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_unary(p, OP_ABS, dag_neg(p, x)); }
static const DagNode *pat_absabs(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_unary(p, OP_ABS, dag_unary(p, OP_ABS, x)); }
static const DagNode *pat_signsign(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_unary(p, OP_SIGN, dag_unary(p, OP_SIGN, x)); }
static const DagNode *pat_relurelu(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_unary(p, OP_RELU, dag_unary(p, OP_RELU, x)); }
static const DagNode *pat_notnot(DagPool *p, const DagNode *x, const DagNode *y)
{
    return dag_unary(p, OP_NOT, dag_unary(p, OP_NOT, dag_binary(p, OP_LE, x, y)));
}
static const DagNode *pat_andsame(DagPool *p, const DagNode *x, const DagNode *y)
{
    const DagNode *b = dag_binary(p, OP_GE, x, y);
    return dag_binary(p, OP_AND, b, b);
}
static const DagNode *pat_and0(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_binary(p, OP_AND, x, C(0)); }
static const DagNode *pat_or1(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_binary(p, OP_OR, C(-2), x); }
static const DagNode *pat_and1(DagPool *p, const DagNode *x, const DagNode *y)
{
    return dag_binary(p, OP_AND, C(1), dag_binary(p, OP_NE, x, y));
}
static int pow_k;
static const DagNode *pat_powk(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_powi(p, x, pow_k); }
/* unsound identities that the default rules must leave alone */
static const DagNode *pat_add0(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_add(p, x, C(0.0)); }
static const DagNode *pat_mul0(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_mul(p, x, C(0.0)); }
static const DagNode *pat_subxx(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_sub(p, x, x); }
static const DagNode *pat_0sub(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_sub(p, C(0.0), x); }
static const DagNode *pat_eqxx(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_binary(p, OP_EQ, x, x); }
static const DagNode *pat_div3(DagPool *p, const DagNode *x, const DagNode *y) { (void)y; return dag_div(p, x, C(3)); }
#undef C

static void test_sound_rules(void)
{
    static const struct { const char *name; Pattern pat; } rules[] = {
        {"x*1", pat_mul1}, {"-1*x", pat_muln1}, {"x+-0", pat_addm0}, {"x-0", pat_sub0},
        {"-0-x", pat_m0sub}, {"x/1", pat_div1}, {"x/-1", pat_divn1}, {"x/4", pat_div4},
        {"x/-0.125", pat_divq}, {"--x", pat_negneg}, {"3*-x", pat_cneg},
        {"-(0.1x)", pat_negc}, {"-x*-y", pat_nn}, {"-x/-y", pat_dnn},
        {"x+-y", pat_addneg}, {"-y+x", pat_negadd}, {"x--y", pat_subneg},
        {"1^y", pat_pow1}, {"sel(x,y,y)", pat_selsame}, {"sel(!x,x,y)", pat_selnot},
        {"min(x,x)", pat_minxx}, {"x<x", pat_ltxx}, {"|-x|", pat_absneg},
        {"||x||", pat_absabs}, {"sign sign", pat_signsign}, {"relu relu", pat_relurelu},
        {"!!(x<=y)", pat_notnot}, {"b&&b", pat_andsame}, {"x&&0", pat_and0},
        {"-2||x", pat_or1}, {"1&&(x!=y)", pat_and1},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        int r = exact_on_specials(rules[i].pat, 0);
        if (r != 1)
            fprintf(stderr, "    rule %s: %d\n", rules[i].name, r);
        ASSERT(r == 1);
    }
    /* pow with a small integer exponent: products, exact on specials, ulps elsewhere */
    for (pow_k = -4; pow_k <= 4; pow_k++) {
        int r = exact_on_specials(pat_powk, 4);
        if (r != 1)
            fprintf(stderr, "    pow k=%d: %d\n", pow_k, r);
        ASSERT(r == 1);
    }
    /* the unsound ones stay as written by default */
    ASSERT_EQ(0, exact_on_specials(pat_add0, 0));
    ASSERT_EQ(0, exact_on_specials(pat_mul0, 0));
    ASSERT_EQ(0, exact_on_specials(pat_subxx, 0));
    ASSERT_EQ(0, exact_on_specials(pat_0sub, 0));
    ASSERT_EQ(0, exact_on_specials(pat_eqxx, 0));
    ASSERT_EQ(0, exact_on_specials(pat_div3, 0));

    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *y = dag_sym(p, SYM_INPUT, 1, "y");
    const DagNode *c = dag_binary(p, OP_LT, x, y);
    ASSERT(dag_powi(p, x, 0) == dag_const(p, 1));
    ASSERT(dag_powi(p, x, 1) == x);
    ASSERT(dag_powi(p, x, 2) == dag_mul(p, x, x));
    ASSERT(dag_powi(p, x, 3)->op == OP_MUL);
    ASSERT(dag_powi(p, x, -1) == dag_div(p, dag_const(p, 1), x));
    ASSERT(dag_powi(p, x, -2)->op == OP_DIV);
    ASSERT(dag_powi(p, x, 5)->op == OP_POW);
    ASSERT(dag_pow(p, x, dag_const(p, 2.5))->op == OP_POW);
    ASSERT_EQ(2, dag_count(1, (const DagNode *[]){dag_powi(p, x, 4)}));  // (x x)(x x)
    ASSERT(dag_select(p, dag_const(p, 1), x, y) == x);
    ASSERT(dag_select(p, dag_const(p, 0), x, y) == y);
    ASSERT(dag_select(p, dag_const(p, NAN), x, y) == x);
    ASSERT(dag_select(p, dag_unary(p, OP_NOT, c), x, y) == dag_select(p, c, y, x));
    ASSERT(dag_add(p, x, dag_const(p, 0)) != x);
    ASSERT(dag_mul(p, x, dag_const(p, 0)) != dag_const(p, 0));
    ASSERT(dag_sub(p, x, x) != dag_const(p, 0));
    ASSERT(dag_div(p, x, dag_const(p, 2)) == dag_mul(p, dag_const(p, 0.5), x));
    ASSERT(dag_div(p, x, dag_const(p, 0x1p-1023))->op == OP_MUL);  // x * 2^1023
    ASSERT(dag_div(p, x, dag_const(p, 0x1p1023))->op == OP_DIV);   // 2^-1023 subnormal

    /* algebraic mode */
    dag_pool_set_algebraic(p, 1);
    ASSERT_EQ(DAG_RULES_ALGEBRAIC, dag_pool_rules(p));
    const DagNode *two = dag_const(p, 2), *three = dag_const(p, 3);
    ASSERT(dag_mul(p, x, dag_const(p, 0)) == dag_const(p, 0));
    ASSERT(dag_sub(p, x, x) == dag_const(p, 0));
    ASSERT(dag_add(p, x, dag_const(p, 0)) == x);
    ASSERT(dag_mul(p, two, dag_mul(p, three, x)) == dag_mul(p, dag_const(p, 6), x));
    ASSERT(dag_add(p, dag_add(p, x, two), three) == dag_add(p, dag_const(p, 5), x));
    ASSERT(dag_sub(p, dag_add(p, x, two), three) == dag_add(p, dag_const(p, -1), x));
    ASSERT(dag_add(p, dag_mul(p, two, x), dag_mul(p, three, x)) ==
           dag_mul(p, dag_const(p, 5), x));
    ASSERT(dag_add(p, x, x) == dag_mul(p, two, x));
    ASSERT(dag_sub(p, dag_mul(p, y, x), dag_mul(p, x, three)) ==
           dag_mul(p, dag_sub(p, y, three), x));
    ASSERT(dag_add(p, dag_mul(p, y, x), x) == dag_mul(p, dag_add(p, dag_const(p, 1), y), x));
    ASSERT(dag_neg(p, dag_sub(p, x, y)) == dag_sub(p, y, x));
    ASSERT(dag_binary(p, OP_EQ, x, x) == dag_const(p, 1));
    ASSERT(dag_div(p, x, three) == dag_mul(p, dag_const(p, 1.0 / 3), x));
    /* dag_simplify under the new rules */
    dag_pool_set_algebraic(p, 0);
    const DagNode *e = dag_add(p, dag_mul(p, two, dag_mul(p, three, x)), dag_sub(p, y, y));
    ASSERT(dag_count(1, &e) == 4);
    dag_pool_set_algebraic(p, 1);
    ASSERT(dag_simplify(p, e) == dag_mul(p, dag_const(p, 6), x));
    dag_pool_free(p);
}

/* ---- derivative rules, one op at a time ---- */

typedef struct OpDomain {
    DagOp op;
    double lo, hi;    // x range
    double ylo, yhi;  // y range (binary)
    double gap;       // keep |x| (unary) or |x - y| (binary) above this: kinks
} OpDomain;

static const OpDomain domains[] = {
    {OP_ADD, -3, 3, -3, 3, 0}, {OP_SUB, -3, 3, -3, 3, 0}, {OP_MUL, -3, 3, -3, 3, 0},
    {OP_DIV, -3, 3, 0.3, 3, 0}, {OP_NEG, -3, 3, 0, 0, 0}, {OP_POW, 0.2, 3, -2.5, 2.5, 0},
    {OP_EXP, -3, 3, 0, 0, 0}, {OP_LOG, 0.1, 5, 0, 0, 0}, {OP_LOG1P, -0.8, 5, 0, 0, 0},
    {OP_EXPM1, -3, 3, 0, 0, 0}, {OP_SQRT, 0.05, 5, 0, 0, 0}, {OP_TANH, -3, 3, 0, 0, 0},
    {OP_SIGMOID, -6, 6, 0, 0, 0}, {OP_SOFTPLUS, -6, 6, 0, 0, 0},
    {OP_RELU, -3, 3, 0, 0, 0.01}, {OP_ABS, -3, 3, 0, 0, 0.01}, {OP_SIGN, -3, 3, 0, 0, 0.01},
    {OP_SIN, -4, 4, 0, 0, 0}, {OP_COS, -4, 4, 0, 0, 0},
    {OP_MIN, -3, 3, -3, 3, 0.01}, {OP_MAX, -3, 3, -3, 3, 0.01},
    {OP_LT, -3, 3, -3, 3, 0.01}, {OP_LE, -3, 3, -3, 3, 0.01}, {OP_GT, -3, 3, -3, 3, 0.01},
    {OP_GE, -3, 3, -3, 3, 0.01}, {OP_EQ, -3, 3, -3, 3, 0.01}, {OP_NE, -3, 3, -3, 3, 0.01},
    {OP_AND, -3, 3, -3, 3, 0.01}, {OP_OR, -3, 3, -3, 3, 0.01}, {OP_NOT, -3, 3, 0, 0, 0.01},
};

/* check_rule: at random points, d op(u, v) / dx and / dy for u = x (or an affine
 * inner function, so the chain rule carries a non-trivial tangent) and v = y, via
 * dag_diff and via one dag_vjp with a symbolic seed. */
static void check_rule(const OpDomain *d, int inner)
{
    DagPool *p = dag_pool_new();
    int arity = dag_op_info[d->op].arity, failed = 0, checked = 0;
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *y = dag_sym(p, SYM_INPUT, 1, "y");
    const DagNode *u = x, *w = y;
    if (inner) {  // u = (x - 0.25) * 0.5 + 0.125 ... evaluated at x = 2(xu - 0.125) + 0.25
        u = dag_add(p, dag_mul(p, dag_const(p, 0.5), dag_sub(p, x, dag_const(p, 0.25))),
                    dag_const(p, 0.125));
        w = dag_mul(p, dag_const(p, -1.5), y);
    }
    const DagNode *f = dag_op(p, d->op, u, w, NULL);
    const DagNode *wrt[2] = {x, y}, *seed = dag_sym(p, SYM_SEED, 0, "s"), *grad[2];
    const DagNode *diff[2] = {dag_diff(p, f, x), dag_diff(p, f, y)};
    ASSERT_EQ(0, dag_vjp(p, 1, &f, &seed, 2, wrt, grad));
    for (int trial = 0; trial < 200; trial++) {
        double xu = uniform(d->lo, d->hi), yu = uniform(d->ylo, d->yhi);
        if (arity == 1 ? fabs(xu) < d->gap : fabs(xu - yu) < d->gap)
            continue;
        double xs[2] = {inner ? 2 * (xu - 0.125) + 0.25 : xu, inner ? yu / -1.5 : yu};
        double s = uniform(0.5, 2), sv[1] = {s};
        for (int k = 0; k < arity && k < 2; k++) {
            double dv = eval_at(diff[k], xs, 2), gv = eval_seeded(grad[k], xs, 2, sv, 1);
            double h = 1e-3 * fmax(1, fabs(xs[k])), fd = fd4(f, xs, 2, k, h);
            double tol = 1e-6 * fmax(1, fabs(fd));
            failed += !(fabs(dv - fd) <= tol) + !(fabs(gv - s * fd) <= s * tol);
            checked += 2;
        }
    }
    if (failed)
        fprintf(stderr, "    derivative of %s (inner %d): %d of %d failed\n",
                dag_op_info[d->op].name, inner, failed, checked);
    ASSERT_EQ(0, failed);
    ASSERT(checked >= 300);
    dag_pool_free(p);
}

static void test_rules_fd(void)
{
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        check_rule(&domains[i], 0);
        check_rule(&domains[i], 1);
    }
    /* POW with a constant exponent, including negative bases for integer ones */
    static const double ks[] = {2.5, -1.5, 0.5, 5, 7, -3, 3, 2};
    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x");
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        const DagNode *f = dag_pow(p, x, dag_const(p, ks[i])), *g, *one = dag_const(p, 1);
        const DagNode *df = dag_diff(p, f, x);
        dag_vjp(p, 1, &f, &one, 1, &x, &g);
        int bad = 0;
        for (int t = 0; t < 100; t++) {
            int integral = ks[i] == floor(ks[i]);
            double xs[1] = {uniform(0.3, 3) * (integral && urand() < 0.5 ? -1 : 1)};
            double fd = fd4(f, xs, 1, 0, 1e-3 * fmax(1, fabs(xs[0])));
            double tol = 1e-6 * fmax(1, fabs(fd));
            bad += !(fabs(eval_at(df, xs, 1) - fd) <= tol) + !(fabs(eval_at(g, xs, 1) - fd) <= tol);
        }
        if (bad)
            fprintf(stderr, "    derivative of x^%g\n", ks[i]);
        ASSERT_EQ(0, bad);
    }
    dag_pool_free(p);
}

/* The PyTorch conventions at the points where the derivative does not exist. */
static void test_kink_conventions(void)
{
    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *y = dag_sym(p, SYM_INPUT, 1, "y");
    const DagNode *zero[2] = {0}, *one = dag_const(p, 1);
    double at0[2] = {0, 0}, at2[2] = {2, 2}, v[2] = {-3, 0};
    #define D(f, var, pt) eval_at(dag_diff(p, f, var), pt, 2)
    ASSERT(same(0, D(dag_unary(p, OP_SIGN, x), x, at2)));
    ASSERT(same(0, D(dag_unary(p, OP_ABS, x), x, at0)));
    ASSERT(same(0, D(dag_unary(p, OP_RELU, x), x, at0)));
    ASSERT(same(1, D(dag_unary(p, OP_RELU, x), x, at2)));
    ASSERT(same(INFINITY, D(dag_unary(p, OP_SQRT, x), x, at0)));
    ASSERT(same(0.5, D(dag_binary(p, OP_MAX, x, y), x, at2)));
    ASSERT(same(0.5, D(dag_binary(p, OP_MAX, x, y), y, at2)));
    ASSERT(same(0.5, D(dag_binary(p, OP_MIN, x, y), y, at2)));
    ASSERT(same(1, D(dag_binary(p, OP_MAX, x, x), x, at2)));  // max(x, x) = x
    ASSERT(same(0, D(dag_binary(p, OP_LE, x, y), x, at2)));
    /* pow: d/db a^b at a = 0, b >= 0 is 0 (not 0 * -inf); d/da at b = 0 is 0 */
    ASSERT(same(0, D(dag_pow(p, x, y), y, at0)));
    ASSERT(same(0, D(dag_pow(p, x, y), x, at0)));
    ASSERT(isnan(D(dag_pow(p, x, y), y, v)));  // log of a negative base
    /* select: only the taken branch, nothing to the condition */
    const DagNode *sel = dag_select(p, dag_binary(p, OP_GT, x, y), dag_mul(p, x, x),
                                    dag_unary(p, OP_LOG, x));
    double a[2] = {3, 1}, b[2] = {0, 1};
    ASSERT(same(6, D(sel, x, a)));
    ASSERT(same(0, D(sel, y, a)));
    const DagNode *g[2], *wrt[2] = {x, y};
    dag_vjp(p, 1, &sel, &one, 2, wrt, g);
    ASSERT(same(6, eval_at(g[0], a, 2)) && same(0, eval_at(g[1], a, 2)));
    /* At x = 0 the log branch's partial is 1/0 = inf.  Taken (x = 0 <= y = 1), the
     * derivative is inf; untaken (y = -1), the reverse sweep keeps the branch's guard
     * outside the partial, select(c, 0, v / x), and gives 0, where torch.where's
     * backward gives inf * 0 = NaN. */
    double c[2] = {0, -1};
    ASSERT(same(INFINITY, D(sel, x, b)));
    ASSERT(same(0, D(sel, x, c)));
    dag_vjp(p, 1, &sel, &one, 2, wrt, g);
    ASSERT(same(INFINITY, eval_at(g[0], b, 2)));
    ASSERT(same(0, eval_at(g[0], c, 2)));
    /* the same down a chain of partials, as logsign's log|x| / p with |x| = 0: guards
     * of one condition from two uses sum inside it */
    const DagNode *ax = dag_unary(p, OP_ABS, x), *p10 = dag_const(p, 10);
    const DagNode *big = dag_binary(p, OP_GE, ax, dag_const(p, 1e-4));
    const DagNode *mag = dag_select(p, big, dag_div(p, dag_unary(p, OP_LOG, ax), p10), dag_const(p, -1));
    const DagNode *two = dag_add(p, mag, dag_select(p, big, dag_unary(p, OP_SQRT, ax), dag_const(p, 0)));
    dag_vjp(p, 1, &two, &one, 1, &x, g);
    ASSERT(g[0]->op == OP_SELECT);   // one guard around the sum of both branches' terms
    ASSERT(same(0, eval_at(g[0], at0, 2)));
    double half[2] = {-0.25, 0};
    ASSERT(fabs(eval_at(g[0], half, 2) - (-1 / (10 * 0.25) - 1 / (2 * 0.5))) < 1e-12);
    /* a structurally zero derivative is the constant 0; an unreachable wrt as well */
    const DagNode *z = dag_sym(p, SYM_INPUT, 5, "z");
    ASSERT(dag_diff(p, sel, z) == dag_const(p, 0));
    dag_vjp(p, 1, &sel, &one, 1, &z, zero);
    ASSERT(zero[0] == dag_const(p, 0));
    #undef D
    dag_pool_free(p);
}

/* ---- random expression trees ---- */

typedef struct Gen {
    DagPool *p;
    const DagNode *x[3];
    int finite_only;  // domain-safe forms (for derivative checks)
} Gen;

static const DagNode *gen(Gen *g, int depth);

static const DagNode *gen_cond(Gen *g, int depth)
{
    static const DagOp cmp[] = {OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE};
    DagPool *p = g->p;
    int r = irand(10);
    if (r < 6 || depth <= 1)
        return dag_binary(p, cmp[irand(6)], gen(g, depth - 1), gen(g, depth - 1));
    if (r < 8)
        return dag_binary(p, r == 6 ? OP_AND : OP_OR, gen_cond(g, depth - 1),
                          gen_cond(g, depth - 1));
    return dag_unary(p, OP_NOT, gen_cond(g, depth - 1));
}

static const DagNode *gen_leaf(Gen *g)
{
    static const double consts[] = {0, 1, -1, 2, 0.5, -0.5, 3, -0.0, 0.25, 4};
    if (urand() < 0.7)
        return g->x[irand(3)];
    return dag_const(g->p, urand() < 0.6 ? consts[irand(10)] : round(uniform(-3, 3) * 8) / 8);
}

static const DagNode *gen(Gen *g, int depth)
{
    DagPool *p = g->p;
    if (depth <= 0 || urand() < 0.12)
        return gen_leaf(g);
    DagOp op = (DagOp)(OP_SYM + 1 + irand(OP_COUNT - OP_SYM - 1));
    const DagNode *a = gen(g, depth - 1), *half = dag_const(p, 0.5);
    switch (op) {
    case OP_LOG: case OP_SQRT:  /* log(0.5 + a^2) */
        return dag_unary(p, op, dag_add(p, half, dag_mul(p, a, a)));
    case OP_LOG1P:
        return dag_unary(p, op, dag_mul(p, a, a));
    case OP_EXP: case OP_EXPM1:  /* exp(2 tanh a): bounded */
        return dag_unary(p, op, dag_mul(p, dag_const(p, 2), dag_unary(p, OP_TANH, a)));
    case OP_DIV:  /* a / (1.5 + sin b) */
        return dag_div(p, a, dag_add(p, dag_const(p, 1.5),
                                     dag_unary(p, OP_SIN, gen(g, depth - 1))));
    case OP_POW:
        if (urand() < 0.5) {
            static const double ks[] = {2, 3, -1, -2, 4, 0.5, 1.5, 2.5, -0.5};
            double k = ks[irand(9)];
            if (k != floor(k))
                a = dag_add(p, half, dag_unary(p, OP_SOFTPLUS, a));
            return dag_pow(p, a, dag_const(p, k));
        }
        return dag_pow(p, dag_add(p, half, dag_unary(p, OP_SOFTPLUS, a)),
                       dag_unary(p, OP_TANH, gen(g, depth - 1)));
    case OP_SELECT:
        return dag_select(p, gen_cond(g, depth - 1), a, gen(g, depth - 1));
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_EQ: case OP_NE:
    case OP_AND: case OP_OR: case OP_NOT:
        return gen_cond(g, depth);
    default:
        if (dag_op_info[op].arity == 1)
            return dag_unary(p, op, a);
        return dag_binary(p, op, a, gen(g, depth - 1));
    }
}

static void test_random_trees(void)
{
    enum { NTREES = 300, DEPTH = 6 };
    int fd_ok = 0, fd_bad = 0, fd_skip = 0, mode_bad = 0, same_ptr = 0, simp_bad = 0;
    int alg_bad = 0, alg_checked = 0, resimp_bad = 0;
    long raw_nodes = 0, sound_nodes = 0, alg_nodes = 0, grad_nodes = 0;
    for (int t = 0; t < NTREES; t++) {
        DagPool *p = dag_pool_new(), *raw = dag_pool_new();
        dag_pool_set_rules(raw, DAG_RULES_NONE);
        Gen g = {.p = p}, gr = {.p = raw};
        static const char *names[3] = {"x", "y", "z"};
        for (int i = 0; i < 3; i++) {
            g.x[i] = dag_sym(p, SYM_INPUT, i, names[i]);
            gr.x[i] = dag_sym(raw, SYM_INPUT, i, names[i]);
        }
        uint64_t seed = rng;
        const DagNode *f = gen(&g, DEPTH);
        uint64_t after = rng;
        rng = seed;
        same_ptr += gen(&g, DEPTH) == f;  // hash-consing: the same tree again
        rng = seed;
        const DagNode *fr = gen(&gr, DEPTH);  // the same tree without any rules
        rng = after;
        raw_nodes += dag_count(1, &fr);
        sound_nodes += dag_count(1, &f);

        /* gradient: one vjp for all three inputs, and three forward diffs */
        const DagNode *one = dag_const(p, 1), *grad[3];
        dag_vjp(p, 1, &f, &one, 3, g.x, grad);
        grad_nodes += dag_count(3, grad);
        for (int s = 0; s < 3; s++) {
            double xs[3] = {uniform(-1.5, 1.5), uniform(-1.5, 1.5), uniform(-1.5, 1.5)};
            double gv[3];
            DagEnv env = {.values = {[SYM_INPUT] = xs}, .count = {[SYM_INPUT] = 3}};
            dag_eval(3, grad, &env, gv);
            for (int k = 0; k < 3; k++) {
                double dv = eval_at(dag_diff(p, f, g.x[k]), xs, 3);
                int agree = same(dv, gv[k]) ||
                            fabs(dv - gv[k]) <= 1e-9 * fmax(1, fabs(gv[k]));
                mode_bad += !agree && isfinite(gv[k]);
                int r = fd_check(f, xs, 3, k, gv[k], 1e-6);
                fd_ok += r == 1, fd_bad += r == 0, fd_skip += r < 0;
                if (r == 0) {
                    fprintf(stderr, "    tree %d var %d: grad %.17g fd %.17g\n", t, k, gv[k],
                            fd4(f, xs, 3, k, 1e-3));
                    dag_print_roots(stderr, 1, &f, NULL);
                }
            }
        }

        /* rules keep values: raw vs sound on random and special inputs */
        for (int s = 0; s < 20; s++) {
            double xs[3];
            for (int i = 0; i < 3; i++)
                xs[i] = s < 10 ? uniform(-2, 2) : specials[irand(NSPECIAL)];
            double a = eval_at(fr, xs, 3), b = eval_at(f, xs, 3);
            /* pow's products round differently, amplified by what follows */
            simp_bad += !(same(a, b) || fabs(a - b) <= 1e-9 * fmax(1, fabs(a)) ||
                          (s >= 10 && (!isfinite(a) || !isfinite(b))));
        }
        /* dag_simplify of the raw tree, in the sound pool, is the sound tree; and
         * simplifying again changes nothing */
        {
            DagPool *q = p;
            rng = seed;
            dag_pool_set_rules(q, DAG_RULES_NONE);
            const DagNode *fraw = gen(&g, DEPTH);
            rng = after;
            dag_pool_set_rules(q, DAG_RULES_SOUND);
            resimp_bad += dag_simplify(q, fraw) != f || dag_simplify(q, f) != f;
        }
        /* algebraic mode: the same values wherever the sound tree is finite throughout */
        dag_pool_set_algebraic(p, 1);
        const DagNode *fa = dag_simplify(p, f);
        alg_nodes += dag_count(1, &fa);
        int n;
        const DagNode **list = dag_topo(1, &f, &n);
        char *sig = malloc((size_t)n + 1);
        for (int s = 0; s < 10; s++) {
            double xs[3] = {uniform(-2, 2), uniform(-2, 2), uniform(-2, 2)};
            int fin;
            kinks(list, n, xs, 3, sig, &fin);
            if (!fin)
                continue;
            double a = eval_at(f, xs, 3), b = eval_at(fa, xs, 3);
            alg_checked++;
            alg_bad += !(fabs(a - b) <= 1e-6 * fmax(1, fabs(a)));
        }
        free(sig);
        dag_realloc(list, 0);
        ASSERT(!dag_pool_failed(p));
        dag_pool_free(raw);
        dag_pool_free(p);
    }
    printf("random trees: %d; nodes raw %ld, sound %ld, algebraic %ld, gradients %ld\n",
           NTREES, raw_nodes, sound_nodes, alg_nodes, grad_nodes);
    printf("  finite differences: %d checked, %d skipped (kink/non-finite/noisy)\n",
           fd_ok + fd_bad, fd_skip);
    ASSERT_EQ(NTREES, same_ptr);
    ASSERT_EQ(0, fd_bad);
    ASSERT(fd_ok > NTREES * 9 / 2);  // at least half of the 9 checks per tree
    ASSERT_EQ(0, mode_bad);
    ASSERT_EQ(0, simp_bad);
    ASSERT_EQ(0, resimp_bad);
    ASSERT_EQ(0, alg_bad);
    ASSERT(alg_checked > NTREES * 5);
    ASSERT(sound_nodes < raw_nodes);
}

/* ---- vjp with several outputs and symbolic seeds; jvp ---- */

static void test_vjp_multi(void)
{
    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_STATE, 0, "q"), *y = dag_sym(p, SYM_STATE, 1, "p");
    const DagNode *w = dag_sym(p, SYM_PARAM, 0, "w");
    /* outs: f1 = tanh(w q) p, f2 = p^2 / 2 + w */
    const DagNode *f1 = dag_mul(p, dag_unary(p, OP_TANH, dag_mul(p, w, x)), y);
    const DagNode *f2 = dag_add(p, dag_div(p, dag_powi(p, y, 2), dag_const(p, 2)), w);
    const DagNode *outs[2] = {f1, f2}, *wrt[3] = {x, y, w}, *res[3], *jv[2];
    const DagNode *seeds[2] = {dag_sym(p, SYM_SEED, 0, "s1"), dag_sym(p, SYM_SEED, 1, "s2")};
    ASSERT_EQ(0, dag_vjp(p, 2, outs, seeds, 3, wrt, res));
    const DagNode *tang[3] = {dag_const(p, 0.3), dag_const(p, -0.7), dag_const(p, 1.1)};
    ASSERT_EQ(0, dag_jvp(p, 3, wrt, tang, 2, outs, jv));
    double st[2] = {0.4, -1.3}, pa[1] = {0.8}, sd[2] = {1.7, -0.6};
    DagEnv env = {.values = {[SYM_STATE] = st, [SYM_PARAM] = pa, [SYM_SEED] = sd},
                  .count = {[SYM_STATE] = 2, [SYM_PARAM] = 1, [SYM_SEED] = 2}};
    double r[3], j[2];
    ASSERT_EQ(0, dag_eval(3, res, &env, r));
    ASSERT_EQ(0, dag_eval(2, jv, &env, j));
    double q = st[0], pp = st[1], ww = pa[0], th = tanh(ww * q), sech2 = 1 - th * th;
    double J[2][3] = {{ww * sech2 * pp, th, q * sech2 * pp}, {0, pp, 1}};
    for (int k = 0; k < 3; k++)
        ASSERT_CLOSE(sd[0] * J[0][k] + sd[1] * J[1][k], r[k], 1e-14);
    for (int o = 0; o < 2; o++)
        ASSERT_CLOSE(0.3 * J[o][0] - 0.7 * J[o][1] + 1.1 * J[o][2], j[o], 1e-14);
    /* the same output listed twice accumulates its seeds */
    const DagNode *twice[2] = {f2, f2}, *g;
    dag_vjp(p, 2, twice, seeds, 1, &y, &g);
    ASSERT_CLOSE((sd[0] + sd[1]) * pp, (dag_eval(1, &g, &env, r), r[0]), 1e-15);
    /* a missing symbol is an error, not a crash */
    DagEnv empty = {0};
    ASSERT_EQ(-1, dag_eval(1, &f1, &empty, r));
    ASSERT(isnan(r[0]));
    ASSERT(strstr(dag_eval_error(), "q") != NULL);
    dag_pool_free(p);
}

/* ---- long chains and limits ---- */

static void test_long_chain(void)
{
    enum { N = 200000 };
    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *h = x;
    const DagNode *half = dag_const(p, 0.5), *c = dag_const(p, 0.3);
    for (int i = 0; i < N; i++)  /* h = tanh(h) * 0.5 + 0.3 x */
        h = dag_add(p, dag_mul(p, dag_unary(p, OP_TANH, h), half), dag_mul(p, c, x));
    ASSERT(h != NULL);
    ASSERT_EQ(3 * N + 1, dag_count(1, &h));  // tanh, mul, add per step, and 0.3 x once
    const DagNode *d = dag_diff(p, h, x), *one = dag_const(p, 1), *g;
    ASSERT(d != NULL);
    ASSERT_EQ(0, dag_vjp(p, 1, &h, &one, 1, &x, &g));
    double xs[1] = {0.7}, v[3];
    const DagNode *roots[3] = {h, d, g};
    DagEnv env = {.values = {[SYM_INPUT] = xs}, .count = {[SYM_INPUT] = 1}};
    ASSERT_EQ(0, dag_eval(3, roots, &env, v));
    /* reference: the same recurrence and its forward derivative in plain C */
    double hv = 0.7, dv = 1;
    for (int i = 0; i < N; i++) {
        double t = tanh(hv);
        dv = (1 - t * t) * dv * 0.5 + 0.3;
        hv = t * 0.5 + 0.3 * 0.7;
    }
    ASSERT_CLOSE(hv, v[0], 1e-12);
    ASSERT_CLOSE(dv, v[1], 1e-12);
    ASSERT_CLOSE(dv, v[2], 1e-12);
    const DagNode *s = dag_simplify(p, g);
    ASSERT(s == g);
    FILE *null = fopen("/dev/null", "w");
    dag_print_roots(null, 1, &g, NULL);
    fclose(null);
    printf("chain of %d: %d nodes in the pool\n", N, dag_pool_size(p));
    ASSERT(!dag_pool_failed(p));
    dag_pool_free(p);

    /* algebraic mode on a chain: h = h x + h y + 1 -> (x + y) h + 1, and simplify */
    p = dag_pool_new();
    dag_pool_set_algebraic(p, 1);
    x = dag_sym(p, SYM_INPUT, 0, "x");
    const DagNode *y = dag_sym(p, SYM_INPUT, 1, "y");
    h = x;
    for (int i = 0; i < N; i++)
        h = dag_add(p, dag_add(p, dag_mul(p, h, x), dag_mul(p, h, y)), dag_const(p, 1));
    ASSERT(h != NULL && dag_simplify(p, h) == h);
    ASSERT_EQ(2 * N + 1, dag_count(1, &h));  // one add(x, y), then mul and add per step
    dag_pool_free(p);
}

static void test_limit(void)
{
    DagPool *p = dag_pool_new();
    dag_pool_set_limit(p, 1000);
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *h = x;
    for (int i = 0; i < 2000; i++)
        h = dag_unary(p, OP_SIN, dag_add(p, h, x));
    ASSERT(h == NULL);
    ASSERT(dag_pool_failed(p));
    ASSERT(strstr(dag_pool_error(p), "1000") != NULL);
    ASSERT(dag_pool_size(p) <= 1000);
    ASSERT(dag_diff(p, h, x) == NULL);
    ASSERT(dag_const(p, 1) == NULL);
    const DagNode *out;
    ASSERT_EQ(-1, dag_simplify_roots(p, 1, &x, &out));
    dag_pool_free(p);
}

/* ---- printing ---- */

static void test_print(void)
{
    DagPool *p = dag_pool_new();
    const DagNode *x = dag_sym(p, SYM_INPUT, 0, "x"), *y = dag_sym(p, SYM_INPUT, 1, "y");
    const DagNode *z = dag_sym(p, SYM_INPUT, 2, "z"), *k = dag_const(p, 2.5);
    const DagNode *e[8];
    char *s;
    e[0] = dag_sub(p, dag_sub(p, x, y), z);
    e[1] = dag_sub(p, x, dag_sub(p, y, z));
    e[2] = dag_neg(p, dag_pow(p, x, k));
    e[3] = dag_pow(p, dag_mul(p, x, y), k);
    e[4] = dag_add(p, x, dag_mul(p, y, z));
    e[5] = dag_mul(p, dag_add(p, x, y), dag_const(p, -2));
    const DagNode *lt = dag_binary(p, OP_LT, x, y);  // made first: it goes first in &&
    const DagNode *ne = dag_unary(p, OP_NOT, dag_binary(p, OP_EQ, y, z));
    e[6] = dag_select(p, dag_binary(p, OP_AND, ne, lt), dag_unary(p, OP_EXP, x),
                      dag_binary(p, OP_MAX, y, dag_const(p, 0.1)));
    e[7] = dag_pow(p, dag_pow(p, x, y), z);
    const char *names[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    s = print_to_string(8, e, names);
    ASSERT_STR("a = x - y - z\n"
               "b = x - (y - z)\n"
               "c = -x^2.5\n"
               "d = (x * y)^2.5\n"
               "e = x + y * z\n"
               "f = -2 * (x + y)\n"
               "g = select(x < y && !(y == z), exp(x), max(0.1, y))\n"
               "h = (x^y)^z\n", s);
    free(s);
    /* shared subexpressions become temporaries */
    const DagNode *t = dag_unary(p, OP_TANH, x), *r = dag_add(p, dag_mul(p, t, t), t);
    s = print_to_string(1, &r, NULL);
    ASSERT_STR("t1 = tanh(x)\nr0 = t1 + t1 * t1\n", s);
    free(s);
    const DagNode *two[2] = {t, dag_mul(p, t, y)};
    s = print_to_string(2, two, names);
    ASSERT_STR("t1 = tanh(x)\na = t1\nb = y * t1\n", s);
    free(s);
    const DagNode *sym = dag_sym(p, SYM_PARAM, 3, NULL), *c = dag_const(p, -0.0);
    const DagNode *u = dag_pow(p, dag_add(p, sym, c), dag_const(p, -0.5));
    s = print_to_string(1, &u, NULL);
    ASSERT_STR("r0 = par3^(-0.5)\n", s);
    free(s);
    char buf[40];
    dag_format_const(buf, sizeof buf, 0.1);
    ASSERT_STR("0.1", buf);
    dag_format_const(buf, sizeof buf, 1.0 / 3);
    ASSERT_STR("0.3333333333333333", buf);
    dag_format_const(buf, sizeof buf, -0.0);
    ASSERT_STR("-0", buf);
    dag_format_const(buf, sizeof buf, 1e300);
    ASSERT_STR("1e+300", buf);
    dag_pool_free(p);
}

int main(void)
{
    test_hash_consing();
    test_folding();
    test_sound_rules();
    test_rules_fd();
    test_kink_conventions();
    test_vjp_multi();
    test_random_trees();
    test_long_chain();
    test_limit();
    test_print();
    return test_summary();
}
