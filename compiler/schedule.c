/* schedule.c: a kernel body's emission order, output by output (see schedule.h). */
#include "schedule.h"

#include <stdlib.h>

/* Which memory a leaf reads or an output writes, as an alias key: group * 2^32 +
 * column, or -1 for none (constants, params, hypers, t; param adjoints, which go to
 * accumulators). */
enum { GROUP_STATE = 1, GROUP_AUX = 2, GROUP_N = 3 };

static long long key(int group, int column) { return (long long)group << 32 | (unsigned)column; }

static long long leaf_key(const KernelPlan *p, const DagNode *n)
{
    if (n->op != OP_SYM) return -1;
    switch (n->cls) {
    case SYM_STATE: return key(GROUP_STATE, n->index);
    case SYM_AUX: return key(GROUP_AUX, n->index);
    case SYM_INPUT: return n->index == INPUT_T ? -1 : key(GROUP_N, 0);
    case SYM_SEED:   // xbar'[k], ubar, then the aux columns' adjoints
        if (n->index < p->nstate) return key(GROUP_STATE, n->index);
        if (n->index == p->nstate) return key(GROUP_N, 0);
        return key(GROUP_AUX, n->index - p->nstate - 1);
    default: return -1;
    }
}

static long long out_key(const KernelOut *o)
{
    switch (o->kind) {
    case OUT_NEXT:
    case OUT_STATE_BAR:
    case OUT_STATE_BAR_ADD: return key(GROUP_STATE, o->index);
    case OUT_AUX:
    case OUT_AUX_BAR_ADD: return key(GROUP_AUX, o->index);
    case OUT_UPDATE:
    case OUT_INPUT_BAR: return key(GROUP_N, 0);
    case OUT_PARAM_BAR: return -1;
    }
    return -1;
}

typedef struct Leaf {   // a leaf (or an output) by the memory it reads (writes)
    long long key;
    int pos;
} Leaf;

static int by_key(const void *a, const void *b)
{
    const Leaf *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : x->pos - y->pos;
}

typedef struct Walk {
    const KernelPlan *plan;
    char *done;
    int *stack, *next_kid;
    int *stamp, serial;   // cone_cost's marks
    int *step, len;
} Walk;

/* Appends root's cone, operands before users, depth first. */
static void visit(Walk *w, int root)
{
    if (w->done[root]) return;
    int top = 0;
    w->stack[top] = root, w->next_kid[top] = 0;
    while (top >= 0) {
        int k = w->stack[top], j = w->next_kid[top]++;
        if (j < dag_op_info[w->plan->nodes[k]->op].arity) {
            int c = w->plan->kid[k][j];
            // Not done means not on the stack either: the plan is acyclic.
            if (!w->done[c]) ++top, w->stack[top] = c, w->next_kid[top] = 0;
            continue;
        }
        w->done[k] = 1;
        w->step[w->len++] = k;
        top--;
    }
}

/* How many nodes visit(root) would append. */
static int cone_cost(Walk *w, int root)
{
    if (w->done[root]) return 0;
    int serial = ++w->serial, top = 0, cost = 0;
    w->stack[0] = root, w->stamp[root] = serial;
    while (top >= 0) {
        int k = w->stack[top--];
        cost++;
        for (int j = 0; j < dag_op_info[w->plan->nodes[k]->op].arity; j++) {
            int c = w->plan->kid[k][j];
            if (!w->done[c] && w->stamp[c] != serial) w->stamp[c] = serial, w->stack[++top] = c;
        }
    }
    return cost;
}

/* The first index of the run of leaves with key kk (nleaf when none). */
static int first_leaf(const Leaf *leaves, int nleaf, long long kk)
{
    int lo = 0, hi = nleaf;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (leaves[mid].key < kk) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Outputs are taken greedily: of the first WINDOW not yet stored (in plan order) whose
 * earlier same-key outputs are stored, the one whose cone needs the fewest new nodes,
 * the earliest on ties.  So after an LSTM unit's input gate come its other gates, which
 * share its cell's values, rather than the next unit's input gate.  The window bounds
 * the cost on plans with thousands of outputs. */
#define WINDOW 32

int kernel_schedule(const KernelPlan *plan, KernelSchedule *out)
{
    int count = plan->count, nout = plan->nout;
    size_t nc = (size_t)count + 1, no = (size_t)nout + 1;
    Walk w = {plan, calloc(nc, 1), malloc(nc * sizeof(int)), malloc(nc * sizeof(int)),
              calloc(nc, sizeof(int)), 0, malloc((nc + no) * sizeof(int)), 0};
    Leaf *leaves = malloc(nc * sizeof *leaves), *byout = malloc(no * sizeof *byout);
    long long *okey = malloc(no * sizeof *okey);
    int *prev_same = malloc(no * sizeof *prev_same);
    char *stored = calloc(no, 1);
    out->step = NULL, out->len = 0;
    int ok = w.done && w.stack && w.next_kid && w.stamp && w.step && leaves && byout && okey && prev_same && stored;
    if (ok) {
        int nleaf = 0;
        for (int k = 0; k < count; k++) {
            long long kk = leaf_key(plan, plan->nodes[k]);
            if (kk >= 0) leaves[nleaf++] = (Leaf){kk, k};
        }
        qsort(leaves, (size_t)nleaf, sizeof *leaves, by_key);
        // prev_same[o]: the output before o that writes the same memory, or -1 (outputs
        // sorted by key, then by position, as the leaves are).
        int nkeyed = 0;
        for (int o = 0; o < nout; o++) {
            okey[o] = out_key(&plan->outs[o]);
            prev_same[o] = -1;
            if (okey[o] >= 0) byout[nkeyed++] = (Leaf){okey[o], o};
        }
        qsort(byout, (size_t)nkeyed, sizeof *byout, by_key);
        for (int i = 1; i < nkeyed; i++)
            if (byout[i].key == byout[i - 1].key) prev_same[byout[i].pos] = byout[i - 1].pos;
        int first = 0;   // every output before it is stored
        for (int left = nout; left > 0; left--) {
            while (stored[first]) first++;
            int best = -1, best_cost = 0, seen = 0;
            for (int o = first; o < nout && seen < WINDOW; o++) {
                if (stored[o] || (prev_same[o] >= 0 && !stored[prev_same[o]])) continue;
                seen++;
                int c = cone_cost(&w, plan->out_pos[o]);
                if (best < 0 || c < best_cost) best = o, best_cost = c;
            }
            visit(&w, plan->out_pos[best]);
            if (okey[best] >= 0)   // the leaves this store could overwrite are read first
                for (int l = first_leaf(leaves, nleaf, okey[best]); l < nleaf && leaves[l].key == okey[best]; l++)
                    visit(&w, leaves[l].pos);
            w.step[w.len++] = -best - 1;
            stored[best] = 1;
        }
    }
    free(w.done), free(w.stack), free(w.next_kid), free(w.stamp), free(leaves), free(byout);
    free(okey), free(prev_same), free(stored);
    if (!ok) {
        free(w.step);
        return -1;
    }
    out->step = w.step, out->len = w.len;
    return 0;
}

void kernel_schedule_free(KernelSchedule *s)
{
    free(s->step);
    s->step = NULL, s->len = 0;
}
