/* sema_type.c: static shapes of expressions.
 *
 * sema_type(e) returns the shape of e and stores it in e->shape.  Rules:
 *   - arithmetic, comparisons, and/or, ^ and elementwise calls work elementwise on
 *     equal shapes, and a scalar broadcasts against anything;
 *   - A @ B is the matrix product (matrix-matrix, matrix-vector, vector-matrix; a
 *     vector @ vector is their dot product);
 *   - [a, b; c, d] concatenates: a single row of scalars and vectors is one vector,
 *     otherwise vectors count as columns, elements of a row sit side by side and rows
 *     stack; a result with one column is a vector;
 *   - x[i] and M[i, j] take constant indices counted from 0, M[i] is row i;
 *   - a def call is typed by typing the def's body with its parameters bound to the
 *     argument shapes (defs are shape-polymorphic and inlined), memoized per shapes.
 * Names resolve first to the parameters of the def being typed, then to the
 * optimizer's declarations.  Any error yields SHAPE_ERROR, which later rules pass on
 * without a second message. */
#include <string.h>

#include "sema_impl.h"

const BuiltinInfo sema_builtins[B_COUNT] = {
#define BUILTIN(id, name, lo, hi, rule, doc) [id] = {name, lo, hi, RULE_##rule, doc},
#include "builtins.def"
#undef BUILTIN
};

int sema_builtin_id(const char *name)
{
    for (int i = 0; i < B_COUNT; i++)
        if (strcmp(sema_builtins[i].name, name) == 0) return i;
    return -1;
}

static const char *sh(Sema *s, Shape x)
{
    return shape_str(s->a, x);
}

static int is_err(Shape x)
{
    return x.rank < 0;
}

/* Refuse shapes past the limits before anything is sized from them. */
static Shape checked(Sema *s, SrcLoc loc, Shape x)
{
    if (is_err(x)) return x;
    for (int i = 0; i < x.rank; i++)
        if (x.dim[i] < 1 || x.dim[i] > SEMA_MAX_DIM) goto too_big;
    if ((long long)x.dim[0] * (x.rank == 2 ? x.dim[1] : 1) > SEMA_MAX_ELEMS) goto too_big;
    return x;
too_big:
    diag_error(s->d, loc, "value too large: %s (at most %d per dimension, %d elements)",
               sh(s, x), SEMA_MAX_DIM, SEMA_MAX_ELEMS);
    return SHAPE_ERROR;
}

static Shape broadcast(Sema *s, Expr *e, const char *op, Shape a, Shape b)
{
    if (is_err(a) || is_err(b)) return SHAPE_ERROR;
    if (a.rank == 0) return b;
    if (b.rank == 0 || shape_equal(a, b)) return a;
    diag_error(s->d, e->loc, "shapes do not agree for '%s': %s and %s", op, sh(s, a), sh(s, b));
    return SHAPE_ERROR;
}

static Shape type_matmul(Sema *s, Expr *e, Shape a, Shape b)
{
    if (is_err(a) || is_err(b)) return SHAPE_ERROR;
    if (a.rank == 0 || b.rank == 0) {
        diag_error(s->d, e->loc, "'@' needs vectors or matrices, got %s @ %s", sh(s, a), sh(s, b));
        diag_hint(s->d, "use '*' to scale by a scalar");
        return SHAPE_ERROR;
    }
    int inner_a = a.rank == 2 ? a.dim[1] : a.dim[0];
    int inner_b = b.dim[0];
    if (inner_a != inner_b) {
        diag_error(s->d, e->loc, "'@' needs matching inner dimensions: %s @ %s", sh(s, a), sh(s, b));
        return SHAPE_ERROR;
    }
    if (a.rank == 2 && b.rank == 2) return shape_matrix(a.dim[0], b.dim[1]);
    if (a.rank == 2) return shape_vector(a.dim[0]);
    if (b.rank == 2) return shape_vector(b.dim[1]);
    return shape_scalar();
}

/* Rows and columns of an element of a matrix literal: vectors are columns. */
static void as_block(Shape x, int *rows, int *cols)
{
    *rows = x.rank == 0 ? 1 : x.dim[0];
    *cols = x.rank == 2 ? x.dim[1] : 1;
}

