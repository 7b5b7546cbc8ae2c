/* sema.c: the semantic pass over optimizers: declarations, then structure.
 *
 * For each optimizer, in order:
 *   1. declare every name (a Sym each) and find the single declarations (hamiltonian,
 *      structure, dissipation, port, integrator, update);
 *   2. evaluate hypers in order, and the shapes of states and params;
 *   3. attach each `next` to its state; the states without one are the dynamic state
 *      x driven by the hamiltonian (their scalars, in declaration order);
 *   4. type every expression (sema_type.c), lets on demand with a cycle check;
 *   5. check the port-Hamiltonian structure and the integrator;
 *   6. warn about names never used.
 * Defs are checked where they are called, for the argument shapes of each call. */
#include <math.h>
#include <string.h>

#include "sema_impl.h"

static const char *const input_names[INPUT_KIND_COUNT] = {
    [INPUT_G] = "g", [INPUT_T] = "t", [INPUT_THETA] = "theta"};

static const char *const integrator_names[INT_KIND_COUNT] = {
    [INT_EULER] = "euler", [INT_SYMPLECTIC_EULER] = "symplectic_euler",
    [INT_LEAPFROG] = "leapfrog", [INT_RK4] = "rk4", [INT_CONFORMAL] = "conformal_symplectic"};

static const char *const kind_names[SK_KIND_COUNT] = {
    [SK_HYPER] = "hyper", [SK_INPUT] = "input", [SK_STATE] = "state", [SK_PARAM] = "param",
    [SK_LET] = "let", [SK_ENERGY] = "hamiltonian", [SK_STRUCTURE] = "structure",
    [SK_DISSIPATION] = "dissipation", [SK_PORT] = "port"};

const char *sema_integrator_name(IntegratorKind k)
{
    return k >= 0 && k < INT_KIND_COUNT ? integrator_names[k] : "?";
}

InputKind sema_input_kind(const char *name)
{
    for (int i = 0; i < INPUT_KIND_COUNT; i++)
        if (strcmp(input_names[i], name) == 0) return (InputKind)i;
    return INPUT_KIND_COUNT;
}

/* An OptInfo with a hash index of its names.  sema_optimizer, the only maker of
 * OptInfos, allocates this, so an OptInfo * points to the first member of one and
 * sema_lookup may convert it back.  (A linear search made `hamc check` quadratic in
 * the number of declarations: 100000 one-line lets, 1 MB, took 80 s.) */
typedef struct IndexedInfo {
    OptInfo info;       // first member
    unsigned mask;      // table size - 1: a power of two, at least twice the names
    int *table;         // 1 + position in info.syms, or 0 for an empty slot
} IndexedInfo;

static unsigned name_hash(const char *name)
{
    unsigned h = 2166136261u;   // FNV-1a
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = (h ^ *c) * 16777619u;
    return h;
}

/* index_slot: the slot of name in the table, or the empty slot where it would go. */
static int *index_slot(const IndexedInfo *x, const char *name)
{
    unsigned i = name_hash(name) & x->mask;
    while (x->table[i] && strcmp(x->info.syms[x->table[i] - 1]->name, name) != 0)
        i = (i + 1) & x->mask;
    return &x->table[i];
}

Sym *sema_lookup(const OptInfo *info, const char *name)
{
    const IndexedInfo *x = (const IndexedInfo *)info;
    int k = *index_slot(x, name);
    return k ? info->syms[k - 1] : NULL;
}

/* ---- 1. declarations ---- */

static SymKind sym_kind_of(DeclKind k)
{
    switch (k) {
    case DECL_HYPER: return SK_HYPER;
    case DECL_INPUT: return SK_INPUT;
    case DECL_STATE: return SK_STATE;
    case DECL_PARAM: return SK_PARAM;
    case DECL_LET: return SK_LET;
    case DECL_HAMILTONIAN: return SK_ENERGY;
    case DECL_STRUCTURE: return SK_STRUCTURE;
    case DECL_DISSIPATION: return SK_DISSIPATION;
    case DECL_PORT: return SK_PORT;
    default: return SK_KIND_COUNT;
    }
}

