/* lower.c: lowering of .ham expressions to elements of the scalar DAG.
 *
 * Each expression kind maps onto elements as the shape rules of sema_type.c say:
 * elementwise operations broadcast scalars; A @ B is sum_k A[i,k] B[k,j]; literals
 * concatenate; indices pick elements.  Names resolve, in order, to the parameters
 * of the def being inlined, then to the optimizer's symbols: states (bound to the
 * symbols x_t or to an integrator's stage), primes (the post-step values), params,
 * hypers and inputs as DAG symbols, lets and the named structure matrices through
 * their values (memoized when they do not depend on a binding that may change).
 *
 * sema has already checked every shape; lowering trusts them and only guards
 * against the node limit (the pool reports it). */
#include "lower.h"

#include <string.h>

#include "sema_impl.h"

typedef struct DefMemo {
    Def *def;
    TVal *args;
    TVal result;
    struct DefMemo *next;
} DefMemo;

typedef struct Frame {
    Def *def;
    TVal *args;
} Frame;

struct Lowering {
    Program *prog;
    OptInfo *info;
    DagPool *pool;
    Arena *a;
    const DagNode **state_syms;     // x_t
    const DagNode **param_syms;
    const DagNode *const *states;   // what state names read now
    const DagNode *const *primes;   // what x' reads, or NULL
    int generation;                 // bumped on every rebinding: memos of lets expire
    TVal *let_memo;                 // per symbol (by Sym position in info->syms)
    int *let_gen;
    Frame *frame;
    DefMemo *defs;
    int hypers_const;               // lower hypers as their values (for indices)
};

static TVal tv_new(Lowering *l, Shape s)
{
    TVal v = {s, arena_alloc(l->a, (size_t)shape_size(s) * sizeof(DagNode *))};
    return v;
}

static TVal tv_fail(void)
{
    return (TVal){{-1, {0, 0}}, NULL};
}

static const DagNode *K(Lowering *l, double c)
{
    return dag_const(l->pool, c);
}

Lowering *lower_new(Program *prog, OptInfo *info, DagPool *pool, Arena *arena)
{
    Lowering *l = arena_alloc(arena, sizeof *l);
    l->prog = prog;
    l->info = info;
    l->pool = pool;
    l->a = arena;
    int ns = info->scalars[SK_STATE], np = info->scalars[SK_PARAM];
    l->state_syms = arena_alloc(arena, (size_t)(ns + 1) * sizeof(DagNode *));
    l->param_syms = arena_alloc(arena, (size_t)(np + 1) * sizeof(DagNode *));
    for (int i = 0; i < info->count[SK_STATE]; i++) {
        Sym *s = info->by_kind[SK_STATE][i];
        for (int k = 0; k < shape_size(s->shape); k++)
            l->state_syms[s->offset + k] =
                dag_sym(pool, SYM_STATE, s->offset + k, lower_scalar_name(arena, s, k));
    }
    for (int i = 0; i < info->count[SK_PARAM]; i++) {
        Sym *s = info->by_kind[SK_PARAM][i];
        for (int k = 0; k < shape_size(s->shape); k++)
            l->param_syms[s->offset + k] =
                dag_sym(pool, SYM_PARAM, s->offset + k, lower_scalar_name(arena, s, k));
    }
    l->states = l->state_syms;
    l->let_memo = arena_alloc(arena, (size_t)(info->nsyms + 1) * sizeof(TVal));
    l->let_gen = arena_alloc(arena, (size_t)(info->nsyms + 1) * sizeof(int));
    for (int i = 0; i < info->nsyms; i++) l->let_gen[i] = -1;
    return l;
}

void lower_bind_states(Lowering *l, const DagNode *const *values)
{
    l->states = values ? values : l->state_syms;
    l->generation++;
}

void lower_bind_primes(Lowering *l, const DagNode *const *values)
{
    l->primes = values;
    l->generation++;
}

const DagNode *lower_state_sym(Lowering *l, int k)
{
    return l->state_syms[k];
}

const DagNode *lower_param_sym(Lowering *l, int k)
{
    return l->param_syms[k];
}

const char *lower_scalar_name(Arena *a, const Sym *sym, int k)
{
    switch (sym->shape.rank) {
    case 0: return sym->name;
    case 1: return arena_printf(a, "%s[%d]", sym->name, k);
    default: return arena_printf(a, "%s[%d,%d]", sym->name, k / sym->shape.dim[1], k % sym->shape.dim[1]);
    }
}