static Shape type_matrix(Sema *s, Expr *e)
{
    Shape *el = arena_alloc(s->a, (size_t)(e->nargs + 1) * sizeof *el);
    int bad = 0, all_flat = 1;
    for (int i = 0; i < e->nargs; i++) {
        el[i] = sema_type(s, e->args[i]);
        bad |= is_err(el[i]);
        all_flat &= el[i].rank < 2;
    }
    if (bad) return SHAPE_ERROR;
    if (e->nrows == 1 && all_flat) {   // [a, b, c]: one vector
        long long n = 0;
        for (int i = 0; i < e->nargs; i++) n += shape_size(el[i]);
        return checked(s, e->loc, shape_vector(n > SEMA_MAX_ELEMS ? SEMA_MAX_ELEMS + 1 : (int)n));
    }
    long long total_rows = 0;
    int width = -1;
    for (int r = 0, k = 0; r < e->nrows; k += e->row_len[r], r++) {
        int height = -1, cols = 0;
        for (int i = k; i < k + e->row_len[r]; i++) {
            int br, bc;
            as_block(el[i], &br, &bc);
            if (height >= 0 && br != height) {
                diag_error(s->d, e->args[i]->loc,
                           "elements side by side need the same number of rows: %d here (a %s), "
                           "%d before", br, sh(s, el[i]), height);
                return SHAPE_ERROR;
            }
            height = br;
            cols += bc;
        }
        if (width >= 0 && cols != width) {
            diag_error(s->d, e->args[k]->loc,
                       "rows of a matrix need the same number of columns: %d here, %d above",
                       cols, width);
            return SHAPE_ERROR;
        }
        width = cols;
        total_rows += height;
    }
    if (total_rows > SEMA_MAX_DIM) total_rows = SEMA_MAX_DIM + 1;
    Shape out = width == 1 ? shape_vector((int)total_rows) : shape_matrix((int)total_rows, width);
    return checked(s, e->loc, out);
}

static Shape type_index(Sema *s, Expr *e)
{
    Shape base = sema_type(s, e->args[0]);
    int nidx = e->nargs - 1;
    if (is_err(base)) return SHAPE_ERROR;
    if (base.rank == 0 || nidx > base.rank) {
        diag_error(s->d, e->loc, "cannot index a %s with %d ind%s", sh(s, base), nidx,
                   nidx == 1 ? "ex" : "ices");
        return SHAPE_ERROR;
    }
    for (int i = 0; i < nidx; i++) {
        int k;
        const char *what = arena_printf(s->a, "an index into %s", sh(s, base));
        if (sema_const_int(s, e->args[i + 1], what, 0, base.dim[i] - 1, &k) != 0)
            return SHAPE_ERROR;
    }
    if (base.rank == 2 && nidx == 1) return shape_vector(base.dim[1]);
    return shape_scalar();
}

static Shape type_ctor(Sema *s, Expr *e, int id)
{
    int dims[2] = {1, 1};
    for (int i = 0; i < e->nargs; i++)
        if (sema_const_int(s, e->args[i], "a size", 1, SEMA_MAX_DIM, &dims[i]) != 0)
            return SHAPE_ERROR;
    if (id == B_EYE) return checked(s, e->loc, shape_matrix(dims[0], dims[0]));
    return checked(s, e->loc, e->nargs == 1 ? shape_vector(dims[0]) : shape_matrix(dims[0], dims[1]));
}

/* canonical(q, p): the structure matrix over x with I in the (q, p) block and -I in
 * the (p, q) block; its arguments must be dynamic states of one shape. */
static Shape type_canonical(Sema *s, Expr *e)
{
    Sym *pair[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        Expr *a = e->args[i];
        pair[i] = a->kind == EX_NAME && s->info && !s->frame ? sema_lookup(s->info, a->name) : NULL;
        if (!pair[i] || pair[i]->kind != SK_STATE || !pair[i]->dynamic) {
            diag_error(s->d, a->loc, "canonical(q, p) takes two states driven by the hamiltonian");
            return SHAPE_ERROR;
        }
        pair[i]->used = 1;
        a->shape = pair[i]->shape;
    }
    if (pair[0] == pair[1] || !shape_equal(pair[0]->shape, pair[1]->shape)) {
        diag_error(s->d, e->loc, "canonical(q, p) pairs two different states of one shape");
        return SHAPE_ERROR;
    }
    if (!s->decl || s->decl->kind != DECL_STRUCTURE) {
        diag_error(s->d, e->name_loc, "canonical(q, p) can only be used in 'structure'");
        return SHAPE_ERROR;
    }
    return shape_matrix(s->info->ndyn, s->info->ndyn);
}

