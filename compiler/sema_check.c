/* sema_check.c: constant evaluation and the by-construction structure analyses.
 *
 * Constants: hypers, dimensions, indices, initializers and integrator arguments must
 * be known when the spec is compiled.  sema_const evaluates numbers, hypers declared
 * earlier, arithmetic, comparisons, conditionals and the scalar built-ins, in double.
 *
 * Structure: the port-Hamiltonian form is passive (dH/dt <= y^T u) when J is
 * skew-symmetric and R is positive semidefinite.  Rather than trust the user, the
 * compiler accepts only forms whose property holds for every value of the params:
 *   R is PSD:   zeros, eye, diag(v >= 0), blockdiag(PSD...), A @ transpose(A),
 *               transpose(A) @ A, outer(v, v), PSD + PSD, c * PSD and PSD / c with
 *               c >= 0, a nonnegative scalar (one state), a diagonal literal;
 *   v >= 0:     nonnegative constants and hypers, exp, softplus, sigmoid, relu, abs,
 *               sqrt, x^(even integer), x * x, dot(v, v), sums, products and
 *               quotients of nonnegatives, max with a nonnegative, min of two;
 *   J is skew:  zeros, canonical(q, p), A - transpose(A), c * S, S + S, -S,
 *               blockdiag(S...), a literal with M[j,i] = -M[i,j] (both constants, or
 *               one entry written as the other negated, as [0, w; -w, 0]).
 * Names of lets are followed to their values and def calls to their bodies, with the
 * parameters standing for the arguments (a Subst). */
#include <math.h>
#include <string.h>

#include "sema_impl.h"

/* ---- constants ---- */

static double apply_builtin(int id, double a, double b)
{
    switch (id) {
    case B_EXP: return exp(a);
    case B_LOG: return log(a);
    case B_LOG1P: return log1p(a);
    case B_EXPM1: return expm1(a);
    case B_SQRT: return sqrt(a);
    case B_TANH: return tanh(a);
    case B_SIGMOID: return 1 / (1 + exp(-a));
    case B_SOFTPLUS: return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a));
    case B_RELU: return a > 0 ? a : 0;
    case B_ABS: return fabs(a);
    case B_SIGN: return (a > 0) - (a < 0);
    case B_SIN: return sin(a);
    case B_COS: return cos(a);
    case B_MIN: return a < b ? a : b;
    case B_MAX: return a > b ? a : b;
    case B_POW: return pow(a, b);
    }
    return NAN;
}

/* const_eval: 1 and the value, or 0 with *why naming the first non-constant part. */
static int const_eval(Sema *s, Expr *e, double *out, Expr **why)
{
    double a = 0, b = 0, c = 0;
    if (!e) return 0;
    switch (e->kind) {
    case EX_NUM: *out = e->num; return 1;
    case EX_NAME: {
        Sym *sym = s->info && !s->frame ? sema_lookup(s->info, e->name) : NULL;
        if (!sym || sym->kind != SK_HYPER || !sym->typed) break;
        sym->used = 1;
        *out = sym->value;
        return 1;
    }
    case EX_UNARY:
        if (!const_eval(s, e->args[0], &a, why)) return 0;
        *out = e->op == AOP_NOT ? !a : -a;
        return 1;
    case EX_BINARY:
        if (e->op == AOP_MATMUL) break;
        if (!const_eval(s, e->args[0], &a, why) || !const_eval(s, e->args[1], &b, why)) return 0;
        switch (e->op) {
        case AOP_PLUS: *out = a + b; break;
        case AOP_MINUS: *out = a - b; break;
        case AOP_TIMES: *out = a * b; break;
        case AOP_DIVIDE: *out = a / b; break;
        case AOP_POWER: *out = pow(a, b); break;
        case AOP_LESS: *out = a < b; break;
        case AOP_GREATER: *out = a > b; break;
        case AOP_LESS_EQ: *out = a <= b; break;
        case AOP_GREATER_EQ: *out = a >= b; break;
        case AOP_EQUAL: *out = a == b; break;
        case AOP_NOT_EQUAL: *out = a != b; break;
        case AOP_AND: *out = a != 0 && b != 0; break;
        case AOP_OR: *out = a != 0 || b != 0; break;
        default: return 0;
        }
        return 1;
    case EX_COND:
        if (!const_eval(s, e->args[0], &c, why)) return 0;
        return const_eval(s, e->args[c != 0 ? 1 : 2], out, why);
    case EX_CALL: {
        int id = sema_builtin_id(e->name);
        if (id < 0 || load_find_def(s->prog, e->name)) break;
        int rule = sema_builtins[id].rule;
        if ((rule != RULE_ELEM1 && rule != RULE_ELEM2) || e->nargs != sema_builtins[id].min_args)
            break;
        if (!const_eval(s, e->args[0], &a, why)) return 0;
        if (e->nargs == 2 && !const_eval(s, e->args[1], &b, why)) return 0;
        *out = apply_builtin(id, a, b);
        return 1;
    }
    default: break;
    }
    *why = e;
    return 0;
}