/* The declarations that may appear once; a second one is an error. */
static Decl **single_slot(OptInfo *info, DeclKind k)
{
    switch (k) {
    case DECL_HAMILTONIAN: return &info->hamiltonian;
    case DECL_STRUCTURE: return &info->structure;
    case DECL_DISSIPATION: return &info->dissipation;
    case DECL_PORT: return &info->port;
    case DECL_INTEGRATOR: return &info->integrator;
    case DECL_UPDATE: return &info->update;
    default: return NULL;
    }
}

static void declare(Sema *s, Decl *d)
{
    OptInfo *info = s->info;
    Decl **slot = single_slot(info, d->kind);
    if (slot) {
        if (*slot) {
            diag_error(s->d, d->loc, "a second '%s' in optimizer '%s'", ast_decl_keyword(d->kind),
                       info->opt->name);
            diag_note(s->d, (*slot)->loc, "the first is here");
            return;
        }
        *slot = d;
    }
    SymKind kind = sym_kind_of(d->kind);
    if (kind == SK_KIND_COUNT) return;
    Sym *old = sema_lookup(info, d->name);
    if (old) {
        diag_error(s->d, d->name_loc, "'%s' is already declared (as a %s)", d->name,
                   kind_names[old->kind]);
        diag_note(s->d, old->decl->name_loc, "the first declaration is here");
        return;
    }
    if (kind == SK_INPUT && sema_input_kind(d->name) == INPUT_KIND_COUNT) {
        diag_error(s->d, d->name_loc, "unknown input '%s': the runtime gives g (the gradient), "
                   "t (the step, from 1) and theta (the parameter)", d->name);
        const char *near = closest_name(d->name, input_names, INPUT_KIND_COUNT);
        if (near) diag_hint(s->d, "did you mean '%s'?", near);
    }
    Sym *sym = arena_alloc(s->a, sizeof *sym);
    sym->kind = kind;
    sym->name = d->name;
    sym->decl = d;
    sym->shape = shape_scalar();
    sym->index = info->count[kind]++;
    d->sym = sym;
    info->syms[info->nsyms++] = sym;
    *index_slot((IndexedInfo *)info, sym->name) = info->nsyms;
}

/* ---- 2. hypers and declared shapes ---- */

static void eval_hyper(Sema *s, Sym *sym)
{
    double v = 0;
    if (sema_const(s, sym->decl->value, &v, arena_printf(s->a, "hyper '%s'", sym->name)) == 0) {
        if (!isfinite(v))
            diag_error(s->d, sym->decl->value->loc, "hyper '%s' is not finite (%g)", sym->name, v);
        sym->value = v;
    }
    Program *p = s->prog;
    for (int i = 0; i < p->noverrides; i++) {
        if (strcmp(p->override_names[i], sym->name) != 0) continue;
        sym->value = p->override_values[i];
        p->override_used[i] = 1;
    }
    sym->typed = 1;   // even on error: later uses should not report it again
}

static void declared_shape(Sema *s, Sym *sym)
{
    Decl *d = sym->decl;
    if (d->ndims > 2) {
        diag_error(s->d, d->dims[2]->loc, "'%s' has %d dimensions; at most 2 (a matrix)",
                   d->name, d->ndims);
        return;
    }
    int dims[2] = {1, 1};
    for (int i = 0; i < d->ndims; i++)
        if (sema_const_int(s, d->dims[i], "a dimension", 1, SEMA_MAX_DIM, &dims[i]) != 0)
            return;
    if ((long long)dims[0] * dims[1] > SEMA_MAX_ELEMS) {
        diag_error(s->d, d->name_loc, "'%s' is too large: %d x %d scalars (at most %d)", d->name,
                   dims[0], dims[1], SEMA_MAX_ELEMS);
        return;
    }
    sym->shape = d->ndims == 0 ? shape_scalar()
                 : d->ndims == 1 ? shape_vector(dims[0]) : shape_matrix(dims[0], dims[1]);
    d->shape = sym->shape;
}

