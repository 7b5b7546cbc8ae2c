/* derive_latex.c: the derived equations as LaTeX (`hamc derive --format latex`).
 *
 * Each group of equations is an align* environment.  Nodes used more than once
 * become temporaries t_1, t_2, ... (as in the text format); the rest print inline
 * with the fewest parentheses their precedence needs:  sums < products < unary
 * minus < powers < atoms.  Comparisons print as Iverson brackets [a < b] (1 when
 * true), conditionals as cases, symbols as subscripted names (W[1,0] -> W_{1,0}). */
#include <string.h>

#include "derive.h"

enum { LP_SUM = 1, LP_PROD, LP_NEG, LP_POW, LP_ATOM };

typedef struct Latex {
    FILE *out;
    const DagNode **list;
    int count;
    int *uses, *temp;    // by position in list
} Latex;

static int prec_of(const DagNode *n)
{
    switch (n->op) {
    case OP_ADD: case OP_SUB: return LP_SUM;
    case OP_MUL: return LP_PROD;
    case OP_NEG: return LP_NEG;
    case OP_POW: return LP_POW;
    default: return LP_ATOM;
    }
}

static const char *const greek[] = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta",
                                    "kappa", "lambda", "mu", "nu", "rho", "sigma", "tau", "phi",
                                    "omega"};

static void print_name(FILE *out, const char *name)
{
    // derived names: "dH/dp" -> \partial_{p} H,  "dq/dt" -> \dot{q}
    if (strncmp(name, "dH/d", 4) == 0) {
        fputs("\\partial_{", out);
        print_name(out, name + 4);
        fputs("} H", out);
        return;
    }
    size_t len = strlen(name);
    if (len > 4 && name[0] == 'd' && strcmp(name + len - 3, "/dt") == 0) {
        char inner[128];
        snprintf(inner, sizeof inner, "%.*s", (int)(len - 4), name + 1);
        fputs("\\dot{", out);
        print_name(out, inner);
        fputc('}', out);
        return;
    }
    for (size_t i = 0; i < sizeof greek / sizeof *greek; i++) {
        if (strcmp(name, greek[i]) == 0) {
            fprintf(out, "\\%s", name);
            return;
        }
    }
    // "W[1,0]" -> W_{1,0}; "p'_bar" -> \bar{p'}; "update_bar" -> \bar{u}
    const char *bar = strstr(name, "_bar");
    if (bar) fputs("\\bar{", out);
    const char *end = bar ? bar : name + strlen(name);
    const char *bracket = memchr(name, '[', (size_t)(end - name));
    const char *stem_end = bracket ? bracket : end;
    for (const char *c = name; c < stem_end; c++) {
        if (*c == '_') fputs("\\_", out);
        else fputc(*c, out);
    }
    if (bracket) {
        fputs("_{", out);
        for (const char *c = bracket + 1; c < end && *c != ']'; c++) fputc(*c, out);
        fputc('}', out);
    }
    if (bar) fputc('}', out);
}

static void node(Latex *lx, const DagNode *n, int min_prec, int top);

static void operand(Latex *lx, const DagNode *n, int min_prec)
{
    node(lx, n, min_prec, 0);
}

static void func(Latex *lx, const char *name, const DagNode *a)
{
    fprintf(lx->out, "%s\\left(", name);
    operand(lx, a, 0);
    fputs("\\right)", lx->out);
}