/* ---- names ---- */

static TVal lower_sym(Lowering *l, Sym *sym)
{
    TVal v;
    int n = shape_size(sym->shape);
    switch (sym->kind) {
    case SK_HYPER:
        v = tv_new(l, shape_scalar());
        v.el[0] = l->hypers_const ? K(l, sym->value) : dag_sym(l->pool, SYM_HYPER, sym->index, sym->name);
        return v;
    case SK_INPUT:
        v = tv_new(l, shape_scalar());
        v.el[0] = dag_sym(l->pool, SYM_INPUT, sema_input_kind(sym->name), sym->name);
        return v;
    case SK_STATE:
        v = tv_new(l, sym->shape);
        for (int k = 0; k < n; k++) v.el[k] = l->states[sym->offset + k];
        return v;
    case SK_PARAM:
        v = tv_new(l, sym->shape);
        for (int k = 0; k < n; k++) v.el[k] = l->param_syms[sym->offset + k];
        return v;
    default: {   // lets and the named H, J, R, G: their values, memoized per binding
        int slot = 0;
        while (l->info->syms[slot] != sym) slot++;
        if (l->let_gen[slot] == l->generation) return l->let_memo[slot];
        Frame *saved = l->frame;
        l->frame = NULL;
        v = lower_expr(l, sym->decl->value);
        l->frame = saved;
        l->let_memo[slot] = v;
        l->let_gen[slot] = l->generation;
        return v;
    }
    }
}

static TVal lower_name(Lowering *l, Expr *e)
{
    if (l->frame) {
        for (int i = 0; i < l->frame->def->nparams; i++)
            if (l->frame->def->params[i] == e->name) return l->frame->args[i];
    }
    Sym *sym = sema_lookup(l->info, e->name);
    if (!sym) UNREACHABLE("lowering an unresolved name");
    return lower_sym(l, sym);
}

static TVal lower_prime(Lowering *l, Expr *e)
{
    Sym *sym = sema_lookup(l->info, e->name);
    if (!sym || !l->primes) UNREACHABLE("lowering a prime outside the update");
    TVal v = tv_new(l, sym->shape);
    for (int k = 0; k < shape_size(sym->shape); k++) v.el[k] = l->primes[sym->offset + k];
    return v;
}

/* ---- elementwise ---- */

static const DagNode *apply(Lowering *l, DagOp op, const DagNode *a, const DagNode *b,
                            const DagNode *c)
{
    return dag_op(l->pool, op, a, b, c);
}

/* Elementwise op over up to three operands, scalars broadcast. */
static TVal elementwise(Lowering *l, DagOp op, int n, TVal *args)
{
    Shape out = shape_scalar();
    for (int i = 0; i < n; i++) {
        if (!args[i].el) return tv_fail();
        if (args[i].shape.rank > 0) out = args[i].shape;
    }
    TVal v = tv_new(l, out);
    for (int k = 0; k < shape_size(out); k++) {
        const DagNode *x[3] = {NULL, NULL, NULL};
        for (int i = 0; i < n; i++) x[i] = args[i].el[args[i].shape.rank ? k : 0];
        v.el[k] = apply(l, op, x[0], x[1], x[2]);
    }
    return v;
}

static DagOp binary_op(AstOp op)
{
    switch (op) {
    case AOP_PLUS: return OP_ADD;
    case AOP_MINUS: return OP_SUB;
    case AOP_TIMES: return OP_MUL;
    case AOP_DIVIDE: return OP_DIV;
    case AOP_POWER: return OP_POW;
    case AOP_LESS: return OP_LT;
    case AOP_GREATER: return OP_GT;
    case AOP_LESS_EQ: return OP_LE;
    case AOP_GREATER_EQ: return OP_GE;
    case AOP_EQUAL: return OP_EQ;
    case AOP_NOT_EQUAL: return OP_NE;
    case AOP_AND: return OP_AND;
    case AOP_OR: return OP_OR;
    default: UNREACHABLE("not an elementwise operator");
    }
}

/* sum of a[i] * b[i] for i < n, with strides. */
static const DagNode *dot_strided(Lowering *l, const DagNode **a, int sa, const DagNode **b,
                                  int sb, int n)
{
    const DagNode *acc = NULL;
    for (int i = 0; i < n; i++) {
        const DagNode *t = dag_mul(l->pool, a[i * sa], b[i * sb]);
        acc = acc ? dag_add(l->pool, acc, t) : t;
    }
    return acc ? acc : K(l, 0);
}