/* ---- 3. next values and the dynamic state ---- */

static void attach_nexts(Sema *s)
{
    OptInfo *info = s->info;
    for (int i = 0; i < info->opt->ndecls; i++) {
        Decl *d = info->opt->decls[i];
        if (d->kind != DECL_NEXT) continue;
        Sym *sym = sema_lookup(info, d->name);
        if (!sym) {
            diag_error(s->d, d->name_loc, "'next %s' names no state", d->name);
            continue;
        }
        if (sym->kind != SK_STATE) {
            diag_error(s->d, d->name_loc, "'%s' is a %s; only states have a next value", d->name,
                       kind_names[sym->kind]);
            continue;
        }
        if (sym->next) {
            diag_error(s->d, d->name_loc, "state '%s' is given a second next value", d->name);
            diag_note(s->d, sym->next->loc, "the first is here");
            continue;
        }
        sym->next = d;
    }
    long long ndyn = 0;
    for (int i = 0; i < info->count[SK_STATE]; i++) {
        Sym *st = info->by_kind[SK_STATE][i];
        if (st->next) continue;
        if (!info->hamiltonian) {
            diag_error(s->d, st->decl->name_loc, "state '%s' has no next value", st->name);
            diag_hint(s->d, "give it 'next %s = ...', or declare a 'hamiltonian' to drive it",
                      st->name);
            continue;
        }
        st->dynamic = 1;
        st->dyn_offset = (int)ndyn;
        ndyn += shape_size(st->shape);
    }
    info->ndyn = (int)(ndyn > SEMA_MAX_DIM ? SEMA_MAX_DIM : ndyn);
    if (info->hamiltonian && ndyn == 0)
        diag_error(s->d, info->hamiltonian->loc,
                   "the hamiltonian drives no state: every state has a 'next'");
    if (ndyn > SEMA_MAX_DIM)
        diag_error(s->d, info->hamiltonian->loc, "the dynamic state has %lld scalars (at most %d)",
                   ndyn, SEMA_MAX_DIM);
}

/* ---- 4. typing values ---- */

/* Type a declaration's value with the prime rule: only `update` may read p'. */
static Shape type_value(Sema *s, Decl *d, Expr *e)
{
    Decl *saved_decl = s->decl;
    int saved_prime = s->saw_prime;
    SrcLoc saved_loc = s->prime_loc;
    s->decl = d;
    s->saw_prime = 0;
    Shape out = sema_type(s, e);
    int primed = s->saw_prime;
    SrcLoc where = s->prime_loc;
    s->decl = saved_decl;
    s->saw_prime = saved_prime || primed;
    s->prime_loc = saved_prime ? saved_loc : where;
    if (primed && d->kind != DECL_UPDATE && d->kind != DECL_LET)
        diag_error(s->d, where, "a post-step value can only be read in 'update', not in '%s'",
                   ast_decl_keyword(d->kind));
    if (d->kind == DECL_LET && d->sym) d->sym->uses_prime = primed;
    return out;
}

Shape sema_type_sym(Sema *s, Sym *sym, SrcLoc use)
{
    sym->used = 1;
    if (sym->kind == SK_HYPER && !sym->typed) {
        diag_error(s->d, use, "hyper '%s' is used before its declaration", sym->name);
        return SHAPE_ERROR;
    }
    if (sym->kind < SK_LET) return sym->shape;
    if (sym->typing) {
        diag_error(s->d, use, "'%s' is defined in terms of itself", sym->name);
        diag_note(s->d, sym->decl->loc, "'%s' is defined here", sym->name);
        return SHAPE_ERROR;
    }
    if (!sym->typed) {
        sym->typing = 1;
        sym->shape = type_value(s, sym->decl, sym->decl->value);
        sym->typing = 0;
        sym->typed = 1;
    }
    if (sym->uses_prime) {
        if (!s->saw_prime) s->prime_loc = use;
        s->saw_prime = 1;
    }
    return sym->shape;
}