static Shape type_special(Sema *s, Expr *e, int id, Shape *args)
{
    Shape a = args[0];
    switch (id) {
    case B_DIAG:
        if (a.rank == 1) return checked(s, e->loc, shape_matrix(a.dim[0], a.dim[0]));
        if (a.rank == 2 && a.dim[0] == a.dim[1]) return shape_vector(a.dim[0]);
        diag_error(s->d, e->loc, "diag takes a vector or a square matrix, not a %s", sh(s, a));
        return SHAPE_ERROR;
    case B_BLOCKDIAG: {
        long long n = 0;
        for (int i = 0; i < e->nargs; i++) {
            if (args[i].rank == 1 || (args[i].rank == 2 && args[i].dim[0] != args[i].dim[1])) {
                diag_error(s->d, e->args[i]->loc,
                           "blockdiag takes square matrices or scalars, not a %s", sh(s, args[i]));
                if (args[i].rank == 1) diag_hint(s->d, "use diag(v) to make a vector a block");
                return SHAPE_ERROR;
            }
            n += args[i].rank == 0 ? 1 : args[i].dim[0];
        }
        if (n > SEMA_MAX_DIM) n = SEMA_MAX_DIM + 1;
        return checked(s, e->loc, shape_matrix((int)n, (int)n));
    }
    case B_TRANSPOSE:
        if (a.rank == 2) return shape_matrix(a.dim[1], a.dim[0]);
        if (a.rank == 0) return a;
        diag_error(s->d, e->loc, "transpose takes a matrix; vectors have no orientation here");
        diag_hint(s->d, "use dot(a, b) or outer(a, b)");
        return SHAPE_ERROR;
    case B_OUTER:
        if (a.rank == 1 && args[1].rank == 1)
            return checked(s, e->loc, shape_matrix(a.dim[0], args[1].dim[0]));
        diag_error(s->d, e->loc, "outer takes two vectors, not %s and %s", sh(s, a), sh(s, args[1]));
        return SHAPE_ERROR;
    case B_NORMAL:
    case B_UNIFORM:
        diag_error(s->d, e->name_loc, "'%s' is a param initializer", e->name);
        diag_hint(s->d, "write it after '~', as in 'param W[4, 2] ~ %s(0, 0.1)'", e->name);
        return SHAPE_ERROR;
    }
    UNREACHABLE("builtin without a shape rule");
}

static Shape type_builtin(Sema *s, Expr *e, int id)
{
    const BuiltinInfo *b = &sema_builtins[id];
    if (e->nargs < b->min_args || e->nargs > b->max_args) {
        if (b->min_args == b->max_args)
            diag_error(s->d, e->loc, "'%s' takes %d argument%s, got %d", b->name, b->min_args,
                       b->min_args == 1 ? "" : "s", e->nargs);
        else
            diag_error(s->d, e->loc, "'%s' takes %d to %d arguments, got %d", b->name,
                       b->min_args, b->max_args, e->nargs);
        for (int i = 0; i < e->nargs; i++) sema_type(s, e->args[i]);   // errors inside, too
        return SHAPE_ERROR;
    }
    if (b->rule == RULE_CTOR) return type_ctor(s, e, id);
    if (id == B_CANONICAL) return type_canonical(s, e);
    Shape *args = arena_alloc(s->a, (size_t)e->nargs * sizeof *args);
    for (int i = 0; i < e->nargs; i++)
        if (is_err(args[i] = sema_type(s, e->args[i]))) return SHAPE_ERROR;
    switch (b->rule) {
    case RULE_ELEM1: return args[0];
    case RULE_ELEM2: return broadcast(s, e, b->name, args[0], args[1]);
    case RULE_REDUCE: return shape_scalar();
    case RULE_DOT:
        if (shape_equal(args[0], args[1])) return shape_scalar();
        diag_error(s->d, e->loc, "dot needs two values of one shape, got %s and %s",
                   sh(s, args[0]), sh(s, args[1]));
        return SHAPE_ERROR;
    default: return type_special(s, e, id, args);
    }
}