static TVal matmul(Lowering *l, TVal a, TVal b)
{
    if (!a.el || !b.el) return tv_fail();
    int m = a.shape.rank == 2 ? a.shape.dim[0] : 1;
    int inner = a.shape.rank == 2 ? a.shape.dim[1] : a.shape.dim[0];
    int n = b.shape.rank == 2 ? b.shape.dim[1] : 1;
    Shape out = a.shape.rank == 2 && b.shape.rank == 2 ? shape_matrix(m, n)
                : a.shape.rank == 2                    ? shape_vector(m)
                : b.shape.rank == 2                    ? shape_vector(n)
                                                       : shape_scalar();
    TVal v = tv_new(l, out);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            v.el[i * n + j] = dot_strided(l, a.el + i * inner, 1, b.el + j, n, inner);
    return v;
}

/* ---- literals and indexing ---- */

static TVal lower_matrix(Lowering *l, Expr *e)
{
    TVal *el = arena_alloc(l->a, (size_t)(e->nargs + 1) * sizeof *el);
    int flat = 1;
    for (int i = 0; i < e->nargs; i++) {
        el[i] = lower_expr(l, e->args[i]);
        if (!el[i].el) return tv_fail();
        flat &= el[i].shape.rank < 2;
    }
    if (e->nrows == 1 && flat) {   // one vector: concatenate
        int n = 0;
        for (int i = 0; i < e->nargs; i++) n += shape_size(el[i].shape);
        TVal v = tv_new(l, shape_vector(n));
        for (int i = 0, k = 0; i < e->nargs; i++)
            for (int j = 0; j < shape_size(el[i].shape); j++) v.el[k++] = el[i].el[j];
        return v;
    }
    int rows = 0, cols = 0;
    for (int r = 0, k = 0; r < e->nrows; k += e->row_len[r], r++) {
        rows += el[k].shape.rank == 0 ? 1 : el[k].shape.dim[0];
        if (r == 0)
            for (int i = k; i < k + e->row_len[r]; i++) cols += el[i].shape.rank == 2 ? el[i].shape.dim[1] : 1;
    }
    TVal v = tv_new(l, cols == 1 ? shape_vector(rows) : shape_matrix(rows, cols));
    int row0 = 0;
    for (int r = 0, k = 0; r < e->nrows; k += e->row_len[r], r++) {
        int height = el[k].shape.rank == 0 ? 1 : el[k].shape.dim[0], col0 = 0;
        for (int i = k; i < k + e->row_len[r]; i++) {
            int w = el[i].shape.rank == 2 ? el[i].shape.dim[1] : 1;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < w; x++) v.el[(row0 + y) * cols + col0 + x] = el[i].el[y * w + x];
            col0 += w;
        }
        row0 += height;
    }
    return v;
}

/* The value of a constant index or size expression. */
static int const_int(Lowering *l, Expr *e)
{
    int saved = l->hypers_const;
    l->hypers_const = 1;
    TVal v = lower_expr(l, e);
    l->hypers_const = saved;
    if (!v.el || v.el[0]->op != OP_CONST) UNREACHABLE("index is not constant after sema");
    return (int)v.el[0]->value;
}

static TVal lower_index(Lowering *l, Expr *e)
{
    TVal base = lower_expr(l, e->args[0]);
    if (!base.el) return tv_fail();
    int i = const_int(l, e->args[1]);
    if (base.shape.rank == 2 && e->nargs == 2) {   // M[i]: a row
        int n = base.shape.dim[1];
        TVal v = tv_new(l, shape_vector(n));
        for (int k = 0; k < n; k++) v.el[k] = base.el[i * n + k];
        return v;
    }
    int flat = base.shape.rank == 2 ? i * base.shape.dim[1] + const_int(l, e->args[2]) : i;
    TVal v = tv_new(l, shape_scalar());
    v.el[0] = base.el[flat];
    return v;
}

/* ---- built-ins ---- */