static int fits(Shape value, Shape target)
{
    return value.rank == 0 || shape_equal(value, target);
}

static void check_initializer(Sema *s, Sym *sym)
{
    Decl *d = sym->decl;
    Expr *e = d->dist ? d->dist : d->value;
    if (!e) {
        if (sym->kind == SK_PARAM)
            diag_error(s->d, d->name_loc, "param '%s' needs an initial value", d->name);
        if (sym->kind == SK_PARAM)
            diag_hint(s->d, "write '%s = 0' or '%s ~ normal(0, 0.1)'", d->name, d->name);
        return;
    }
    if (d->dist) {
        int id = sema_builtin_id(e->name);
        if (id != B_NORMAL && id != B_UNIFORM) {
            diag_error(s->d, e->name_loc, "unknown initializer '%s': use normal(mean, std) or "
                       "uniform(lo, hi)", e->name);
            return;
        }
        if (e->nargs != 2) {
            diag_error(s->d, e->loc, "'%s' takes 2 arguments, got %d", e->name, e->nargs);
            return;
        }
        double a, b;
        if (sema_const(s, e->args[0], &a, "an initializer argument") != 0 ||
            sema_const(s, e->args[1], &b, "an initializer argument") != 0)
            return;
        if (id == B_NORMAL && !(b >= 0))
            diag_error(s->d, e->args[1]->loc, "normal(mean, std) needs std >= 0, got %g", b);
        if (id == B_UNIFORM && !(a <= b))
            diag_error(s->d, e->loc, "uniform(lo, hi) needs lo <= hi, got %g > %g", a, b);
        return;
    }
    const char *what = sym->kind == SK_STATE ? "the initial value of a state"
                                             : "the initial value of a param";
    Shape sh = type_value(s, d, e);
    if (sh.rank < 0) return;
    if (!sema_is_const(s, e)) {
        diag_error(s->d, e->loc, "%s must be a constant made of numbers and hypers", what);
        return;
    }
    if (!fits(sh, sym->shape))
        diag_error(s->d, e->loc, "'%s' is a %s but its initial value is a %s", d->name,
                   shape_str(s->a, sym->shape), shape_str(s->a, sh));
}

static void check_next(Sema *s, Decl *d)
{
    Shape sh = type_value(s, d, d->value);
    Sym *st = d->sym ? d->sym : sema_lookup(s->info, d->name);
    if (sh.rank < 0 || !st || st->kind != SK_STATE) return;
    if (!fits(sh, st->shape))
        diag_error(s->d, d->value->loc, "state '%s' is a %s but its next value is a %s", d->name,
                   shape_str(s->a, st->shape), shape_str(s->a, sh));
}

/* ---- 5. structure ---- */

/* The shape of an N x N matrix over x; a scalar serves when N is 1. */
static int is_state_matrix(Shape sh, int n)
{
    return (sh.rank == 2 && sh.dim[0] == n && sh.dim[1] == n) || (n == 1 && sh.rank == 0);
}