static Shape type_def_call(Sema *s, Expr *e, Def *def)
{
    def->used = 1;
    if (e->nargs != def->nparams) {
        diag_error(s->d, e->loc, "'%s' takes %d argument%s, got %d", def->name, def->nparams,
                   def->nparams == 1 ? "" : "s", e->nargs);
        diag_note(s->d, def->name_loc, "'%s' is defined here", def->name);
        for (int i = 0; i < e->nargs; i++) sema_type(s, e->args[i]);   // errors inside, too
        return SHAPE_ERROR;
    }
    Shape *args = arena_alloc(s->a, (size_t)(e->nargs + 1) * sizeof *args);
    for (int i = 0; i < e->nargs; i++)
        if (is_err(args[i] = sema_type(s, e->args[i]))) return SHAPE_ERROR;
    if (def->broken) return SHAPE_ERROR;   // reported where the def is
    if (def->visiting == 1) {
        diag_error(s->d, e->name_loc, "'%s' calls itself; defs are inlined and cannot recurse",
                   def->name);
        return SHAPE_ERROR;
    }
    for (DefInst *in = s->insts; in; in = in->next) {
        if (in->def != def) continue;
        int same = 1;
        for (int i = 0; i < e->nargs && same; i++) same = shape_equal(in->args[i], args[i]);
        if (same) return in->result;
    }
    int depth = s->frame ? s->frame->depth + 1 : 1;
    if (depth > SEMA_MAX_DEF_DEPTH) {
        diag_error(s->d, e->loc, "def calls nested more than %d deep", SEMA_MAX_DEF_DEPTH);
        return SHAPE_ERROR;
    }
    DefFrame frame = {def, args, e->args, s->frame, e->loc, depth};
    int errors = s->d->nerrors, visiting = def->visiting;
    def->visiting = 1;
    s->frame = &frame;
    Shape out = def->body ? sema_type(s, def->body) : SHAPE_ERROR;
    s->frame = frame.up;
    def->visiting = visiting;
    if (s->d->nerrors > errors) diag_note(s->d, e->loc, "in this call of '%s'", def->name);
    DefInst *in = arena_alloc(s->a, sizeof *in);
    *in = (DefInst){def, args, out, s->insts};
    s->insts = in;
    return out;
}

void sema_unknown_function(Sema *s, Expr *e)
{
    Sym *local = s->info && !s->frame ? sema_lookup(s->info, e->name) : NULL;
    if (local) {
        local->used = 1;   // misused, but not unused: one message is enough
        diag_error(s->d, e->name_loc, "'%s' is not a function", e->name);
        return;
    }
    const char **names = arena_alloc(s->a, (size_t)(B_COUNT + s->prog->ndefs) * sizeof *names);
    int n = 0;
    for (int i = 0; i < B_COUNT; i++) names[n++] = sema_builtins[i].name;
    for (int i = 0; i < s->prog->ndefs; i++) names[n++] = s->prog->defs[i]->name;
    diag_error(s->d, e->name_loc, "unknown function '%s'", e->name);
    const char *near = closest_name(e->name, names, n);
    if (near) diag_hint(s->d, "did you mean '%s'?", near);
}

static Shape type_call(Sema *s, Expr *e)
{
    Def *def = load_find_def(s->prog, e->name);
    if (def) return type_def_call(s, e, def);
    int id = sema_builtin_id(e->name);
    if (id >= 0) return type_builtin(s, e, id);
    sema_unknown_function(s, e);
    for (int i = 0; i < e->nargs; i++) sema_type(s, e->args[i]);   // errors inside, too
    return SHAPE_ERROR;
}

