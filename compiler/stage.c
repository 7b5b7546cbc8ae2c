/* stage.c: linear forms found in the step's DAG, grouped into GEMMs, and the stage
 * kernels' plans around them (the design is in stage.h).
 *
 * Working arrays are indexed by node id (dense in a pool), sized to the pool when
 * they are made; every pass below walks a dag_topo list, in which operands come
 * before their users. */
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* STAGE_AUTO keeps a GEMM of at least AUTO_MIN_GEMM weights, and stages the step
 * only when its GEMMs hold at least AUTO_MIN_MACS multiply-adds per coordinate:
 * below that the extra passes over memory cost more than the products gain (the
 * LSTM has 4880; seed_hnn's largest product has 40). */
#define AUTO_MIN_GEMM 64
#define AUTO_MIN_MACS 1024

StageMode stage_mode(void)
{
    const char *e = getenv("HAM_GEMM");
    if (e && !strcmp(e, "off")) return STAGE_OFF;
    if (e && !strcmp(e, "force")) return STAGE_FORCE;
    return STAGE_AUTO;
}

typedef struct Form {
    const DagNode *node;     // the sum
    int nterm;               // its terms param * v, sorted by v's id
    const DagNode **v;
    int *param;
    int nrest;               // its other terms, in order
    const DagNode **rest;
    int gemm, row;           // where it went, or gemm -1
} Form;

typedef struct Work {
    const StepProgram *s;
    DagPool *p;
    StagedStep *st;
    Form *forms;
    int nform;
    int *form_of;            // [old id]: form index or -1
    const DagNode ***vnew;   // [gemm][col]: the rebuilt v's
    const DagNode **roots;   // [nstate + 1]: the rebuilt outputs
    const DagNode **list;    // the rebuilt DAG, topological
    int count;
    int *level, *col_of;     // [new id]
    char *uni, *carried;     // [new id]: coordinate-independent; stored for later stages
    int *out_stage;          // [nstate + 1]: the stage that writes next[r] / the update
} Work;

static int is_coord_leaf(const DagNode *n)
{
    return n->op == OP_SYM && (n->cls == SYM_STATE || n->cls == SYM_AUX ||
                               (n->cls == SYM_INPUT && n->index != INPUT_T));
}

/* ---- finding the forms ---- */

typedef struct Term {
    const DagNode *v;
    int param;
} Term;

static int term_cmp(const void *a, const void *b)
{
    const Term *x = a, *y = b;
    return (x->v->id > y->v->id) - (x->v->id < y->v->id);
}

/* The terms of the OP_ADD tree at n, descending into adds that are not forms of
 * their own (`top`: an add some non-add uses).  Returns a Form if it has at least
 * two terms param * v with distinct coordinate-dependent v's. */
static int flatten(const DagNode *n, const char *coord, const char *top, Form *f)
{
    int cap = 16, sp = 0, nt = 0, nr = 0;
    const DagNode **stack = dag_realloc(NULL, (size_t)cap * sizeof *stack);
    Term *terms = dag_realloc(NULL, (size_t)cap * sizeof *terms);
    const DagNode **rest = dag_realloc(NULL, (size_t)cap * sizeof *rest);
    stack[sp++] = n->kid[1];
    stack[sp++] = n->kid[0];
    while (sp > 0) {
        const DagNode *t = stack[--sp];
        if (sp + 2 >= cap || nt + 1 >= cap || nr + 1 >= cap) {
            cap *= 2;
            stack = dag_realloc(stack, (size_t)cap * sizeof *stack);
            terms = dag_realloc(terms, (size_t)cap * sizeof *terms);
            rest = dag_realloc(rest, (size_t)cap * sizeof *rest);
        }
        if (t->op == OP_ADD && !top[t->id]) {
            stack[sp++] = t->kid[1];
            stack[sp++] = t->kid[0];
            continue;
        }
        const DagNode *a = t->kid[0], *b = t->kid[1];
        if (t->op == OP_MUL && a->op == OP_SYM && a->cls == SYM_PARAM && coord[b->id])
            terms[nt++] = (Term){b, a->index};
        else if (t->op == OP_MUL && b->op == OP_SYM && b->cls == SYM_PARAM && coord[a->id])
            terms[nt++] = (Term){a, b->index};
        else
            rest[nr++] = t;
    }
    dag_realloc(stack, 0);
    qsort(terms, (size_t)nt, sizeof *terms, term_cmp);
    int ok = nt >= 2;
    for (int i = 1; i < nt && ok; i++) ok = terms[i].v != terms[i - 1].v;
    if (ok) {
        f->node = n;
        f->nterm = nt;
        f->v = dag_realloc(NULL, (size_t)nt * sizeof *f->v);
        f->param = dag_realloc(NULL, (size_t)nt * sizeof *f->param);
        for (int i = 0; i < nt; i++) f->v[i] = terms[i].v, f->param[i] = terms[i].param;
        f->nrest = nr;
        f->rest = rest;
        f->gemm = -1;
    } else {
        dag_realloc(rest, 0);
    }
    dag_realloc(terms, 0);
    return ok;
}

static void find_forms(Work *w, const DagNode *const *roots, int nroots)
{
    int count, size = dag_pool_size(w->p) + 1;
    const DagNode **list = dag_topo(nroots, roots, &count);
    char *coord = dag_realloc(NULL, (size_t)size);
    char *top = dag_realloc(NULL, (size_t)size);
    memset(coord, 0, (size_t)size);
    memset(top, 0, (size_t)size);
    w->form_of = dag_realloc(NULL, (size_t)size * sizeof *w->form_of);
    for (int i = 0; i < size; i++) w->form_of[i] = -1;
    for (int i = 0; i < count; i++) {
        const DagNode *n = list[i];
        coord[n->id] = (char)is_coord_leaf(n);
        for (int k = 0; k < dag_op_info[n->op].arity; k++) {
            const DagNode *kid = n->kid[k];
            coord[n->id] |= coord[kid->id];
            if (n->op != OP_ADD) top[kid->id] = 1;   // a non-add user
        }
    }
    for (int r = 0; r < nroots; r++) top[roots[r]->id] = 1;
    w->forms = dag_realloc(NULL, (size_t)(count + 1) * sizeof *w->forms);
    for (int i = 0; i < count; i++) {
        const DagNode *n = list[i];
        if (n->op != OP_ADD || !coord[n->id] || !top[n->id]) continue;
        if (flatten(n, coord, top, &w->forms[w->nform])) w->form_of[n->id] = w->nform++;
    }
    dag_realloc(coord, 0);
    dag_realloc(top, 0);
    dag_realloc(list, 0);
}

/* ---- grouping forms into GEMMs ---- */

static int form_cmp(const void *a, const void *b)
{
    const Form *x = *(const Form *const *)a, *y = *(const Form *const *)b;
    if (x->nterm != y->nterm) return x->nterm < y->nterm ? -1 : 1;
    for (int i = 0; i < x->nterm; i++)
        if (x->v[i] != y->v[i]) return x->v[i]->id < y->v[i]->id ? -1 : 1;
    return (x->node->id > y->node->id) - (x->node->id < y->node->id);
}

static int same_vs(const Form *x, const Form *y)
{
    return x->nterm == y->nterm && !memcmp(x->v, y->v, (size_t)x->nterm * sizeof *x->v);
}

static void group_forms(Work *w, StageMode mode)
{
    StagedStep *st = w->st;
    Form **order = dag_realloc(NULL, (size_t)(w->nform + 1) * sizeof *order);
    for (int i = 0; i < w->nform; i++) order[i] = &w->forms[i];
    qsort(order, (size_t)w->nform, sizeof *order, form_cmp);
    st->gemm = dag_realloc(NULL, (size_t)(w->nform + 1) * sizeof *st->gemm);
    for (int i = 0, j; i < w->nform; i = j) {
        for (j = i + 1; j < w->nform && same_vs(order[i], order[j]); j++) {}
        int rows = j - i, cols = order[i]->nterm;
        if (mode == STAGE_AUTO && rows * cols < AUTO_MIN_GEMM) continue;
        StageGemm *g = &st->gemm[st->ngemm];
        g->rows = rows;
        g->cols = cols;
        g->w = dag_realloc(NULL, (size_t)rows * (size_t)cols * sizeof *g->w);
        for (int r = 0; r < rows; r++) {
            order[i + r]->gemm = st->ngemm;
            order[i + r]->row = r;
            memcpy(g->w + (size_t)r * (size_t)cols, order[i + r]->param, (size_t)cols * sizeof *g->w);
        }
        st->macs += rows * cols;
        st->ngemm++;
    }
    dag_realloc(order, 0);
}

/* ---- the rebuilt DAG: forms replaced by Y_r + rest ---- */

static int rebuild(Work *w, const DagNode *const *roots, int nroots)
{
    StagedStep *st = w->st;
    DagPool *p = w->p;
    for (int g = 0; g < st->ngemm; g++) {
        st->gemm[g].y_col = st->ncol;
        st->ncol += st->gemm[g].rows;
    }
    int count;
    const DagNode **list = dag_topo(nroots, roots, &count);
    const DagNode **image = dag_realloc(NULL, (size_t)(dag_pool_size(p) + 1) * sizeof *image);
    for (int i = 0; i < count; i++) {
        const DagNode *n = list[i];
        const DagNode *x;
        int fi = w->form_of[n->id];
        if (n->op == OP_CONST || n->op == OP_SYM) {
            x = n;
        } else if (fi >= 0 && w->forms[fi].gemm >= 0) {
            const Form *f = &w->forms[fi];
            char name[48];
            snprintf(name, sizeof name, "gemm%d[%d]", f->gemm, f->row);
            x = dag_sym(p, SYM_AUX, st->gemm[f->gemm].y_col + f->row, name);
            for (int r = 0; r < f->nrest; r++) x = dag_add(p, x, image[f->rest[r]->id]);
        } else {
            const DagNode *k[3] = {NULL, NULL, NULL};
            for (int j = 0; j < dag_op_info[n->op].arity; j++) k[j] = image[n->kid[j]->id];
            x = dag_op(p, n->op, k[0], k[1], k[2]);
        }
        image[n->id] = x;
    }
    w->roots = dag_realloc(NULL, (size_t)(nroots + 1) * sizeof *w->roots);
    for (int r = 0; r < nroots; r++) w->roots[r] = image[roots[r]->id];
    w->vnew = dag_realloc(NULL, (size_t)(st->ngemm + 1) * sizeof *w->vnew);
    for (int g = 0; g < st->ngemm; g++) w->vnew[g] = NULL;
    for (int fi = 0; fi < w->nform; fi++) {
        const Form *f = &w->forms[fi];
        if (f->gemm < 0 || w->vnew[f->gemm]) continue;
        w->vnew[f->gemm] = dag_realloc(NULL, (size_t)f->nterm * sizeof **w->vnew);
        for (int c = 0; c < f->nterm; c++) w->vnew[f->gemm][c] = image[f->v[c]->id];
    }
    dag_realloc(image, 0);
    dag_realloc(list, 0);
    return dag_pool_failed(p) ? -1 : 0;
}

/* ---- levels and columns ---- */

static int gemm_of_col(const StagedStep *st, int col)
{
    for (int g = 0; g < st->ngemm; g++)
        if (col >= st->gemm[g].y_col && col < st->gemm[g].y_col + st->gemm[g].rows) return g;
    return -1;
}

static void assign_levels(Work *w, int nroots)
{
    StagedStep *st = w->st;
    int nall = nroots;
    for (int g = 0; g < st->ngemm; g++) nall += st->gemm[g].cols;
    const DagNode **all = dag_realloc(NULL, (size_t)(nall + 1) * sizeof *all);
    memcpy(all, w->roots, (size_t)nroots * sizeof *all);
    for (int g = 0, k = nroots; g < st->ngemm; g++)
        for (int c = 0; c < st->gemm[g].cols; c++) all[k++] = w->vnew[g][c];
    w->list = dag_topo(nall, all, &w->count);
    dag_realloc(all, 0);
    size_t size = (size_t)dag_pool_size(w->p) + 1;
    w->level = dag_realloc(NULL, size * sizeof *w->level);
    w->col_of = dag_realloc(NULL, size * sizeof *w->col_of);
    w->uni = dag_realloc(NULL, size);
    w->carried = dag_realloc(NULL, size);
    memset(w->carried, 0, size);
    for (int g = 0; g < st->ngemm; g++) st->gemm[g].level = 1;
    /* A GEMM's level needs its v's levels, which need the levels of the GEMMs they
     * read: iterate to the fixpoint (levels only grow; at most ngemm + 1 rounds). */
    for (int changed = 1, round = 0; changed && round <= st->ngemm + 1; round++) {
        changed = 0;
        for (int i = 0; i < w->count; i++) {
            const DagNode *n = w->list[i];
            int lv = 0, uni = !is_coord_leaf(n);
            if (n->op == OP_SYM && n->cls == SYM_AUX) lv = st->gemm[gemm_of_col(st, n->index)].level;
            for (int k = 0; k < dag_op_info[n->op].arity; k++) {
                const DagNode *kid = n->kid[k];
                if (w->level[kid->id] > lv) lv = w->level[kid->id];
                uni &= w->uni[kid->id];
            }
            w->level[n->id] = lv;
            w->uni[n->id] = (char)uni;
        }
        for (int g = 0; g < st->ngemm; g++) {
            int lv = 0;
            for (int c = 0; c < st->gemm[g].cols; c++)
                if (w->level[w->vnew[g][c]->id] > lv) lv = w->level[w->vnew[g][c]->id];
            if (lv + 1 != st->gemm[g].level) st->gemm[g].level = lv + 1, changed = 1;
        }
    }
    st->nstage = 1;
    for (int g = 0; g < st->ngemm; g++)
        if (st->gemm[g].level + 1 > st->nstage) st->nstage = st->gemm[g].level + 1;
    for (int r = 0; r < nroots; r++)
        if (w->level[w->roots[r]->id] + 1 > st->nstage) st->nstage = w->level[w->roots[r]->id] + 1;
}

static int is_computed(const Work *w, const DagNode *n)
{
    return n->op != OP_CONST && n->op != OP_SYM && !w->uni[n->id];
}

static void assign_columns(Work *w)
{
    StagedStep *st = w->st;
    size_t size = (size_t)dag_pool_size(w->p) + 1;
    int *max_user = dag_realloc(NULL, size * sizeof *max_user);
    for (size_t i = 0; i < size; i++) max_user[i] = -1, w->col_of[i] = -1;
    for (int i = 0; i < w->count; i++) {
        const DagNode *n = w->list[i];
        for (int k = 0; k < dag_op_info[n->op].arity; k++)
            if (w->level[n->id] > max_user[n->kid[k]->id]) max_user[n->kid[k]->id] = w->level[n->id];
    }
    /* An output is written by the stage that computes it, unless a later stage still
     * reads the state it replaces: state_next may alias state (as for any kernel), so
     * such an output waits for the last stage, through a column. */
    int ns = w->s->nstate;
    int *state_read = dag_realloc(NULL, (size_t)(ns + 1) * sizeof *state_read);
    for (int r = 0; r < ns; r++) state_read[r] = 0;
    for (int i = 0; i < w->count; i++) {
        const DagNode *n = w->list[i];
        for (int k = 0; k < dag_op_info[n->op].arity; k++) {
            const DagNode *kid = n->kid[k];
            if (kid->op == OP_SYM && kid->cls == SYM_STATE && w->level[n->id] > state_read[kid->index])
                state_read[kid->index] = w->level[n->id];
        }
    }
    w->out_stage = dag_realloc(NULL, (size_t)(ns + 1) * sizeof *w->out_stage);
    for (int r = 0; r <= ns; r++) {
        int lv = w->level[w->roots[r]->id];
        w->out_stage[r] = r == ns || state_read[r] <= lv ? lv : st->nstage - 1;
        if (w->out_stage[r] > max_user[w->roots[r]->id]) max_user[w->roots[r]->id] = w->out_stage[r];
    }
    dag_realloc(state_read, 0);
    for (int g = 0; g < st->ngemm; g++) {
        st->gemm[g].x_col = st->ncol;
        st->ncol += st->gemm[g].cols;
        for (int c = 0; c < st->gemm[g].cols; c++) {
            const DagNode *v = w->vnew[g][c];
            if (is_computed(w, v) && w->col_of[v->id] < 0) w->col_of[v->id] = st->gemm[g].x_col + c;
        }
    }
    for (int i = 0; i < w->count; i++) {
        const DagNode *n = w->list[i];
        if (!is_computed(w, n) || max_user[n->id] <= w->level[n->id] || w->col_of[n->id] >= 0) continue;
        w->col_of[n->id] = st->ncol++;
        w->carried[n->id] = 1;
    }
    dag_realloc(max_user, 0);
}

/* ---- the stage kernels ---- */

/* The outputs of stage k in the rebuilt DAG: its exports (the first *nexport), then
 * the next states and update it writes. */
static int stage_outs(const Work *w, int k, KernelOut *outs, int *nexport)
{
    const StagedStep *st = w->st;
    const StepProgram *s = w->s;
    int n = 0;
    for (int g = 0; g < st->ngemm; g++)
        for (int c = 0; c < st->gemm[g].cols; c++)
            if (w->level[w->vnew[g][c]->id] == k) outs[n++] = (KernelOut){OUT_AUX, st->gemm[g].x_col + c, w->vnew[g][c]};
    for (int i = 0; i < w->count; i++) {
        const DagNode *x = w->list[i];
        if (w->carried[x->id] && w->level[x->id] == k) outs[n++] = (KernelOut){OUT_AUX, w->col_of[x->id], x};
    }
    *nexport = n;
    for (int r = 0; r <= s->nstate; r++)
        if (w->out_stage[r] == k) outs[n++] = (KernelOut){r < s->nstate ? OUT_NEXT : OUT_UPDATE, r < s->nstate ? r : 0, w->roots[r]};
    return n;
}

/* Rewrite outs[] for stage k: values of earlier stages become reads of their aux
 * columns. */
static void substitute(Work *w, int k, KernelOut *outs, int nout)
{
    size_t size = (size_t)dag_pool_size(w->p) + 1;
    char *need = dag_realloc(NULL, size);
    const DagNode **image = dag_realloc(NULL, size * sizeof *image);
    memset(need, 0, size);
    for (int o = 0; o < nout; o++) need[outs[o].node->id] = 1;
    for (int i = w->count - 1; i >= 0; i--) {
        const DagNode *n = w->list[i];
        if (!need[n->id] || (is_computed(w, n) && w->level[n->id] < k)) continue;
        for (int j = 0; j < dag_op_info[n->op].arity; j++) need[n->kid[j]->id] = 1;
    }
    for (int i = 0; i < w->count; i++) {
        const DagNode *n = w->list[i];
        if (!need[n->id]) continue;
        if (n->op == OP_CONST || n->op == OP_SYM) {
            image[n->id] = n;
        } else if (is_computed(w, n) && w->level[n->id] < k) {
            char name[32];
            snprintf(name, sizeof name, "aux%d", w->col_of[n->id]);
            image[n->id] = dag_sym(w->p, SYM_AUX, w->col_of[n->id], name);
        } else {
            const DagNode *kid[3] = {NULL, NULL, NULL};
            for (int j = 0; j < dag_op_info[n->op].arity; j++) kid[j] = image[n->kid[j]->id];
            image[n->id] = dag_op(w->p, n->op, kid[0], kid[1], kid[2]);
        }
    }
    for (int o = 0; o < nout; o++) outs[o].node = image[outs[o].node->id];
    dag_realloc(need, 0);
    dag_realloc(image, 0);
}

/* The adjoint of stage k's map outs[] (already substituted). */
static void stage_adjoint(Work *w, const KernelOut *outs, int nout, int last, KernelPlan *plan)
{
    const StepProgram *s = w->s;
    DagPool *p = w->p;
    int ns = s->nstate, np = s->nparam;
    const DagNode **roots = dag_realloc(NULL, (size_t)(nout + 1) * sizeof *roots);
    const DagNode **seeds = dag_realloc(NULL, (size_t)(nout + 1) * sizeof *seeds);
    for (int o = 0; o < nout; o++) {
        roots[o] = outs[o].node;
        int seed = outs[o].kind == OUT_NEXT ? outs[o].index : outs[o].kind == OUT_UPDATE ? ns : ns + 1 + outs[o].index;
        char name[40];
        snprintf(name, sizeof name, "aux%d_bar", outs[o].index);
        seeds[o] = dag_sym(p, SYM_SEED, seed, name);
    }
    int count;
    const DagNode **list = dag_topo(nout, roots, &count);
    int naux = 0;
    for (int i = 0; i < count; i++) naux += list[i]->op == OP_SYM && list[i]->cls == SYM_AUX;
    int nwrt = ns + np + naux;
    const DagNode **wrt = dag_realloc(NULL, (size_t)(nwrt + 1) * sizeof *wrt);
    const DagNode **res = dag_realloc(NULL, (size_t)(nwrt + 1) * sizeof *res);
    for (int k = 0; k < ns; k++) wrt[k] = dag_sym(p, SYM_STATE, k, s->state_names[k]);
    for (int k = 0; k < np; k++) wrt[ns + k] = dag_sym(p, SYM_PARAM, k, s->param_names[k]);
    for (int i = 0, a = ns + np; i < count; i++)
        if (list[i]->op == OP_SYM && list[i]->cls == SYM_AUX) wrt[a++] = list[i];
    dag_realloc(list, 0);
    KernelOut *aouts = dag_realloc(NULL, (size_t)(nwrt + 1) * sizeof *aouts);
    int na = 0;
    if (dag_vjp(p, nout, roots, seeds, nwrt, wrt, res) == 0) {
        for (int k = 0; k < nwrt; k++) {
            const DagNode *r = res[k];
            if (k >= ns && k < ns + np) {
                aouts[na++] = (KernelOut){OUT_PARAM_BAR, k - ns, r};
                continue;
            }
            if (k < ns && last) {   // runs first: writes every xbar (alias-safe with xbar')
                aouts[na++] = (KernelOut){OUT_STATE_BAR, k, r};
                continue;
            }
            if (r->op == OP_CONST && r->value == 0) continue;
            aouts[na++] = k < ns ? (KernelOut){OUT_STATE_BAR_ADD, k, r} : (KernelOut){OUT_AUX_BAR_ADD, wrt[k]->index, r};
        }
    }
    codegen_plan_outs(s, 1, aouts, na, plan);
    plan->stage = 1;
    dag_realloc(aouts, 0);
    dag_realloc(wrt, 0);
    dag_realloc(res, 0);
    dag_realloc(roots, 0);
    dag_realloc(seeds, 0);
}

static void stage_plans(Work *w, int with_adjoint)
{
    StagedStep *st = w->st;
    const StepProgram *s = w->s;
    int max = s->nstate + 1 + st->ncol;
    KernelOut *outs = dag_realloc(NULL, (size_t)(max + 1) * sizeof *outs);
    size_t bytes = (size_t)st->nstage * sizeof(KernelPlan);
    st->fwd = memset(dag_realloc(NULL, bytes), 0, bytes);
    st->fwd_aux = memset(dag_realloc(NULL, bytes), 0, bytes);
    st->adj = with_adjoint ? memset(dag_realloc(NULL, bytes), 0, bytes) : NULL;
    for (int k = 0; k < st->nstage && !dag_pool_failed(w->p); k++) {
        int nx, n = stage_outs(w, k, outs, &nx);
        substitute(w, k, outs, n);
        if (dag_pool_failed(w->p)) break;
        codegen_plan_outs(s, 0, outs, n, &st->fwd[k]);
        codegen_plan_outs(s, 0, outs, nx, &st->fwd_aux[k]);   // the exports alone
        st->fwd[k].stage = st->fwd_aux[k].stage = 1;
        if (with_adjoint) stage_adjoint(w, outs, n, k == st->nstage - 1, &st->adj[k]);
    }
    dag_realloc(outs, 0);
}

/* ---- driver ---- */

static void work_free(Work *w)
{
    for (int i = 0; i < w->nform; i++) {
        dag_realloc(w->forms[i].v, 0);
        dag_realloc(w->forms[i].param, 0);
        dag_realloc(w->forms[i].rest, 0);
    }
    dag_realloc(w->forms, 0);
    dag_realloc(w->form_of, 0);
    if (w->vnew)
        for (int g = 0; g < w->st->ngemm; g++) dag_realloc(w->vnew[g], 0);
    dag_realloc(w->vnew, 0);
    dag_realloc(w->roots, 0);
    dag_realloc(w->list, 0);
    dag_realloc(w->level, 0);
    dag_realloc(w->col_of, 0);
    dag_realloc(w->uni, 0);
    dag_realloc(w->carried, 0);
    dag_realloc(w->out_stage, 0);
}

StagedStep *stage_build(const StepProgram *s, StageMode mode, int with_adjoint)
{
    if (mode == STAGE_OFF || !s->next || !s->update) return NULL;
    Work w;
    memset(&w, 0, sizeof w);
    w.s = s;
    w.p = s->pool;
    w.st = dag_realloc(NULL, sizeof *w.st);
    memset(w.st, 0, sizeof *w.st);
    int nroots = s->nstate + 1;
    const DagNode **roots = dag_realloc(NULL, (size_t)(nroots + 1) * sizeof *roots);
    memcpy(roots, s->next, (size_t)s->nstate * sizeof *roots);
    roots[s->nstate] = s->update;
    find_forms(&w, roots, nroots);
    group_forms(&w, mode);
    int worth = w.st->ngemm > 0 && (mode == STAGE_FORCE || w.st->macs >= AUTO_MIN_MACS);
    if (worth && rebuild(&w, roots, nroots) == 0) {
        assign_levels(&w, nroots);
        assign_columns(&w);
        stage_plans(&w, with_adjoint && s->adj_state);
    }
    int ok = worth && !dag_pool_failed(w.p);
    dag_realloc(roots, 0);
    work_free(&w);
    if (!ok) {
        stage_free(w.st);
        return NULL;
    }
    return w.st;
}

void stage_free(StagedStep *st)
{
    if (!st) return;
    for (int g = 0; g < st->ngemm; g++) dag_realloc(st->gemm[g].w, 0);
    dag_realloc(st->gemm, 0);
    for (int k = 0; st->fwd && k < st->nstage; k++) {
        codegen_plan_free(&st->fwd[k]);
        codegen_plan_free(&st->fwd_aux[k]);
        if (st->adj) codegen_plan_free(&st->adj[k]);
    }
    dag_realloc(st->fwd, 0);
    dag_realloc(st->fwd_aux, 0);
    dag_realloc(st->adj, 0);
    dag_realloc(st, 0);
}