static void node(Latex *lx, const DagNode *n, int min_prec, int top)
{
    FILE *out = lx->out;
    if (!top && n->slot >= 0 && n->slot < lx->count && lx->list[n->slot] == n && lx->temp[n->slot]) {
        fprintf(out, "t_{%d}", lx->temp[n->slot]);
        return;
    }
    if (n->op == OP_CONST) {
        char buf[40];
        dag_format_const(buf, sizeof buf, n->value);
        if (n->value < 0 && min_prec > LP_SUM) fprintf(out, "(%s)", buf);
        else fputs(buf, out);
        return;
    }
    if (n->op == OP_SYM) {
        if (n->name) print_name(out, n->name);
        else fprintf(out, "x_{%d}", n->index);
        return;
    }
    int p = prec_of(n), paren = p < min_prec;
    if (paren) fputs("\\left(", out);
    const DagNode *a = n->kid[0], *b = n->kid[1], *c = n->kid[2];
    switch (n->op) {
    case OP_ADD: operand(lx, a, LP_SUM); fputs(" + ", out); operand(lx, b, LP_SUM); break;
    case OP_SUB: operand(lx, a, LP_SUM); fputs(" - ", out); operand(lx, b, LP_PROD); break;
    case OP_MUL: operand(lx, a, LP_PROD); fputs(" \\, ", out); operand(lx, b, b->op == OP_NEG ? LP_ATOM : LP_PROD); break;
    case OP_DIV: fputs("\\frac{", out); operand(lx, a, 0); fputs("}{", out); operand(lx, b, 0); fputc('}', out); break;
    case OP_NEG: fputc('-', out); operand(lx, a, LP_NEG + 1); break;
    case OP_POW: fputc('{', out); operand(lx, a, LP_ATOM); fputs("}^{", out); operand(lx, b, 0); fputc('}', out); break;
    case OP_SQRT: fputs("\\sqrt{", out); operand(lx, a, 0); fputc('}', out); break;
    case OP_ABS: fputs("\\left|", out); operand(lx, a, 0); fputs("\\right|", out); break;
    case OP_EXP: func(lx, "\\exp", a); break;
    case OP_LOG: func(lx, "\\log", a); break;
    case OP_TANH: func(lx, "\\tanh", a); break;
    case OP_SIN: func(lx, "\\sin", a); break;
    case OP_COS: func(lx, "\\cos", a); break;
    case OP_MIN: case OP_MAX:
        fprintf(out, "\\%s\\left(", n->op == OP_MIN ? "min" : "max");
        operand(lx, a, 0); fputs(", ", out); operand(lx, b, 0); fputs("\\right)", out);
        break;
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_EQ: case OP_NE: {
        static const char *rel[] = {"<", "\\le", ">", "\\ge", "=", "\\ne"};
        fputc('[', out); operand(lx, a, LP_SUM);
        fprintf(out, " %s ", rel[n->op - OP_LT]);
        operand(lx, b, LP_SUM); fputc(']', out);
        break;
    }
    case OP_AND: case OP_OR:
        fputc('[', out); operand(lx, a, 0); fputs(n->op == OP_AND ? " \\land " : " \\lor ", out);
        operand(lx, b, 0); fputc(']', out);
        break;
    case OP_NOT: fputs("\\lnot ", out); operand(lx, a, LP_ATOM); break;
    case OP_SELECT:
        fputs("\\begin{cases} ", out); operand(lx, b, 0); fputs(" & ", out); operand(lx, a, 0);
        fputs(" \\ne 0 \\\\ ", out); operand(lx, c, 0); fputs(" & \\text{otherwise} \\end{cases}", out);
        break;
    default: {   // log1p, expm1, sigmoid, softplus, relu, sign
        char fname[48];
        snprintf(fname, sizeof fname, "\\operatorname{%s}", dag_op_info[n->op].name);
        func(lx, fname, a);
        break;
    }
    }
    if (paren) fputs("\\right)", out);
}

void derive_latex_group(FILE *out, const char *title, int n, const DagNode *const *roots,
                        const char *const *names)
{
    if (n <= 0) return;
    Latex lx = {out, NULL, 0, NULL, NULL};
    lx.list = dag_topo(n, roots, &lx.count);
    lx.uses = dag_realloc(NULL, (size_t)(lx.count + 1) * sizeof(int));
    lx.temp = dag_realloc(NULL, (size_t)(lx.count + 1) * sizeof(int));
    memset(lx.uses, 0, (size_t)(lx.count + 1) * sizeof(int));
    memset(lx.temp, 0, (size_t)(lx.count + 1) * sizeof(int));
    for (int i = 0; i < lx.count; i++)
        for (int k = 0; k < dag_op_info[lx.list[i]->op].arity; k++) lx.uses[lx.list[i]->kid[k]->slot]++;
    (void)title;   // the section comment above already names the group
    fputs("\\begin{align*}\n", out);
    int ntemp = 0;
    for (int i = 0; i < lx.count; i++) {
        const DagNode *x = lx.list[i];
        if (x->op == OP_CONST || x->op == OP_SYM || lx.uses[i] < 2) continue;
        lx.temp[i] = ++ntemp;
        fprintf(out, "t_{%d} &= ", ntemp);
        node(&lx, x, 0, 1);
        fputs(" \\\\\n", out);
    }
    for (int r = 0; r < n; r++) {
        print_name(out, names[r]);
        fputs(" &= ", out);
        node(&lx, roots[r], 0, lx.temp[roots[r]->slot] == 0);
        fputs(r + 1 < n ? " \\\\\n" : "\n", out);
    }
    fputs("\\end{align*}\n", out);
    dag_realloc(lx.list, 0);
    dag_realloc(lx.uses, 0);
    dag_realloc(lx.temp, 0);
}