int sema_const(Sema *s, Expr *e, double *out, const char *what)
{
    Expr *why = NULL;
    if (const_eval(s, e, out, &why)) return 0;
    if (!what || !why) return -1;
    Sym *sym = why->kind == EX_NAME && s->info && !s->frame ? sema_lookup(s->info, why->name) : NULL;
    if (sym) sym->used = 1;   // misused, but not unused: one message is enough
    if (sym && sym->kind == SK_HYPER)
        diag_error(s->d, why->loc, "%s must be a constant, and hyper '%s' is declared after it",
                   what, why->name);
    else if (sym)
        diag_error(s->d, why->loc, "%s must be a constant (numbers and hypers), not '%s'", what,
                   why->name);
    else
        diag_error(s->d, why->loc, "%s must be a constant made of numbers and hypers", what);
    return -1;
}

int sema_const_int(Sema *s, Expr *e, const char *what, int lo, int hi, int *out)
{
    double v;
    if (sema_const(s, e, &v, what) != 0) return -1;
    if (v != floor(v) || v < lo || v > hi) {
        if (hi == lo)
            diag_error(s->d, e->loc, "%s must be %d, got %g", what, lo, v);
        else
            diag_error(s->d, e->loc, "%s must be an integer from %d to %d, got %g", what, lo, hi, v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* sema_is_const: whether e (of any shape) is made only of numbers, hypers and
 * built-ins, so an initial value can be computed before any step runs. */
int sema_is_const(Sema *s, Expr *e)
{
    if (!e) return 0;
    switch (e->kind) {
    case EX_NUM: return 1;
    case EX_NAME: {
        Sym *sym = s->info ? sema_lookup(s->info, e->name) : NULL;
        return sym && sym->kind == SK_HYPER;
    }
    case EX_PRIME: return 0;
    case EX_CALL:
        if (load_find_def(s->prog, e->name) || sema_builtin_id(e->name) < 0) return 0;
        if (sema_builtin_id(e->name) == B_CANONICAL) return 0;
        break;
    default: break;
    }
    for (int i = 0; i < e->nargs; i++)
        if (!sema_is_const(s, e->args[i])) return 0;
    return 1;
}

/* ---- by-construction analyses ---- */

typedef struct Subst {
    Def *def;
    Expr **args;
    struct Subst *up;
} Subst;

/* The argument a def parameter stands for, or NULL when name is not one. */
static Expr *bound(Subst *sub, const char *name, Subst **where)
{
    if (!sub) return NULL;
    for (int i = 0; i < sub->def->nparams; i++) {
        if (sub->def->params[i] == name) {
            *where = sub->up;
            return sub->args[i];
        }
    }
    return NULL;
}

static Sym *local(Sema *s, Subst *sub, Expr *e)
{
    return !sub && e->kind == EX_NAME && s->info ? sema_lookup(s->info, e->name) : NULL;
}

/* over_budget: charge `cost` steps to the current question; 1 once it is spent. */
static int over_budget(Sema *s, long cost)
{
    s->proof_steps += cost;
    return s->proof_steps > SEMA_MAX_PROOF_STEPS;
}

/* Nodes in e, the cost of typing it again (enter_def). */
static long expr_size(const Expr *e)
{
    long n = 1;
    for (int i = 0; e && i < e->nargs; i++) n += expr_size(e->args[i]);
    return n;
}

/* The analyses recurse through lets and def bodies, so each step goes through one of
 * these wrappers, which charge it to the budget and count the nesting; past either
 * limit the property is not shown (and check_matrix_decl says why). */
static int same_at(Sema *s, Expr *a, Subst *sa, Expr *b, Subst *sb);
static int nonneg_at(Sema *s, Expr *e, Subst *sub, Expr **culprit);
static int psd_at(Sema *s, Expr *e, Subst *sub, Expr **culprit);
static int skew_at(Sema *s, Expr *e, Subst *sub, Expr **culprit);

static int enter_step(Sema *s)
{
    if (s->depth >= SEMA_MAX_DEPTH) s->proof_steps = SEMA_MAX_PROOF_STEPS + 1;
    if (over_budget(s, 1)) return 0;
    s->depth++;
    return 1;
}

static int same(Sema *s, Expr *a, Subst *sa, Expr *b, Subst *sb)
{
    if (!a || !b || !enter_step(s)) return 0;
    int ok = same_at(s, a, sa, b, sb);
    s->depth--;
    return ok;
}

/* same: structural equality of two expressions, through lets' names not at all
 * (a let is equal to itself by name) and through def parameters to their arguments. */
static int same_at(Sema *s, Expr *a, Subst *sa, Expr *b, Subst *sb)
{
    Subst *w;
    Expr *x;
    if (a->kind == EX_NAME && (x = bound(sa, a->name, &w))) return same(s, x, w, b, sb);
    if (b->kind == EX_NAME && (x = bound(sb, b->name, &w))) return same(s, a, sa, x, w);
    if (a->kind != b->kind || a->nargs != b->nargs || a->op != b->op) return 0;
    switch (a->kind) {
    case EX_NUM: return a->num == b->num;
    case EX_NAME: case EX_PRIME: return a->name == b->name;
    case EX_CALL: if (a->name != b->name) return 0; break;
    case EX_MATRIX:
        if (a->nrows != b->nrows) return 0;
        for (int r = 0; r < a->nrows; r++)
            if (a->row_len[r] != b->row_len[r]) return 0;
        break;
    default: break;
    }
    for (int i = 0; i < a->nargs; i++)
        if (!same(s, a->args[i], sa, b->args[i], sb)) return 0;
    return 1;
}

static int is_call(Sema *s, Expr *e, int id)
{
    return e && e->kind == EX_CALL && !load_find_def(s->prog, e->name) &&
           sema_builtin_id(e->name) == id;
}

static int fail(Expr *e, Expr **culprit)
{
    if (!*culprit) *culprit = e;
    return 0;
}

static int nonneg(Sema *s, Expr *e, Subst *sub, Expr **culprit)
{
    if (!e) return 0;
    if (!enter_step(s)) return fail(e, culprit);
    int ok = nonneg_at(s, e, sub, culprit);
    s->depth--;
    return ok;
}

static int psd(Sema *s, Expr *e, Subst *sub, Expr **culprit)
{
    if (!e) return 0;
    if (!enter_step(s)) return fail(e, culprit);
    int ok = psd_at(s, e, sub, culprit);
    s->depth--;
    return ok;
}

static int skew(Sema *s, Expr *e, Subst *sub, Expr **culprit)
{
    if (!e) return 0;
    if (!enter_step(s)) return fail(e, culprit);
    int ok = skew_at(s, e, sub, culprit);
    s->depth--;
    return ok;
}

/* Entering a def body re-types it for this call's argument shapes: the analyses read
 * the shapes of the body's nodes, and those are left over from whichever call was
 * typed last (sema_type memoizes per argument shapes). */
static Subst *enter_def(Sema *s, Expr *call, Subst *sub)
{
    Def *def = load_find_def(s->prog, call->name);
    if (!def || !def->body || call->nargs != def->nparams || def->broken) return NULL;
    if (over_budget(s, expr_size(def->body))) return NULL;
    Shape *shapes = arena_alloc(s->a, (size_t)(def->nparams + 1) * sizeof *shapes);
    for (int i = 0; i < def->nparams; i++) shapes[i] = call->args[i]->shape;
    DefFrame frame = {def, shapes, call->args, NULL, call->loc, 1}, *saved = s->frame;
    s->frame = &frame;
    Shape result = sema_type(s, def->body);
    s->frame = saved;
    if (result.rank < 0) return NULL;
    Subst *in = arena_alloc(s->a, sizeof *in);
    *in = (Subst){def, call->args, sub};
    return in;
}

/* An even integer constant, also when a def's parameter stands for one. */
static int even_integer(Sema *s, Expr *e, Subst *sub)
{
    double v;
    Subst *w;
    Expr *x;
    if (e->kind == EX_NAME && (x = bound(sub, e->name, &w))) return even_integer(s, x, w);
    if (e->kind == EX_NUM) v = e->num;
    else if (sub || sema_const(s, e, &v, NULL) != 0) return 0;
    return v == floor(v) && fmod(v, 2) == 0;
}

static int nonneg_call(Sema *s, Expr *e, Subst *sub, Expr **culprit)
{
    Subst *in = enter_def(s, e, sub);
    if (in) return nonneg(s, in->def->body, in, culprit);
    switch (sema_builtin_id(e->name)) {
    case B_EXP: case B_SOFTPLUS: case B_SIGMOID: case B_RELU: case B_ABS: case B_SQRT:
    case B_ZEROS: case B_ONES: case B_EYE:
        return 1;
    case B_SUM: case B_MEAN: case B_DIAG: case B_TRANSPOSE:
        return nonneg(s, e->args[0], sub, culprit);
    case B_DOT:
        if (same(s, e->args[0], sub, e->args[1], sub)) return 1;
        /* fallthrough */
    case B_OUTER:   // outer(v, v) is PSD, but its entries may be negative
    case B_MIN:
        return nonneg(s, e->args[0], sub, culprit) && nonneg(s, e->args[1], sub, culprit);
    case B_MAX: {
        Expr *ignore = NULL;
        return nonneg(s, e->args[0], sub, &ignore) || nonneg(s, e->args[1], sub, culprit);
    }
    case B_POW:
        return even_integer(s, e->args[1], sub) || nonneg(s, e->args[0], sub, culprit);
    case B_BLOCKDIAG:
        for (int i = 0; i < e->nargs; i++)
            if (!nonneg(s, e->args[i], sub, culprit)) return 0;
        return 1;
    }
    return fail(e, culprit);
}

/* nonneg: every element of e is >= 0 for all values of params, states and inputs. */
static int nonneg_at(Sema *s, Expr *e, Subst *sub, Expr **culprit)
{
    double v;
    Subst *w;
    Expr *x;
    if (!sub && e->shape.rank == 0 && sema_const(s, e, &v, NULL) == 0)
        return v >= 0 ? 1 : fail(e, culprit);
    switch (e->kind) {
    case EX_NUM: return e->num >= 0 ? 1 : fail(e, culprit);
    case EX_NAME: {
        if ((x = bound(sub, e->name, &w))) return nonneg(s, x, w, culprit);
        Sym *sym = local(s, sub, e);
        if (sym && sym->kind == SK_LET && sym->decl) return nonneg(s, sym->decl->value, NULL, culprit);
        return fail(e, culprit);
    }
    case EX_BINARY:
        switch (e->op) {
        case AOP_PLUS: case AOP_DIVIDE:
            return nonneg(s, e->args[0], sub, culprit) && nonneg(s, e->args[1], sub, culprit);
        case AOP_TIMES:
            if (same(s, e->args[0], sub, e->args[1], sub)) return 1;
            return nonneg(s, e->args[0], sub, culprit) && nonneg(s, e->args[1], sub, culprit);
        case AOP_POWER:
            return even_integer(s, e->args[1], sub) || nonneg(s, e->args[0], sub, culprit);
        default: return fail(e, culprit);
        }
    case EX_CALL: return nonneg_call(s, e, sub, culprit);
    case EX_COND:
        return nonneg(s, e->args[1], sub, culprit) && nonneg(s, e->args[2], sub, culprit);
    case EX_INDEX: return nonneg(s, e->args[0], sub, culprit);
    case EX_MATRIX:
        for (int i = 0; i < e->nargs; i++)
            if (!nonneg(s, e->args[i], sub, culprit)) return 0;
        return 1;
    default: return fail(e, culprit);
    }
}

/* A literal whose elements are all scalars, laid out n x n: element (i, j). */
static Expr *literal_at(Expr *e, int n, int i, int j)
{
    return e->args[i * n + j];
}

static int square_scalar_literal(Expr *e, int *n)
{
    if (e->kind != EX_MATRIX) return 0;
    for (int r = 0; r < e->nrows; r++)
        if (e->row_len[r] != e->nrows) return 0;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i]->shape.rank != 0) return 0;
    *n = e->nrows;
    return 1;
}

static int psd_call(Sema *s, Expr *e, Subst *sub, Expr **culprit)
{
    Subst *in = enter_def(s, e, sub);
    if (in) return psd(s, in->def->body, in, culprit);
    switch (sema_builtin_id(e->name)) {
    case B_ZEROS: case B_EYE: return 1;
    case B_DIAG:
        if (e->args[0]->shape.rank == 1) return nonneg(s, e->args[0], sub, culprit);
        break;
    case B_BLOCKDIAG:
        for (int i = 0; i < e->nargs; i++)
            if (!psd(s, e->args[i], sub, culprit)) return 0;
        return 1;
    case B_OUTER:
        if (same(s, e->args[0], sub, e->args[1], sub)) return 1;
        break;
    case B_TRANSPOSE: return psd(s, e->args[0], sub, culprit);
    }
    if (e->shape.rank == 0) return nonneg(s, e, sub, culprit);
    return fail(e, culprit);
}

/* psd: e is a symmetric positive semidefinite matrix (or a nonnegative scalar). */
static int psd_at(Sema *s, Expr *e, Subst *sub, Expr **culprit)
{
    Subst *w;
    Expr *x, *a, *b;
    int n;
    switch (e->kind) {
    case EX_NAME: {
        if ((x = bound(sub, e->name, &w))) return psd(s, x, w, culprit);
        Sym *sym = local(s, sub, e);
        if (sym && sym->kind == SK_LET && sym->decl) return psd(s, sym->decl->value, NULL, culprit);
        break;
    }
    case EX_CALL: return psd_call(s, e, sub, culprit);
    case EX_COND: return psd(s, e->args[1], sub, culprit) && psd(s, e->args[2], sub, culprit);
    case EX_BINARY:
        a = e->args[0], b = e->args[1];
        switch (e->op) {
        case AOP_PLUS: return psd(s, a, sub, culprit) && psd(s, b, sub, culprit);
        case AOP_TIMES:
            if (a->shape.rank == 0 && b->shape.rank != 0)
                return nonneg(s, a, sub, culprit) && psd(s, b, sub, culprit);
            if (b->shape.rank == 0 && a->shape.rank != 0)
                return psd(s, a, sub, culprit) && nonneg(s, b, sub, culprit);
            break;
        case AOP_DIVIDE:
            if (b->shape.rank == 0) return psd(s, a, sub, culprit) && nonneg(s, b, sub, culprit);
            break;
        case AOP_MATMUL:   // A @ transpose(A) and transpose(A) @ A
            if (is_call(s, b, B_TRANSPOSE) && same(s, a, sub, b->args[0], sub)) return 1;
            if (is_call(s, a, B_TRANSPOSE) && same(s, a->args[0], sub, b, sub)) return 1;
            return fail(e, culprit);
        default: break;
        }
        break;
    case EX_MATRIX:   // a diagonal literal with nonnegative diagonal
        if (!square_scalar_literal(e, &n)) return fail(e, culprit);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                Expr *el = literal_at(e, n, i, j);
                double v;
                if (i == j && !nonneg(s, el, sub, culprit)) return 0;
                if (i != j && (sub || sema_const(s, el, &v, NULL) != 0 || v != 0))
                    return fail(el, culprit);
            }
        }
        return 1;
    default: break;
    }
    if (e->shape.rank == 0) return nonneg(s, e, sub, culprit);
    return fail(e, culprit);
}