static DagOp elem1_op(int id)
{
    switch (id) {
    case B_EXP: return OP_EXP;
    case B_LOG: return OP_LOG;
    case B_LOG1P: return OP_LOG1P;
    case B_EXPM1: return OP_EXPM1;
    case B_SQRT: return OP_SQRT;
    case B_TANH: return OP_TANH;
    case B_SIGMOID: return OP_SIGMOID;
    case B_SOFTPLUS: return OP_SOFTPLUS;
    case B_RELU: return OP_RELU;
    case B_ABS: return OP_ABS;
    case B_SIGN: return OP_SIGN;
    case B_SIN: return OP_SIN;
    case B_COS: return OP_COS;
    case B_MIN: return OP_MIN;
    case B_MAX: return OP_MAX;
    case B_POW: return OP_POW;
    default: UNREACHABLE("not an elementwise builtin");
    }
}

static TVal constant_array(Lowering *l, Shape s, double off_diag, double diag)
{
    TVal v = tv_new(l, s);
    int cols = s.rank == 2 ? s.dim[1] : 1;
    for (int k = 0; k < shape_size(s); k++)
        v.el[k] = K(l, s.rank == 2 && k / cols == k % cols ? diag : off_diag);
    return v;
}

static TVal lower_special(Lowering *l, Expr *e, int id, TVal *args)
{
    TVal a = args[0], v;
    switch (id) {
    case B_SUM: case B_MEAN: {
        const DagNode *acc = NULL;
        int n = shape_size(a.shape);
        for (int k = 0; k < n; k++) acc = acc ? dag_add(l->pool, acc, a.el[k]) : a.el[k];
        v = tv_new(l, shape_scalar());
        v.el[0] = id == B_MEAN ? dag_div(l->pool, acc, K(l, n)) : acc;
        return v;
    }
    case B_DOT:
        v = tv_new(l, shape_scalar());
        v.el[0] = dot_strided(l, a.el, 1, args[1].el, 1, shape_size(a.shape));
        return v;
    case B_DIAG:
        if (a.shape.rank == 2) {
            int n = a.shape.dim[0];
            v = tv_new(l, shape_vector(n));
            for (int k = 0; k < n; k++) v.el[k] = a.el[k * n + k];
            return v;
        } else {
            int n = shape_size(a.shape);
            v = constant_array(l, shape_matrix(n, n), 0, 0);
            for (int k = 0; k < n; k++) v.el[k * n + k] = a.el[k];
            return v;
        }
    case B_BLOCKDIAG: {
        int n = 0;
        for (int i = 0; i < e->nargs; i++) n += args[i].shape.rank == 0 ? 1 : args[i].shape.dim[0];
        v = constant_array(l, shape_matrix(n, n), 0, 0);
        for (int i = 0, at = 0; i < e->nargs; i++) {
            int b = args[i].shape.rank == 0 ? 1 : args[i].shape.dim[0];
            for (int y = 0; y < b; y++)
                for (int x = 0; x < b; x++) v.el[(at + y) * n + at + x] = args[i].el[y * b + x];
            at += b;
        }
        return v;
    }
    case B_TRANSPOSE: {
        if (a.shape.rank < 2) return a;
        int m = a.shape.dim[0], n = a.shape.dim[1];
        v = tv_new(l, shape_matrix(n, m));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) v.el[j * m + i] = a.el[i * n + j];
        return v;
    }
    case B_OUTER: {
        int m = shape_size(a.shape), n = shape_size(args[1].shape);
        v = tv_new(l, shape_matrix(m, n));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) v.el[i * n + j] = dag_mul(l->pool, a.el[i], args[1].el[j]);
        return v;
    }
    default: UNREACHABLE("builtin without lowering");
    }
}

/* canonical(q, p): over x, I in the (q, p) block and -I in the (p, q) block. */
static TVal lower_canonical(Lowering *l, Expr *e)
{
    int n = l->info->ndyn;
    TVal v = constant_array(l, shape_matrix(n, n), 0, 0);
    Sym *q = sema_lookup(l->info, e->args[0]->name), *p = sema_lookup(l->info, e->args[1]->name);
    for (int k = 0; k < shape_size(q->shape); k++) {
        int i = q->dyn_offset + k, j = p->dyn_offset + k;
        v.el[i * n + j] = K(l, 1);
        v.el[j * n + i] = K(l, -1);
    }
    return v;
}