static void check_matrix_decl(Sema *s, Decl *d, const char *role)
{
    if (!d) return;
    Shape sh = d->sym ? sema_type_sym(s, d->sym, d->name_loc) : SHAPE_ERROR;
    if (sh.rank < 0) return;
    int n = s->info->ndyn;
    if (!is_state_matrix(sh, n)) {
        diag_error(s->d, d->value->loc, "%s %s must be a %d x %d matrix over the dynamic state, "
                   "not a %s", role, d->name, n, n, shape_str(s->a, sh));
        return;
    }
    Expr *culprit = NULL;
    if (d->kind == DECL_DISSIPATION && !sema_is_psd(s, d->value, &culprit)) {
        diag_error(s->d, culprit ? culprit->loc : d->value->loc,
                   "dissipation %s must be positive semidefinite by construction", d->name);
        diag_hint(s->d, "build it from diag(softplus(r)), L @ transpose(L), a nonnegative "
                  "scalar, zeros, and blockdiag or sums of these");
        s->info->passive = 0;
    }
    if (d->kind == DECL_STRUCTURE && !sema_is_skew(s, d->value, &culprit)) {
        diag_error(s->d, culprit ? culprit->loc : d->value->loc,
                   "structure %s must be skew-symmetric by construction", d->name);
        diag_hint(s->d, "write canonical(q, p), A - transpose(A), or a literal with a zero "
                  "diagonal and M[j, i] = -M[i, j], as [0, w; -w, 0]");
        s->info->passive = 0;
    }
    if (s->proof_steps > SEMA_MAX_PROOF_STEPS)
        diag_note(s->d, d->value->loc, "%s %s is too large to analyse: through its lets and "
                  "defs it takes more than %ld steps or %d levels", role, d->name,
                  SEMA_MAX_PROOF_STEPS, SEMA_MAX_DEPTH);
}

static Sym *state_named(OptInfo *info, const char *name)
{
    Sym *sym = sema_lookup(info, name);
    return sym && sym->kind == SK_STATE && sym->dynamic ? sym : NULL;
}

static void find_canonical_pair(Sema *s)
{
    OptInfo *info = s->info;
    Decl *J = info->structure;
    if (J && J->value && J->value->kind == EX_CALL && J->value->nargs == 2 &&
        strcmp(J->value->name, "canonical") == 0 && !load_find_def(s->prog, "canonical")) {
        // A pair only when both are dynamic states of one shape (type_canonical reports
        // the rest): the integrator checks read both halves.
        Expr *qe = J->value->args[0], *pe = J->value->args[1];
        Sym *q = qe->kind == EX_NAME ? state_named(info, qe->name) : NULL;
        Sym *p = pe->kind == EX_NAME ? state_named(info, pe->name) : NULL;
        if (q && p && q != p && shape_equal(q->shape, p->shape)) info->canon_q = q, info->canon_p = p;
    } else if (!J) {   // the default: canonical for states named q and p, otherwise zero
        info->j_default = 1;
        Sym *q = state_named(info, "q"), *p = state_named(info, "p");
        if (q && p && shape_equal(q->shape, p->shape)) info->canon_q = q, info->canon_p = p;
    }
}

static void check_port(Sema *s)
{
    OptInfo *info = s->info;
    Decl *port = info->port;
    if (!port) return;
    Expr *u = port->port_input;
    Shape ush;
    if (u) {
        ush = type_value(s, port, u);
    } else if (info->count[SK_INPUT] > 0) {
        Sym *first = info->by_kind[SK_INPUT][0];
        first->used = 1;
        ush = first->shape;
        if (strcmp(first->name, "g") != 0)
            diag_warning(s->d, port->loc, "the port input defaults to the first input, '%s'",
                         first->name);
        if (strcmp(first->name, "g") != 0)
            diag_hint(s->d, "write 'port %s = ..., g' to drive the dynamics with the gradient",
                      port->name);
    } else {
        diag_error(s->d, port->loc, "port %s has no input: declare 'input g' or write "
                   "'port %s = ..., u'", port->name, port->name);
        return;
    }
    info->port_input = u;
    info->u_shape = ush;
    Shape gsh = port->sym ? sema_type_sym(s, port->sym, port->name_loc) : SHAPE_ERROR;
    if (gsh.rank < 0 || ush.rank < 0) return;
    if (ush.rank == 2) {
        diag_error(s->d, u ? u->loc : port->loc, "the port input must be a scalar or a vector, "
                   "not a %s", shape_str(s->a, ush));
        return;
    }
    int n = info->ndyn, m = shape_size(ush);
    int ok = (gsh.rank == 2 && gsh.dim[0] == n && gsh.dim[1] == m) ||
             (m == 1 && gsh.rank == 1 && gsh.dim[0] == n) || (m == 1 && n == 1 && gsh.rank == 0);
    if (!ok)
        diag_error(s->d, port->value->loc, "port %s must be a %d x %d matrix (dynamic state x "
                   "port input), not a %s", port->name, n, m, shape_str(s->a, gsh));
}