/* negation_of: a is written -b (b, any expression, structurally). */
static int negation_of(Sema *s, Expr *a, Expr *b, Subst *sub)
{
    return a->kind == EX_UNARY && a->op == AOP_MINUS && same(s, a->args[0], sub, b, sub);
}

static int skew_at(Sema *s, Expr *e, Subst *sub, Expr **culprit)
{
    Subst *w;
    Expr *x, *a, *b;
    double v;
    int n;
    switch (e->kind) {
    case EX_NUM: return e->num == 0 ? 1 : fail(e, culprit);
    case EX_NAME: {
        if ((x = bound(sub, e->name, &w))) return skew(s, x, w, culprit);
        Sym *sym = local(s, sub, e);
        if (sym && sym->kind == SK_LET && sym->decl) return skew(s, sym->decl->value, NULL, culprit);
        return fail(e, culprit);
    }
    case EX_UNARY: return e->op == AOP_MINUS ? skew(s, e->args[0], sub, culprit) : fail(e, culprit);
    case EX_COND: return skew(s, e->args[1], sub, culprit) && skew(s, e->args[2], sub, culprit);
    case EX_CALL: {
        Subst *in = enter_def(s, e, sub);
        if (in) return skew(s, in->def->body, in, culprit);
        switch (sema_builtin_id(e->name)) {
        case B_ZEROS: case B_CANONICAL: return 1;
        case B_TRANSPOSE: return skew(s, e->args[0], sub, culprit);
        case B_BLOCKDIAG:
            for (int i = 0; i < e->nargs; i++)
                if (!skew(s, e->args[i], sub, culprit)) return 0;
            return 1;
        }
        return fail(e, culprit);
    }
    case EX_BINARY:
        a = e->args[0], b = e->args[1];
        switch (e->op) {
        case AOP_MINUS:   // A - transpose(A), transpose(A) - A
            if (is_call(s, b, B_TRANSPOSE) && same(s, a, sub, b->args[0], sub)) return 1;
            if (is_call(s, a, B_TRANSPOSE) && same(s, a->args[0], sub, b, sub)) return 1;
            /* fallthrough */
        case AOP_PLUS: return skew(s, a, sub, culprit) && skew(s, b, sub, culprit);
        case AOP_TIMES:
            if (a->shape.rank == 0) return skew(s, b, sub, culprit);
            if (b->shape.rank == 0) return skew(s, a, sub, culprit);
            return fail(e, culprit);
        case AOP_DIVIDE:
            return b->shape.rank == 0 ? skew(s, a, sub, culprit) : fail(e, culprit);
        default: return fail(e, culprit);
        }
    case EX_MATRIX:   // a literal with M[j,i] = -M[i,j]: constants, or x and -x
        if (!square_scalar_literal(e, &n)) return fail(e, culprit);
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double u;
                Expr *el = literal_at(e, n, i, j), *tr = literal_at(e, n, j, i);
                if (i != j && (negation_of(s, tr, el, sub) || negation_of(s, el, tr, sub)))
                    continue;
                if (sub || sema_const(s, el, &v, NULL) != 0) return fail(el, culprit);
                if (sema_const(s, tr, &u, NULL) != 0 || u != -v) return fail(tr, culprit);
            }
        }
        return 1;
    default: return fail(e, culprit);
    }
}

int sema_is_psd(Sema *s, Expr *e, Expr **culprit)
{
    *culprit = NULL;
    s->proof_steps = 0;
    return psd(s, e, NULL, culprit);
}

int sema_is_skew(Sema *s, Expr *e, Expr **culprit)
{
    *culprit = NULL;
    s->proof_steps = 0;
    return skew(s, e, NULL, culprit);
}