static TVal lower_builtin(Lowering *l, Expr *e, int id)
{
    const BuiltinInfo *b = &sema_builtins[id];
    if (b->rule == RULE_CTOR) {
        int m = const_int(l, e->args[0]), n = e->nargs > 1 ? const_int(l, e->args[1]) : 0;
        if (id == B_EYE) return constant_array(l, shape_matrix(m, m), 0, 1);
        double c = id == B_ONES ? 1 : 0;
        return constant_array(l, e->nargs == 1 ? shape_vector(m) : shape_matrix(m, n), c, c);
    }
    if (id == B_CANONICAL) return lower_canonical(l, e);
    TVal *args = arena_alloc(l->a, (size_t)e->nargs * sizeof *args);
    for (int i = 0; i < e->nargs; i++)
        if (!(args[i] = lower_expr(l, e->args[i])).el) return tv_fail();
    if (b->rule == RULE_ELEM1 || b->rule == RULE_ELEM2)
        return elementwise(l, elem1_op(id), e->nargs, args);
    return lower_special(l, e, id, args);
}

/* ---- defs ---- */

static int same_tval(TVal a, TVal b)
{
    if (!shape_equal(a.shape, b.shape)) return 0;
    for (int k = 0; k < shape_size(a.shape); k++)
        if (a.el[k] != b.el[k]) return 0;
    return 1;
}

static TVal lower_def_call(Lowering *l, Expr *e, Def *def)
{
    TVal *args = arena_alloc(l->a, (size_t)(e->nargs + 1) * sizeof *args);
    for (int i = 0; i < e->nargs; i++)
        if (!(args[i] = lower_expr(l, e->args[i])).el) return tv_fail();
    for (DefMemo *m = l->defs; m; m = m->next) {
        if (m->def != def) continue;
        int same = 1;
        for (int i = 0; i < e->nargs && same; i++) same = same_tval(m->args[i], args[i]);
        if (same) return m->result;
    }
    Frame frame = {def, args}, *saved = l->frame;
    l->frame = &frame;
    int saved_const = l->hypers_const;
    TVal out = lower_expr(l, def->body);
    l->hypers_const = saved_const;
    l->frame = saved;
    DefMemo *m = arena_alloc(l->a, sizeof *m);
    *m = (DefMemo){def, args, out, l->defs};
    l->defs = m;
    return out;
}

static TVal lower_call(Lowering *l, Expr *e)
{
    Def *def = load_find_def(l->prog, e->name);
    if (def) return lower_def_call(l, e, def);
    return lower_builtin(l, e, sema_builtin_id(e->name));
}

/* ---- dispatch ---- */

TVal lower_expr(Lowering *l, Expr *e)
{
    TVal a, b, args[3];
    if (!e || dag_pool_failed(l->pool)) return tv_fail();
    switch (e->kind) {
    case EX_NUM: {
        TVal v = tv_new(l, shape_scalar());
        v.el[0] = K(l, e->num);
        return v;
    }
    case EX_NAME: return lower_name(l, e);
    case EX_PRIME: return lower_prime(l, e);
    case EX_UNARY:
        args[0] = lower_expr(l, e->args[0]);
        return elementwise(l, e->op == AOP_NOT ? OP_NOT : OP_NEG, 1, args);
    case EX_BINARY:
        a = lower_expr(l, e->args[0]);
        b = lower_expr(l, e->args[1]);
        if (e->op == AOP_MATMUL) return matmul(l, a, b);
        args[0] = a, args[1] = b;
        return elementwise(l, binary_op(e->op), 2, args);
    case EX_CALL: return lower_call(l, e);
    case EX_INDEX: return lower_index(l, e);
    case EX_MATRIX: return lower_matrix(l, e);
    case EX_COND:
        for (int i = 0; i < 3; i++) args[i] = lower_expr(l, e->args[i]);
        return elementwise(l, OP_SELECT, 3, args);
    }
    return tv_fail();
}

int lower_initial_values(Lowering *l, const Sym *sym, double *out)
{
    int n = shape_size(sym->shape);
    if (!sym->decl->value) {   // a state without a value starts at 0
        for (int k = 0; k < n; k++) out[k] = 0;
        return sym->kind == SK_STATE ? 0 : -1;
    }
    int saved = l->hypers_const;
    l->hypers_const = 1;
    TVal v = lower_expr(l, sym->decl->value);
    l->hypers_const = saved;
    if (!v.el) return -1;
    for (int k = 0; k < n; k++) {
        const DagNode *c = v.el[v.shape.rank ? k : 0];
        if (c->op != OP_CONST) return -1;
        out[k] = c->value;
    }
    return 0;
}