static void check_integrator(Sema *s)
{
    OptInfo *info = s->info;
    Decl *d = info->integrator;
    info->integrator_kind = INT_EULER;
    info->dt = 1;
    if (!d) return;
    if (!info->hamiltonian) {
        diag_error(s->d, d->loc, "'integrator' needs a 'hamiltonian': states with 'next' need none");
        return;
    }
    int k = 0;
    while (k < INT_KIND_COUNT && strcmp(integrator_names[k], d->name) != 0) k++;
    if (k == INT_KIND_COUNT) {
        diag_error(s->d, d->name_loc, "unknown integrator '%s'", d->name);
        const char *near = closest_name(d->name, integrator_names, INT_KIND_COUNT);
        if (near) diag_hint(s->d, "did you mean '%s'?", near);
        else diag_hint(s->d, "use euler, symplectic_euler, leapfrog, rk4 or conformal_symplectic");
        return;
    }
    info->integrator_kind = (IntegratorKind)k;
    for (int i = 0; i < d->nargs; i++) {
        NamedArg *a = &d->args[i];
        if (strcmp(a->name, "dt") != 0) {
            diag_error(s->d, a->loc, "integrator %s has no argument '%s' (it takes dt)", d->name,
                       a->name);
            continue;
        }
        double v;
        if (sema_const(s, a->value, &v, "dt") != 0) continue;
        if (!(v > 0 && isfinite(v)))
            diag_error(s->d, a->value->loc, "dt must be positive, got %g", v);
        else
            info->dt = v;
    }
    if (k != INT_EULER && k != INT_RK4 && !info->canon_q)
        diag_error(s->d, d->name_loc, "integrator %s needs a canonical (q, p) pair", d->name);
    if (k != INT_EULER && k != INT_RK4 && !info->canon_q)
        diag_hint(s->d, "write 'structure J = canonical(q, p)' with q and p the dynamic states");
    else if (k != INT_EULER && k != INT_RK4 && info->ndyn != 2 * shape_size(info->canon_q->shape))
        diag_error(s->d, d->name_loc, "integrator %s needs every dynamic state in the pair "
                   "(%s, %s)", d->name, info->canon_q->name, info->canon_p->name);
}

static void check_structure(Sema *s)
{
    OptInfo *info = s->info;
    if (!info->hamiltonian) {
        Decl *stray[] = {info->structure, info->dissipation, info->port};
        for (int i = 0; i < 3; i++)
            if (stray[i])
                diag_error(s->d, stray[i]->loc, "'%s' needs a 'hamiltonian'",
                           ast_decl_keyword(stray[i]->kind));
        check_integrator(s);
        return;
    }
    info->passive = 1;
    Shape h = info->hamiltonian->sym
                  ? sema_type_sym(s, info->hamiltonian->sym, info->hamiltonian->name_loc)
                  : SHAPE_ERROR;
    if (h.rank > 0) {
        diag_error(s->d, info->hamiltonian->value->loc, "the hamiltonian must be a scalar, not a %s",
                   shape_str(s->a, h));
        diag_hint(s->d, "sum the terms, as in dot(p, p) / 2 or sum(...)");
    }
    find_canonical_pair(s);
    check_matrix_decl(s, info->structure, "structure");
    check_matrix_decl(s, info->dissipation, "dissipation");
    check_port(s);
    check_integrator(s);
}

/* ---- 6. unused names ---- */

