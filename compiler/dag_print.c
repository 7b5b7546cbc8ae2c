/* dag_print.c: the DAG as readable infix text, for dumps and golden tests.
 *
 * A DAG printed as a tree can be exponentially long, so nodes are first sorted into
 * two kinds.  A node gets a temporary (t1 = ...) when it is used more than once
 * (counting use as a root), or when its inlined text would exceed DAG_PRINT_INLINE
 * nodes; every other node is printed inside its one user.  Temporaries are printed
 * in id order, which is topological, so each is defined before it is used; then one
 * line `name = expr` per root.
 *
 * Parentheses are minimal by precedence (ops.def's prec column): an operand is
 * parenthesized when it binds more loosely than its position requires.  Binary
 * infix ops are left-associative, so a - (b - c) keeps its parentheses and (a - b) - c
 * loses them; POW is right-associative; comparisons do not chain; a negative
 * constant binds like unary minus, so (-2)^x and x^(-2) keep theirs.  Because inlined
 * subtrees are bounded in size, the recursive printer is bounded in depth. */
#include "dag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Why 24: long enough that a typical update line reads as one formula, short enough
 * that a line stays under ~150 columns and the printer's recursion stays shallow. */
enum { DAG_PRINT_INLINE = 24, PREC_ATOM = 10, PREC_NEG = 7 };

static const char *const class_prefix[SYM_CLASS_COUNT] = {
    [SYM_INPUT] = "in", [SYM_STATE] = "st", [SYM_PARAM] = "par",
    [SYM_HYPER] = "hyp", [SYM_SEED] = "seed", [SYM_AUX] = "aux",
};

typedef struct Printer {
    FILE *out;
    const DagNode **list;  // reachable nodes by id (dag_topo)
    int *temp;             // temp[slot]: temporary number, 0 when inlined
} Printer;

void dag_format_const(char *buf, size_t size, double value)
{
    if (isnan(value)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(value)) {
        snprintf(buf, size, value < 0 ? "-inf" : "inf");
        return;
    }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, value);
        if (strtod(buf, NULL) == value)
            return;
    }
}

/* prec_of: how tightly n binds where it is printed (a temporary is an atom). */
static int prec_of(const Printer *pr, const DagNode *n)
{
    if (pr->temp[n->slot])
        return PREC_ATOM;
    if (n->op == OP_CONST)
        return signbit(n->value) && !isnan(n->value) ? PREC_NEG : PREC_ATOM;
    const DagOpInfo *info = &dag_op_info[n->op];
    return info->infix ? info->prec : PREC_ATOM;
}

static void print_inline(const Printer *pr, const DagNode *n, int min_prec);

/* print_body: n's own operator applied to its (inlined or temporary) operands. */
static void print_body(const Printer *pr, const DagNode *n)
{
    const DagOpInfo *info = &dag_op_info[n->op];
    char buf[40];
    if (n->op == OP_CONST) {
        dag_format_const(buf, sizeof buf, n->value);
        fputs(buf, pr->out);
    } else if (n->op == OP_SYM) {
        if (n->name)
            fputs(n->name, pr->out);
        else
            fprintf(pr->out, "%s%d", class_prefix[n->cls], n->index);
    } else if (!info->infix) {
        fprintf(pr->out, "%s(", info->name);
        for (int i = 0; i < info->arity; i++) {
            fputs(i ? ", " : "", pr->out);
            print_inline(pr, n->kid[i], 0);
        }
        fputc(')', pr->out);
    } else if (info->arity == 1) {
        fputs(info->infix, pr->out);
        print_inline(pr, n->kid[0], info->prec + 1);
    } else {
        /* left-assoc: right side needs more; POW is right-assoc; compares don't chain */
        int right_assoc = n->op == OP_POW, chain = !(info->flags & DAG_BOOL) ||
                          n->op == OP_AND || n->op == OP_OR;
        print_inline(pr, n->kid[0], info->prec + (right_assoc || !chain));
        fprintf(pr->out, n->op == OP_POW ? "%s" : " %s ", info->infix);
        print_inline(pr, n->kid[1], info->prec + !right_assoc);
    }
}

static void print_inline(const Printer *pr, const DagNode *n, int min_prec)
{
    if (pr->temp[n->slot]) {
        fprintf(pr->out, "t%d", pr->temp[n->slot]);
        return;
    }
    int paren = prec_of(pr, n) < min_prec;
    fputs(paren ? "(" : "", pr->out);
    print_body(pr, n);
    fputs(paren ? ")" : "", pr->out);
}

/* choose_temps: number the temporaries, in id order.  A root used nowhere else is
 * printed on its own line whatever its size. */
static void choose_temps(Printer *pr, int n, int nroots, const DagNode *const *roots)
{
    size_t bytes = (size_t)(n ? n : 1) * sizeof(int);
    int *uses = dag_realloc(NULL, bytes), *size = dag_realloc(NULL, bytes);
    int *as_root = dag_realloc(NULL, bytes), next = 0;
    memset(uses, 0, bytes);
    memset(as_root, 0, bytes);
    for (int r = 0; r < nroots; r++)
        if (roots[r])
            uses[roots[r]->slot]++, as_root[roots[r]->slot]++;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < dag_op_info[pr->list[i]->op].arity; k++)
            uses[pr->list[i]->kid[k]->slot]++;
    for (int i = 0; i < n; i++) {
        const DagNode *x = pr->list[i];
        int arity = dag_op_info[x->op].arity;
        size[i] = 1;
        for (int k = 0; k < arity; k++)
            size[i] += size[x->kid[k]->slot];
        pr->temp[i] = 0;
        int big = size[i] > DAG_PRINT_INLINE && !(uses[i] == 1 && as_root[i] == 1);
        if (arity > 0 && (uses[i] > 1 || big)) {
            pr->temp[i] = ++next;
            size[i] = 1;
        }
    }
    dag_realloc(as_root, 0);
    dag_realloc(size, 0);
    dag_realloc(uses, 0);
}

/* print_all: temporaries, then each root as `name = expr`, or as a bare expr. */
static void print_all(FILE *out, int nroots, const DagNode *const *roots,
                      const char *const *root_names, int bare)
{
    int n;
    Printer pr = {.out = out};
    pr.list = dag_topo(nroots, roots, &n);
    pr.temp = dag_realloc(NULL, (size_t)(n ? n : 1) * sizeof *pr.temp);
    choose_temps(&pr, n, nroots, roots);
    for (int i = 0; i < n; i++) {
        if (!pr.temp[i])
            continue;
        fprintf(out, "t%d = ", pr.temp[i]);
        print_body(&pr, pr.list[i]);
        fputc('\n', out);
    }
    for (int r = 0; r < nroots; r++) {
        if (!bare) {
            if (root_names && root_names[r])
                fprintf(out, "%s = ", root_names[r]);
            else
                fprintf(out, "r%d = ", r);
        }
        if (roots[r])
            print_inline(&pr, roots[r], 0);
        else
            fputs("<null>", out);
        fputc('\n', out);
    }
    dag_realloc(pr.temp, 0);
    dag_realloc(pr.list, 0);
}

void dag_print_roots(FILE *out, int nroots, const DagNode *const *roots,
                     const char *const *root_names)
{
    print_all(out, nroots, roots, root_names, 0);
}

void dag_print_expr(FILE *out, const DagNode *node)
{
    print_all(out, 1, &node, NULL, 1);
}