static void unknown_name(Sema *s, Expr *e)
{
    int n = 0;
    const char **names;
    if (s->frame) {
        names = (const char **)s->frame->def->params;
        n = s->frame->def->nparams;
    } else {
        names = arena_alloc(s->a, (size_t)(s->info->nsyms + 1) * sizeof *names);
        for (int i = 0; i < s->info->nsyms; i++) names[n++] = s->info->syms[i]->name;
    }
    if (load_find_def(s->prog, e->name) || sema_builtin_id(e->name) >= 0) {
        diag_error(s->d, e->loc, "'%s' is a function; call it as %s(...)", e->name, e->name);
        return;
    }
    if (s->frame)
        diag_error(s->d, e->loc, "unknown name '%s' in def '%s' (a def sees only its parameters)",
                   e->name, s->frame->def->name);
    else
        diag_error(s->d, e->loc, "unknown name '%s'", e->name);
    const char *near = closest_name(e->name, names, n);
    if (near) diag_hint(s->d, "did you mean '%s'?", near);
}

static Shape type_name(Sema *s, Expr *e)
{
    if (s->frame) {
        for (int i = 0; i < s->frame->def->nparams; i++)
            if (s->frame->def->params[i] == e->name) return s->frame->shapes[i];
        unknown_name(s, e);
        return SHAPE_ERROR;
    }
    Sym *sym = s->info ? sema_lookup(s->info, e->name) : NULL;
    if (!sym) {
        unknown_name(s, e);
        return SHAPE_ERROR;
    }
    return sema_type_sym(s, sym, e->loc);
}

static Shape type_prime(Sema *s, Expr *e)
{
    Sym *sym = s->info && !s->frame ? sema_lookup(s->info, e->name) : NULL;
    if (!sym) {
        if (s->frame)
            diag_error(s->d, e->loc, "'%s'' in def '%s': a def sees only its parameters; pass %s' in",
                       e->name, s->frame->def->name, e->name);
        else
            unknown_name(s, e);
        return SHAPE_ERROR;
    }
    sym->used = 1;
    if (sym->kind != SK_STATE) {
        diag_error(s->d, e->loc, "only states have a post-step value, and '%s' is not a state",
                   e->name);
        return SHAPE_ERROR;
    }
    sym->used = 1;
    if (!s->saw_prime) s->prime_loc = e->loc;
    s->saw_prime = 1;
    return sym->shape;
}

/* Past SEMA_MAX_DEPTH, an error (once) and SHAPE_ERROR, which the callers pass on. */
static Shape too_deep(Sema *s, Expr *e)
{
    if (!s->too_deep) {
        diag_error(s->d, e->loc, "expression nested more than %d levels deep once its defs "
                   "and lets are expanded", SEMA_MAX_DEPTH);
        diag_hint(s->d, "a def's body is expanded at each call: make the chain of defs shorter "
                  "or their bodies flatter");
    }
    s->too_deep = 1;
    return e->shape = SHAPE_ERROR;
}

Shape sema_type(Sema *s, Expr *e)
{
    if (!e) return SHAPE_ERROR;
    if (s->depth >= SEMA_MAX_DEPTH) return too_deep(s, e);
    s->depth++;
    Shape out = SHAPE_ERROR;
    switch (e->kind) {
    case EX_NUM: out = shape_scalar(); break;
    case EX_NAME: out = type_name(s, e); break;
    case EX_PRIME: out = type_prime(s, e); break;
    case EX_UNARY: out = sema_type(s, e->args[0]); break;
    case EX_BINARY: {
        Shape a = sema_type(s, e->args[0]), b = sema_type(s, e->args[1]);
        out = e->op == AOP_MATMUL ? type_matmul(s, e, a, b)
                                 : broadcast(s, e, ast_op_text(e->op), a, b);
        break;
    }
    case EX_CALL: out = type_call(s, e); break;
    case EX_INDEX: out = type_index(s, e); break;
    case EX_MATRIX: out = type_matrix(s, e); break;
    case EX_COND: {
        Shape c = sema_type(s, e->args[0]);
        Shape a = sema_type(s, e->args[1]), b = sema_type(s, e->args[2]);
        out = broadcast(s, e, "if", a, b);
        if (!is_err(out) && !is_err(c)) out = broadcast(s, e->args[0], "if", c, out);
        break;
    }
    }
    s->depth--;
    e->shape = out;
    return out;
}