static void warn_unused(Sema *s)
{
    OptInfo *info = s->info;
    for (int i = 0; i < info->nsyms; i++) {
        Sym *sym = info->syms[i];
        if (sym->used || sym->kind > SK_LET) continue;
        if (sym->kind == SK_STATE && (sym->dynamic || sym->next)) {
            if (sym->dynamic) continue;   // the dynamics read it
            diag_warning(s->d, sym->decl->name_loc, "state '%s' is updated but never read",
                         sym->name);
            continue;
        }
        diag_warning(s->d, sym->decl->name_loc, "%s '%s' is never used", kind_names[sym->kind],
                     sym->name);
    }
}

/* ---- the pass ---- */

static void layout(OptInfo *info)
{
    for (int k = 0; k < SK_KIND_COUNT; k++) {
        int off = 0;
        for (int i = 0; i < info->count[k]; i++) {
            info->by_kind[k][i]->offset = off;
            off += shape_size(info->by_kind[k][i]->shape);
        }
        info->scalars[k] = off;
    }
}

OptInfo *sema_optimizer(Program *p, Optimizer *o)
{
    Sema s = {.prog = p, .d = p->diag, .a = p->arena};
    IndexedInfo *x = arena_alloc(s.a, sizeof *x);
    OptInfo *info = &x->info;
    info->opt = o;
    o->info = info;
    s.info = info;
    info->syms = arena_alloc(s.a, (size_t)(o->ndecls + 1) * sizeof *info->syms);
    size_t slots = 4;
    while (slots < 2 * (size_t)o->ndecls + 2) slots *= 2;
    x->mask = (unsigned)(slots - 1);
    x->table = arena_alloc(s.a, slots * sizeof *x->table);
    for (int i = 0; i < o->ndecls; i++) declare(&s, o->decls[i]);
    for (int k = 0; k < SK_KIND_COUNT; k++) {
        info->by_kind[k] = arena_alloc(s.a, (size_t)(info->count[k] + 1) * sizeof(Sym *));
        info->count[k] = 0;
    }
    for (int i = 0; i < info->nsyms; i++) {
        Sym *sym = info->syms[i];
        info->by_kind[sym->kind][info->count[sym->kind]++] = sym;
    }
    for (int i = 0; i < info->nsyms; i++) {
        Sym *sym = info->syms[i];
        if (sym->kind == SK_HYPER) eval_hyper(&s, sym);
        if (sym->kind == SK_STATE || sym->kind == SK_PARAM) declared_shape(&s, sym);
    }
    layout(info);
    attach_nexts(&s);
    if (!info->update)
        diag_error(s.d, o->name_loc, "optimizer '%s' has no 'update'", o->name);
    for (int i = 0; i < o->ndecls; i++) {
        Decl *d = o->decls[i];
        Sym *sym = d->sym;
        switch (d->kind) {
        case DECL_STATE: case DECL_PARAM:
            if (sym) check_initializer(&s, sym);
            break;
        case DECL_LET:
            if (sym) {   // typing it here is not a use of it
                int used = sym->used;
                sema_type_sym(&s, sym, d->name_loc);
                sym->used = used;
            }
            break;
        case DECL_NEXT: check_next(&s, d); break;
        case DECL_UPDATE: {
            Shape u = type_value(&s, d, d->value);
            if (u.rank > 0)
                diag_error(s.d, d->value->loc, "the update of one coordinate must be a scalar, "
                           "not a %s", shape_str(s.a, u));
            break;
        }
        default: break;
        }
    }
    check_structure(&s);
    warn_unused(&s);
    return info;
}

/* A def is typed at its calls; on its own, its body is checked for names (only its
 * parameters may appear) and for functions (known ones, with the right arity), so
 * that a def nobody calls yet still gets its mistakes reported. */
static void check_def_body(Sema *s, Def *def, Expr *e)
{
    if (!e) return;
    if (e->kind == EX_NAME || e->kind == EX_PRIME) {
        int found = 0;
        for (int i = 0; i < def->nparams; i++) found |= def->params[i] == e->name;
        if (!found || e->kind == EX_PRIME) {
            Shape *shapes = arena_alloc(s->a, (size_t)(def->nparams + 1) * sizeof *shapes);
            DefFrame frame = {def, shapes, NULL, NULL, e->loc, 1};
            s->frame = &frame;
            sema_type(s, e);   // reports the unknown name, with a suggestion
            s->frame = NULL;
        }
        return;
    }
    if (e->kind == EX_CALL) {
        Def *callee = load_find_def(s->prog, e->name);
        int id = sema_builtin_id(e->name);
        int lo = callee ? callee->nparams : id >= 0 ? sema_builtins[id].min_args : 0;
        int hi = callee ? callee->nparams : id >= 0 ? sema_builtins[id].max_args : 0;
        if (!callee && id < 0) {
            sema_unknown_function(s, e);
        } else if (e->nargs < lo || e->nargs > hi) {
            diag_error(s->d, e->loc, "'%s' takes %d argument%s, got %d", e->name, lo,
                       lo == 1 ? "" : "s", e->nargs);
        }
    }
    for (int i = 0; i < e->nargs; i++) check_def_body(s, def, e->args[i]);
}

/* Recursion among defs: a depth-first walk of the call graph (visiting: 1 on the
 * current path, 2 done). */
static void find_recursion(Sema *s, Def *def, Expr *e)
{
    if (!e) return;
    if (s->depth >= SEMA_MAX_DEPTH) {   // the walk nests like the expansion would
        if (!s->too_deep)
            diag_error(s->d, e->loc, "def '%s' nests more than %d levels deep once the defs "
                       "it calls are expanded", def->name, SEMA_MAX_DEPTH);
        s->too_deep = 1;
        def->broken = 1;
        return;
    }
    s->depth++;
    if (e->kind == EX_CALL) {
        Def *callee = load_find_def(s->prog, e->name);
        if (callee == def) {
            diag_error(s->d, e->name_loc, "'%s' calls itself; defs are inlined and cannot "
                       "recurse", def->name);
            def->broken = 1;
        } else if (callee && callee->visiting == 1) {
            diag_error(s->d, e->name_loc, "'%s' calls '%s' in a cycle; defs are inlined and "
                       "cannot recurse", def->name, callee->name);
            def->broken = callee->broken = 1;
        } else if (callee && callee->visiting == 0) {
            callee->visiting = 1;
            find_recursion(s, callee, callee->body);
            callee->visiting = 2;
            def->broken |= callee->broken;
        }
    }
    for (int i = 0; i < e->nargs; i++) find_recursion(s, def, e->args[i]);
    s->depth--;
}

static void check_defs(Program *p, Module *m)
{
    Sema s = {.prog = p, .d = p->diag, .a = p->arena};
    for (int i = 0; i < m->nitems; i++) {
        if (m->items[i].kind != TOP_DEF) continue;
        Def *def = m->items[i].item;
        int before = p->diag->nerrors;
        for (int k = 0; k < def->nparams; k++)
            for (int j = 0; j < k; j++)
                if (def->params[j] == def->params[k])
                    diag_error(p->diag, def->param_locs[k], "parameter '%s' appears twice",
                               def->params[k]);
        check_def_body(&s, def, def->body);
        if (def->visiting == 0) {
            def->visiting = 1;
            find_recursion(&s, def, def->body);
            def->visiting = 2;
        }
        def->broken |= p->diag->nerrors > before;
    }
}

/* A program with syntax errors is not checked: the declarations the parser dropped
 * would show up as unknown names, missing updates and unused inputs, which only bury
 * the real error.  The user fixes the syntax and runs again. */
int sema_program(Program *p)
{
    int before = p->diag->nerrors;
    for (int i = 0; i < p->nmodules; i++)
        if (p->modules[i]->syntax_errors) return 0;
    for (int i = 0; i < p->nmodules; i++) check_defs(p, p->modules[i]);
    for (int i = 0; i < p->noptimizers; i++) sema_optimizer(p, p->optimizers[i]);
    return p->diag->nerrors - before;
}
