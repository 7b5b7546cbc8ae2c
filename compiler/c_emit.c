/* c_emit.c: the C backend, an optimizer as one self-contained C99 file.
 *
 * The kernels come from the same KernelPlan as the LLVM backend (codegen.h): the
 * nodes an output needs, by increasing id.  Each node becomes one statement
 *
 *     const double t12 = t7 * t9;
 *
 * named after its position in the plan.  Nodes that read no per-coordinate value
 * (constants, params, hypers, t, and ops on those only) are computed once before
 * the loop over i in [begin, end); the rest inside it, in plan order; then the
 * outputs are stored.  Param adjoints are summed into a local array of the kernel's
 * type in coordinate order, the fixed order the kernel contract asks for, and
 * written once after the loop.
 *
 * Semantics follow dag_eval_op exactly, in T: the operators of C, the libm function
 * of the precision (expf for float), and small static inline helpers for the ops C
 * lacks (sigmoid, softplus, relu, sign, min, max) with dag_eval.c's NaN and -0
 * behaviour.  Constants are hex-float literals, exact (f-suffixed for float, after
 * rounding the double to float as a float kernel's load would).  Only what the
 * plan reads is declared, so the file compiles with -Wall -Wextra -pedantic clean. */
#include "c_emit.h"

#include "checkpoint.h"
#include "commands.h"
#include "jit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen.h"
#include "derive.h"

/* The forward step is printed in the comment block up to this many operations;
 * beyond, the printout would drown the file's header (`hamc derive` shows it). */
#define SUMMARY_MAX_OPS 40

typedef struct Emitter {
    FILE *out;
    const StepProgram *s;
    const CEmitOptions *o;
    int f32;                 // float kernels
    const char *T;           // "float" or "double"
    const char *prec;        // "f32" or "f64"
    const char *fs;          // libm suffix: "f" or ""
    char opt[128], OPT[128]; // the optimizer's name, and upper-cased for macros
    double *params, *hypers; // the values to bake in
    int err;
} Emitter;

/* Helpers for the ops C lacks, one per op and precision, written out as dag_eval.c
 * has them.  Each is guarded so two emitted files can share a translation unit. */
enum { H_SIGMOID, H_SOFTPLUS, H_RELU, H_SIGN, H_MIN, H_MAX, H_COUNT };

static const char *const helper_name[H_COUNT] = {"sigmoid", "softplus", "relu", "sign", "min", "max"};

/* In the bodies, $T is the type, $F the libm suffix and $L the literal suffix. */
static const char *const helper_body[H_COUNT] = {
    /* sigmoid(a) = 1 / (1 + e^-a), via e^a / (1 + e^a) for a < 0: no overflow. */
    "{\n    if (a >= 0) return 1 / (1 + exp$F(-a));\n    const $T e = exp$F(a);\n"
    "    return e / (1 + e);\n}\n",
    /* softplus(a) = max(a, 0) + log1p(e^-|a|). */
    "{\n    return a > 0 ? a + log1p$F(exp$F(-a)) : log1p$F(exp$F(a));\n}\n",
    /* relu: NaN stays NaN, relu(-0) = -0 (x86: one maxps). */
    "{\n    return a < 0 ? 0.0$L : a;\n}\n",
    /* sign: -1, 0, 1; sign(-0) = -0, sign(NaN) = NaN. */
    "{\n    return a > 0 ? 1.0$L : a < 0 ? -1.0$L : a;\n}\n",
    /* min as torch.minimum: NaN wins; min(-0, +0) = -0 in either order. */
    "{\n    if (isnan(a) || isnan(b)) return ($T)NAN;\n    if (a != b) return a < b ? a : b;\n"
    "    return signbit(a) ? a : b;\n}\n",
    /* max as torch.maximum: NaN wins; max(-0, +0) = +0 in either order. */
    "{\n    if (isnan(a) || isnan(b)) return ($T)NAN;\n    if (a != b) return a > b ? a : b;\n"
    "    return signbit(a) ? b : a;\n}\n",
};

static int helper_of(DagOp op)
{
    switch (op) {
    case OP_SIGMOID: return H_SIGMOID;
    case OP_SOFTPLUS: return H_SOFTPLUS;
    case OP_RELU: return H_RELU;
    case OP_SIGN: return H_SIGN;
    case OP_MIN: return H_MIN;
    case OP_MAX: return H_MAX;
    default: return -1;
    }
}

/* ---- literals and names ---- */

/* lit: the exact literal of v in the kernel's type. */
static const char *lit(const Emitter *E, double v, char *buf, size_t size)
{
    double x = E->f32 ? (double)(float)v : v;
    if (isnan(x)) snprintf(buf, size, "(%s)NAN", E->T);
    else if (isinf(x)) snprintf(buf, size, "%sHUGE_VAL%s", x < 0 ? "-" : "", E->f32 ? "F" : "");
    else snprintf(buf, size, "%a%s", x, E->f32 ? "f" : "");
    return buf;
}

/* One scalar of a symbol as a C expression inside the loop (or before it). */
static const char *sym_expr(Emitter *E, const DagNode *n, char *buf, size_t size)
{
    int k = n->index, ns = E->s->nstate;
    switch (n->cls) {
    case SYM_STATE: snprintf(buf, size, "state[%d * stride + i]", k); break;
    case SYM_PARAM: snprintf(buf, size, "params[%d]", k); break;
    case SYM_HYPER: snprintf(buf, size, "hypers[%d]", k); break;
    case SYM_INPUT:
        if (k == INPUT_G) snprintf(buf, size, "g[i]");
        else if (k == INPUT_THETA) snprintf(buf, size, "theta[i]");
        else snprintf(buf, size, E->f32 ? "(float)a->t" : "a->t");
        break;
    case SYM_SEED:
        if (k < ns) snprintf(buf, size, "state_next_bar[%d * stride + i]", k);
        else snprintf(buf, size, "update_bar[i]");
        break;
    default:
        fprintf(stderr, "hamc emit-c: no kernel argument holds symbol %s\n", n->name ? n->name : "?");
        E->err = 1;
        snprintf(buf, size, "0");
    }
    return buf;
}

/* uniform: the same for every coordinate (no state, g, theta or seed below it). */
static int leaf_uniform(const DagNode *n)
{
    if (n->op == OP_CONST) return 1;
    return n->cls == SYM_PARAM || n->cls == SYM_HYPER || (n->cls == SYM_INPUT && n->index == INPUT_T);
}

static char *plan_uniform(const KernelPlan *p)
{
    char *u = calloc((size_t)p->count + 1, 1);
    for (int k = 0; k < p->count; k++) {
        const DagNode *n = p->nodes[k];
        int arity = dag_op_info[n->op].arity;
        u[k] = arity == 0 ? (char)leaf_uniform(n) : 1;
        for (int j = 0; j < arity; j++) u[k] &= u[p->kid[k][j]];
    }
    return u;
}

/* ---- one node ---- */

static void emit_node(Emitter *E, const KernelPlan *p, int k, const char *indent)
{
    const DagNode *n = p->nodes[k];
    FILE *out = E->out;
    char b[64];
    int *kid = p->kid[k];
    const char *fs = E->fs, *T = E->T;
    fprintf(out, "%sconst %s t%d = ", indent, T, k);
    switch (n->op) {
    case OP_CONST: {
        char shown[40];
        dag_format_const(shown, sizeof shown, n->value);
        fprintf(out, "%s; /* %s */\n", lit(E, n->value, b, sizeof b), shown);
        return;
    }
    case OP_SYM: fprintf(out, "%s;", sym_expr(E, n, b, sizeof b)); break;
    case OP_ADD: fprintf(out, "t%d + t%d;", kid[0], kid[1]); break;
    case OP_SUB: fprintf(out, "t%d - t%d;", kid[0], kid[1]); break;
    case OP_MUL: fprintf(out, "t%d * t%d;", kid[0], kid[1]); break;
    case OP_DIV: fprintf(out, "t%d / t%d;", kid[0], kid[1]); break;
    case OP_NEG: fprintf(out, "-t%d;", kid[0]); break;
    case OP_POW: fprintf(out, "pow%s(t%d, t%d);", fs, kid[0], kid[1]); break;
    case OP_EXP: case OP_LOG: case OP_LOG1P: case OP_EXPM1: case OP_SQRT: case OP_TANH:
    case OP_SIN: case OP_COS:
        fprintf(out, "%s%s(t%d);", dag_op_info[n->op].name, fs, kid[0]);
        break;
    case OP_ABS: fprintf(out, "fabs%s(t%d);", fs, kid[0]); break;
    case OP_SIGMOID: case OP_SOFTPLUS: case OP_RELU: case OP_SIGN:
        fprintf(out, "ham_%s_%s(t%d);", helper_name[helper_of(n->op)], E->prec, kid[0]);
        break;
    case OP_MIN: case OP_MAX:
        fprintf(out, "ham_%s_%s(t%d, t%d);", helper_name[helper_of(n->op)], E->prec, kid[0], kid[1]);
        break;
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_EQ: case OP_NE:
        fprintf(out, "(%s)(t%d %s t%d);", T, kid[0], dag_op_info[n->op].infix, kid[1]);
        break;
    case OP_AND: fprintf(out, "(%s)(t%d != 0 && t%d != 0);", T, kid[0], kid[1]); break;
    case OP_OR: fprintf(out, "(%s)(t%d != 0 || t%d != 0);", T, kid[0], kid[1]); break;
    case OP_NOT: fprintf(out, "(%s)(t%d == 0);", T, kid[0]); break;
    case OP_SELECT: fprintf(out, "t%d != 0 ? t%d : t%d;", kid[0], kid[1], kid[2]); break;
    case OP_COUNT:
        fprintf(stderr, "hamc emit-c: internal error: op %d in a plan\n", (int)n->op);
        E->err = 1;
        break;
    }
    fputc('\n', out);
}

/* ---- kernels ---- */

/* What a plan reads, so only those arguments are declared. */
typedef struct Reads {
    int state, g, theta, params, hypers, xbar, ubar, stride;
} Reads;

static Reads plan_reads(const KernelPlan *p)
{
    Reads r = {0};
    for (int k = 0; k < p->count; k++) {
        const DagNode *n = p->nodes[k];
        if (n->op != OP_SYM) continue;
        r.state |= n->cls == SYM_STATE;
        r.params |= n->cls == SYM_PARAM;
        r.hypers |= n->cls == SYM_HYPER;
        r.g |= n->cls == SYM_INPUT && n->index == INPUT_G;
        r.theta |= n->cls == SYM_INPUT && n->index == INPUT_THETA;
        r.xbar |= n->cls == SYM_SEED && n->index < p->nstate;
        r.ubar |= n->cls == SYM_SEED && n->index == p->nstate;
    }
    r.stride = r.state || r.xbar || p->nstate > 0;
    return r;
}

static void emit_arg(Emitter *E, int cond, int out, const char *name)
{
    if (cond) fprintf(E->out, "    %s%s *%s = (%s%s *)a->%s;\n", out ? "" : "const ", E->T, name,
                      out ? "" : "const ", E->T, name);
}

/* The outputs of a kernel's loop body, stored after every node is computed (so
 * state_next may alias state). */
static void emit_stores(Emitter *E, const KernelPlan *p, const int *acc_of)
{
    for (int o = 0; o < p->nout; o++) {
        const KernelOut *ko = &p->outs[o];
        int t = p->out_pos[o];
        switch (ko->kind) {
        case OUT_NEXT: fprintf(E->out, "        state_next[%d * stride + i] = t%d;\n", ko->index, t); break;
        case OUT_UPDATE: fprintf(E->out, "        update[i] = t%d;\n", t); break;
        case OUT_STATE_BAR: fprintf(E->out, "        state_bar[%d * stride + i] = t%d;\n", ko->index, t); break;
        case OUT_PARAM_BAR: fprintf(E->out, "        acc[%d] += t%d;\n", acc_of[ko->index], t); break;
        case OUT_INPUT_BAR: {
            const char *arr = ko->index ? "theta_bar" : "g_bar";
            fprintf(E->out, "        if (%s) %s[i] = t%d;\n", arr, arr, t);
            break;
        }
        default: break;   // stage-kernel outputs: the C backend emits whole steps only
        }
    }
}

static void emit_kernel(Emitter *E, const StepProgram *s, int adjoint)
{
    KernelPlan p;
    codegen_plan(s, adjoint, &p);
    FILE *out = E->out;
    char name[160];
    codegen_symbol_name(name, sizeof name, E->opt, adjoint, E->o->precision);
    Reads r = plan_reads(&p);
    char *uni = plan_uniform(&p);
    // acc_of[param]: its accumulator, or -1 for a param whose adjoint is 0.
    int *acc_of = malloc(((size_t)s->nparam + 1) * sizeof *acc_of), nacc = 0;
    for (int k = 0; k < s->nparam; k++) acc_of[k] = -1;
    for (int o = 0; o < p.nout; o++)
        if (p.outs[o].kind == OUT_PARAM_BAR) acc_of[p.outs[o].index] = nacc++;

    fprintf(out, "void %s(const HamStepArgs *a)\n{\n", name);
    if (p.nout == 0 && (!adjoint || s->nparam == 0)) {
        fprintf(out, "    (void)a; /* nothing to compute: no state and no param */\n}\n\n");
        goto done;
    }
    emit_arg(E, r.state, 0, "state");
    emit_arg(E, r.g, 0, "g");
    emit_arg(E, r.theta, 0, "theta");
    emit_arg(E, r.params, 0, "params");
    emit_arg(E, r.hypers, 0, "hypers");
    emit_arg(E, r.xbar, 0, "state_next_bar");
    emit_arg(E, r.ubar, 0, "update_bar");
    emit_arg(E, !adjoint && s->nstate > 0, 1, "state_next");
    emit_arg(E, !adjoint, 1, "update");
    emit_arg(E, adjoint && s->nstate > 0, 1, "state_bar");
    emit_arg(E, adjoint && s->nparam > 0, 1, "param_bar");
    emit_arg(E, adjoint, 1, "g_bar");       // may be NULL: not wanted
    emit_arg(E, adjoint, 1, "theta_bar");
    if (r.stride) fprintf(out, "    const int64_t stride = a->stride;\n");
    if (nacc > 0) {
        fprintf(out, "    %s acc[%d]; /* param adjoints, summed in coordinate order */\n", E->T, nacc);
        fprintf(out, "    for (int k = 0; k < %d; k++) acc[k] = 0;\n", nacc);
    }
    int hoisted = 0;
    for (int k = 0; k < p.count; k++) hoisted += uni[k];
    if (hoisted) fprintf(out, "    /* the same for every coordinate */\n");
    for (int k = 0; k < p.count; k++)
        if (uni[k]) emit_node(E, &p, k, "    ");
    if (p.nout > 0) {
        fprintf(out, "    for (int64_t i = a->begin; i < a->end; i++) {\n");
        for (int k = 0; k < p.count; k++)
            if (!uni[k]) emit_node(E, &p, k, "        ");
        emit_stores(E, &p, acc_of);
        fprintf(out, "    }\n");
    }
    for (int k = 0; adjoint && k < s->nparam; k++) {
        if (acc_of[k] >= 0) fprintf(out, "    param_bar[%d] = acc[%d];\n", k, acc_of[k]);
        else fprintf(out, "    param_bar[%d] = 0;\n", k);
    }
    fprintf(out, "}\n\n");
done:
    free(uni);
    free(acc_of);
    codegen_plan_free(&p);
}

/* ---- the surroundings: comment block, struct, sizes, data, init and step ---- */

/* Write text as comment lines " * prefix<line>", breaking any comment terminator. */
static void comment_text(FILE *out, const char *prefix, const char *text)
{
    fprintf(out, " * %s", prefix);
    for (const char *c = text; *c; c++) {
        if (*c == '\n') {
            if (c[1]) fprintf(out, "\n * %s", prefix);
            continue;
        }
        fputc(*c, out);
        if (c[0] == '*' && c[1] == '/') fputc(' ', out);
    }
    fputc('\n', out);
}

static void emit_step_summary(Emitter *E)
{
    const StepProgram *s = E->s;
    int n = s->nstate + 1;
    const DagNode **roots = malloc((size_t)n * sizeof *roots);
    const char **names = malloc((size_t)n * sizeof *names);
    char **owned = malloc((size_t)n * sizeof *owned);
    for (int k = 0; k < s->nstate; k++) {
        roots[k] = s->next[k];
        size_t len = strlen(s->state_names[k]) + 2;
        owned[k] = malloc(len);
        snprintf(owned[k], len, "%s'", s->state_names[k]);
        names[k] = owned[k];
    }
    roots[s->nstate] = s->update;
    names[s->nstate] = "update";
    int ops = dag_count(n, roots);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = ops <= SUMMARY_MAX_OPS ? open_memstream(&buf, &len) : NULL;
    if (mem) {
        dag_print_roots(mem, n, roots, names);
        fclose(mem);
        fprintf(E->out, " * The step, per coordinate (x' is a state after the step; %d operations):\n", ops);
        comment_text(E->out, "    ", buf);
    } else {
        fprintf(E->out, " * The step: %d operations per coordinate (`hamc derive` prints them).\n", ops);
    }
    free(buf);
    for (int k = 0; k < s->nstate; k++) free(owned[k]);
    free(owned);
    free(roots);
    free(names);
}

static void emit_list(FILE *out, const char *title, int n, const char *const *names, const double *values)
{
    fprintf(out, " * %s:", title);
    int col = (int)strlen(title) + 4;
    for (int k = 0; k < n; k++) {
        char item[160], shown[40];
        if (values) dag_format_const(shown, sizeof shown, values[k]);
        if (values) snprintf(item, sizeof item, " %s = %s", names[k], shown);
        else snprintf(item, sizeof item, " %s", names[k]);
        if (col + (int)strlen(item) > 86) fprintf(out, "\n *   "), col = 5;
        fprintf(out, "%s%s", item, k + 1 < n ? "," : "");
        col += (int)strlen(item) + 1;
    }
    fprintf(out, "%s\n", n ? "" : " none");
}

static void emit_comment(Emitter *E)
{
    const StepProgram *s = E->s;
    const CEmitOptions *o = E->o;
    FILE *out = E->out;
    const char *p = E->prec, *on = E->opt;
    fprintf(out, "/* The optimizer `%s` as C99 (%s%s), written by `hamc emit-c`; do not edit.\n *\n",
            on, o->header ? "declarations, " : "", p);
    fprintf(out, " * spec:        %s\n", o->spec_path ? o->spec_path : "(not given)");
    if (o->checkpoint_path) fprintf(out, " * params:      from the checkpoint %s\n", o->checkpoint_path);
    else if (o->params) fprintf(out, " * params:      given by the caller\n");
    else fprintf(out, " * params:      the spec's initializers (random ones drawn with seed %llu)\n", o->seed);
    fprintf(out, " * precision:   %s (%s); adjoint kernel: %s\n", E->T, p, o->with_adjoint ? "yes" : "no");
    if (s->info->hamiltonian)
        fprintf(out, " * dynamics:    port-Hamiltonian, dx/dt = (J - R) dH/dx + G u, integrator %s, dt = %.17g\n",
                sema_integrator_name(s->integrator), s->dt);
    else
        fprintf(out, " * dynamics:    explicit `next` values\n");
    fprintf(out, " *\n");
    char title[80];
    snprintf(title, sizeof title, "State, per coordinate (NSTATE = %d)", s->nstate);
    emit_list(out, title, s->nstate, s->state_names, NULL);
    snprintf(title, sizeof title, "Params, shared (NPARAM = %d, baked in)", s->nparam);
    emit_list(out, title, s->nparam, s->param_names, NULL);
    snprintf(title, sizeof title, "Hypers (NHYPER = %d, defaults baked in)", s->nhyper);
    emit_list(out, title, s->nhyper, s->hyper_names, E->hypers);
    fprintf(out, " *\n");
    emit_step_summary(E);
    fprintf(out,
            " *\n"
            " * How to call it (T = %s, n coordinates, t counted from 1):\n"
            " *     T state[HAM_%s_NSTATE * n], scratch[(HAM_%s_NSTATE + 1) * n];\n"
            " *     ham_%s_init_state_%s(state, n, n);\n"
            " *     for (t = 1; ...; t++) {\n"
            " *         compute the gradient g[n] at theta[n];\n"
            " *         ham_%s_step_%s(theta, g, state, scratch, n, t);   (theta += update)\n"
            " *     }\n"
            " * For other hypers or params, or blocks of coordinates, fill a HamStepArgs and\n"
            " * call ham_%s_forward_%s: state scalar s of coordinate i is state[s * stride + i];\n"
            " * params and hypers are arrays of T.  The adjoint reads state_next_bar and\n"
            " * update_bar, writes state_bar and param_bar (the sum over [begin, end) in\n"
            " * coordinate order, written, not accumulated), and g_bar and theta_bar, the\n"
            " * adjoints of the inputs, unless NULL.  See runtime/kernel.h. */\n\n",
            E->T, E->OPT, E->OPT, on, p, on, p, on, p);
}

static void emit_struct(FILE *out)
{
    fprintf(out,
            "/* The kernel ABI of runtime/kernel.h; kernel.h's definition wins when it came first. */\n"
            "#if !defined(HAM_KERNEL_H) && !defined(HAM_STEP_ARGS_DEFINED)\n"
            "#define HAM_STEP_ARGS_DEFINED\n"
            "typedef struct HamStepArgs {\n"
            "    int64_t begin, end;          /* coordinates [begin, end) */\n"
            "    int64_t stride;              /* distance between two state arrays, >= end */\n"
            "    const void *state;           /* [S * stride] */\n"
            "    const void *g, *theta;       /* [n] */\n"
            "    double t;                    /* the step, from 1 */\n"
            "    const void *params;          /* [P] */\n"
            "    const void *hypers;          /* [H] */\n"
            "    void *state_next;            /* forward: [S * stride] */\n"
            "    void *update;                /* forward: [n] */\n"
            "    const void *state_next_bar;  /* adjoint: [S * stride] */\n"
            "    const void *update_bar;      /* adjoint: [n] */\n"
            "    void *state_bar;             /* adjoint: [S * stride] */\n"
            "    void *param_bar;             /* adjoint: [P], this block's sum */\n"
            "    int64_t aux_stride;          /* stage kernels only (not emitted) */\n"
            "    void *aux, *aux_bar;\n"
            "    void *g_bar, *theta_bar;     /* adjoint: [n] each, or NULL (not written) */\n"
            "} HamStepArgs;\n"
            "#endif\n\n");
}

static void emit_sizes(Emitter *E)
{
    const StepProgram *s = E->s;
    const char *N = E->OPT;
    fprintf(E->out, "/* Sizes, in scalars. */\n#ifndef HAM_%s_NSTATE\n", N);
    fprintf(E->out, "#define HAM_%s_NSTATE %d\n#define HAM_%s_NPARAM %d\n#define HAM_%s_NHYPER %d\n#endif\n\n",
            N, s->nstate, N, s->nparam, N, s->nhyper);
}

static void emit_prototypes(Emitter *E)
{
    const char *on = E->opt, *p = E->prec, *T = E->T;
    FILE *out = E->out;
    fprintf(out, "void ham_%s_forward_%s(const HamStepArgs *a);\n", on, p);
    if (E->o->with_adjoint) fprintf(out, "void ham_%s_adjoint_%s(const HamStepArgs *a);\n", on, p);
    fprintf(out, "void ham_%s_init_state_%s(%s *state, int64_t n, int64_t stride);\n", on, p, T);
    fprintf(out, "/* scratch: (HAM_%s_NSTATE + 1) * n elements */\n", E->OPT);
    fprintf(out, "void ham_%s_step_%s(%s *theta, const %s *g, %s *state, %s *scratch, int64_t n, double t);\n\n",
            on, p, T, T, T, T);
}

/* put_template: text with $T, $F and $L replaced by the type, libm and literal suffix. */
static void put_template(Emitter *E, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (c[0] == '$' && (c[1] == 'T' || c[1] == 'F' || c[1] == 'L')) {
            fputs(c[1] == 'T' ? E->T : c[1] == 'F' ? E->fs : E->f32 ? "f" : "", E->out);
            c++;
        } else {
            fputc(*c, E->out);
        }
    }
}

static void emit_helpers(Emitter *E)
{
    int used[H_COUNT] = {0};
    for (int adjoint = 0; adjoint <= E->o->with_adjoint; adjoint++) {
        KernelPlan p;
        codegen_plan(E->s, adjoint, &p);
        for (int k = 0; k < p.count; k++) {
            int h = helper_of(p.nodes[k]->op);
            if (h >= 0) used[h] = 1;
        }
        codegen_plan_free(&p);
    }
    for (int h = 0; h < H_COUNT; h++) {
        if (!used[h]) continue;
        int binary = h == H_MIN || h == H_MAX;
        fprintf(E->out, "#ifndef HAM_HELPER_%s_%s\n#define HAM_HELPER_%s_%s\n", helper_name[h], E->prec,
                helper_name[h], E->prec);
        fprintf(E->out, "static inline %s ham_%s_%s(%s a%s%s)\n", E->T, helper_name[h], E->prec, E->T,
                binary ? ", " : "", binary ? (E->f32 ? "float b" : "double b") : "");
        put_template(E, helper_body[h]);
        fprintf(E->out, "#endif\n\n");
    }
}

static void emit_array(Emitter *E, const char *what, int n, const double *v, const char *const *names)
{
    if (n == 0) return;
    char b[64], shown[40];
    fprintf(E->out, "static const %s ham_%s_%s_%s[%d] = {\n", E->T, E->opt, what, E->prec, n);
    for (int k = 0; k < n; k++) {
        dag_format_const(shown, sizeof shown, v[k]);
        fprintf(E->out, "    %s, /* %s = %s */\n", lit(E, v[k], b, sizeof b), names[k], shown);
    }
    fprintf(E->out, "};\n\n");
}

static void emit_init_state(Emitter *E, const double *init)
{
    const StepProgram *s = E->s;
    char b[64];
    fprintf(E->out, "/* The initial state of n coordinates, state scalar k at state[k * stride + i]. */\n");
    fprintf(E->out, "void ham_%s_init_state_%s(%s *state, int64_t n, int64_t stride)\n{\n", E->opt, E->prec, E->T);
    if (s->nstate == 0) {
        fprintf(E->out, "    (void)state;\n    (void)n;\n    (void)stride;\n}\n\n");
        return;
    }
    fprintf(E->out, "    for (int64_t i = 0; i < n; i++) {\n");
    for (int k = 0; k < s->nstate; k++)
        fprintf(E->out, "        state[%d * stride + i] = %s; /* %s */\n", k, lit(E, init[k], b, sizeof b),
                s->state_names[k]);
    fprintf(E->out, "    }\n}\n\n");
}

static void emit_step(Emitter *E)
{
    const StepProgram *s = E->s;
    const char *on = E->opt, *p = E->prec, *T = E->T;
    FILE *out = E->out;
    fprintf(out, "/* One step on n coordinates with the baked params and hypers: theta += update.\n"
                 " * state: HAM_%s_NSTATE * n elements (stride n); scratch: (HAM_%s_NSTATE + 1) * n. */\n",
            E->OPT, E->OPT);
    fprintf(out, "void ham_%s_step_%s(%s *theta, const %s *g, %s *state, %s *scratch, int64_t n, double t)\n{\n",
            on, p, T, T, T, T);
    fprintf(out, "    HamStepArgs a;\n    memset(&a, 0, sizeof a);\n");
    fprintf(out, "    a.begin = 0;\n    a.end = n;\n    a.stride = n;\n");
    fprintf(out, "    a.state = state;\n    a.g = g;\n    a.theta = theta;\n    a.t = t;\n");
    if (s->nparam) fprintf(out, "    a.params = ham_%s_params_%s;\n", on, p);
    if (s->nhyper) fprintf(out, "    a.hypers = ham_%s_hypers_%s;\n", on, p);
    fprintf(out, "    a.state_next = scratch;\n    a.update = scratch + (int64_t)%d * n;\n", s->nstate);
    fprintf(out, "    ham_%s_forward_%s(&a);\n", on, p);
    fprintf(out, "    for (int64_t i = 0; i < n; i++) theta[i] += scratch[(int64_t)%d * n + i];\n", s->nstate);
    if (s->nstate) fprintf(out, "    memcpy(state, scratch, (size_t)%d * (size_t)n * sizeof *state);\n", s->nstate);
    fprintf(out, "}\n");
}

/* ---- the file ---- */

void c_emit_default_options(CEmitOptions *o)
{
    memset(o, 0, sizeof *o);
    o->precision = HAM_F64;
    o->seed = 1;
}

/* The values to bake in: given, or the initializers (random ones from the seed). */
static int baked_values(Emitter *E)
{
    const StepProgram *s = E->s;
    const CEmitOptions *o = E->o;
    E->params = calloc((size_t)s->nparam + 1, sizeof(double));
    E->hypers = calloc((size_t)s->nhyper + 1, sizeof(double));
    memcpy(E->hypers, o->hypers ? o->hypers : s->hyper_values, (size_t)s->nhyper * sizeof(double));
    if (o->params) {
        memcpy(E->params, o->params, (size_t)s->nparam * sizeof(double));
        return 0;
    }
    Rng rng = {o->seed};
    if (step_initial_params(s, E->params, rng_draw, &rng) != 0) {
        fprintf(stderr, "hamc emit-c: a param's initializer is not constant\n");
        return -1;
    }
    return 0;
}

static void emit_body(Emitter *E, const double *init)
{
    FILE *out = E->out;
    const StepProgram *s = E->s;
    if (E->o->header) {
        fprintf(out, "#ifndef HAM_%s_%s_H\n#define HAM_%s_%s_H\n\n#include <stdint.h>\n\n", E->OPT,
                E->f32 ? "F32" : "F64", E->OPT, E->f32 ? "F32" : "F64");
        emit_struct(out);
        emit_sizes(E);
        emit_prototypes(E);
        fprintf(out, "#endif\n");
        return;
    }
    fprintf(out, "#include <math.h>\n#include <stdint.h>\n#include <string.h>\n\n");
    emit_struct(out);
    emit_sizes(E);
    emit_prototypes(E);
    emit_helpers(E);
    emit_array(E, "params", s->nparam, E->params, s->param_names);
    emit_array(E, "hypers", s->nhyper, E->hypers, s->hyper_names);
    fprintf(out, "/* forward: state_next and update of coordinates [begin, end). */\n");
    emit_kernel(E, s, 0);
    if (E->o->with_adjoint) {
        fprintf(out, "/* adjoint: state_bar of [begin, end) and param_bar, their sum in coordinate order. */\n");
        emit_kernel(E, s, 1);
    }
    emit_init_state(E, init);
    emit_step(E);
}

int c_emit(FILE *out, const StepProgram *s, const CEmitOptions *o)
{
    Emitter E = {.out = out, .s = s, .o = o, .f32 = o->precision == HAM_F32};
    E.T = E.f32 ? "float" : "double";
    E.prec = E.f32 ? "f32" : "f64";
    E.fs = E.f32 ? "f" : "";
    snprintf(E.opt, sizeof E.opt, "%s", s->info->opt->name);
    for (size_t k = 0; k < sizeof E.OPT; k++) E.OPT[k] = (char)toupper((unsigned char)E.opt[k]);
    if (o->with_adjoint && !s->adj_state) {
        fprintf(stderr, "hamc emit-c: the adjoint was not derived (built with no_adjoint)\n");
        return -1;
    }
    double *init = calloc((size_t)s->nstate + 1, sizeof(double));
    int rc = baked_values(&E);
    if (rc == 0 && step_initial_state(s, init) != 0) {
        fprintf(stderr, "hamc emit-c: a state's initial value is not constant\n");
        rc = -1;
    }
    if (rc == 0) {
        emit_comment(&E);
        emit_body(&E, init);
        rc = E.err || ferror(out) ? -1 : 0;
    }
    free(init);
    free(E.params);
    free(E.hypers);
    return rc;
}

/* ---- the command ---- */


typedef struct EmitArgs {
    const char *path, *opt, *out, *params;
    CEmitOptions o;
} EmitArgs;

static int parse_emit_args(int argc, char **argv, EmitArgs *a)
{
    memset(a, 0, sizeof *a);
    c_emit_default_options(&a->o);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(arg, "--float") == 0) a->o.precision = HAM_F32;
        else if (strcmp(arg, "--double") == 0) a->o.precision = HAM_F64;
        else if (strcmp(arg, "--adjoint") == 0) a->o.with_adjoint = 1;
        else if (strcmp(arg, "--header") == 0) a->o.header = 1;
        else if (strcmp(arg, "--opt") == 0 && val) a->opt = argv[++i];
        else if (strcmp(arg, "-o") == 0 && val) a->out = argv[++i];
        else if (strcmp(arg, "--params") == 0 && val) a->params = argv[++i];
        else if (strcmp(arg, "--seed") == 0 && val) {
            a->o.seed = strtoull(argv[++i], &end, 10);
            if (*end) return cmd_usage("emit-c", "--seed needs an integer, not '%s'", val);
        } else if (arg[0] == '-' && arg[1]) return cmd_usage("emit-c", "unknown option or missing value: '%s'", arg);
        else if (a->path) return cmd_usage("emit-c", "takes one FILE, got also '%s'", arg);
        else a->path = arg;
    }
    if (!a->path) return cmd_usage("emit-c", "%sneeds a FILE", "");
    a->o.spec_path = a->path;
    return 0;
}

/* The optimizer to emit: the one named, or the main file's only one. */
static Optimizer *pick_optimizer(Program *p, const char *name)
{
    Optimizer *found = NULL;
    int n = 0;
    for (int i = 0; i < p->noptimizers; i++) {
        Optimizer *o = p->optimizers[i];
        if (name ? strcmp(o->name, name) == 0 : o->module == p->main) found = o, n++;
    }
    if (n == 0 && name) fprintf(stderr, "hamc emit-c: no optimizer '%s'\n", name);
    if (n == 0 && !name) fprintf(stderr, "hamc emit-c: the file declares no optimizer\n");
    if (n > 1) fprintf(stderr, "hamc emit-c: the file declares %d optimizers: choose one with --opt\n", n);
    return n == 1 ? found : NULL;
}

/* Write to a temporary file and rename, so a failed run leaves no half file. */
static int emit_to_path(const StepProgram *s, const CEmitOptions *o, const char *path)
{
    if (!path) return c_emit(stdout, s, o) == 0 && fflush(stdout) == 0 ? 0 : -1;
    struct stat st;   // renaming over /dev/full or a FIFO would replace the node itself
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "hamc emit-c: %s: not a regular file (-o writes a temp file and renames it over OUT)\n", path);
        return -1;
    }
    size_t len = strlen(path) + 8;
    char *tmp = malloc(len);
    snprintf(tmp, len, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (!f) fprintf(stderr, "hamc emit-c: cannot write %s: %s\n", tmp, strerror(errno));
    else {
        rc = c_emit(f, s, o);
        int failed = ferror(f);
        errno = 0;
        if (fclose(f) != 0 || failed) {   // a full disk shows here
            fprintf(stderr, "hamc emit-c: cannot write %s: %s\n", tmp, strerror(errno ? errno : EIO));
            rc = -1;
        }
        if (rc == 0 && rename(tmp, path) != 0) rc = -1, fprintf(stderr, "hamc emit-c: cannot write %s\n", path);
        if (rc != 0) remove(tmp);
    }
    free(tmp);
    return rc;
}

/* --params CKPT: bake in the checkpoint's best params (or its last ones) and its
 * hyper values, after checking it was made for this spec. */
static int load_checkpoint(EmitArgs *a, const StepProgram *s, double **params, double **hypers)
{
    Checkpoint ck;
    char err[512];
    int rc = ckpt_read(a->params, &ck, err, sizeof err);
    if (rc == 0) rc = ckpt_check_spec(&ck, a->params, codegen_hash(s), s->info->opt->name, err, sizeof err);
    if (rc == 0 && ck.n_params != (size_t)s->nparam) {
        snprintf(err, sizeof err, "%s: %zu params, but '%s' has %d", a->params, ck.n_params,
                 s->info->opt->name, s->nparam);
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, "hamc emit-c: %s\n", err);
        ckpt_free(&ck);
        return -1;
    }
    *params = malloc((ck.n_params + 1) * sizeof **params);
    memcpy(*params, ck.best ? ck.best : ck.params, ck.n_params * sizeof **params);
    *hypers = malloc((size_t)(s->nhyper + 1) * sizeof **hypers);
    memcpy(*hypers, s->hyper_values, (size_t)s->nhyper * sizeof **hypers);
    for (size_t i = 0; i < ck.n_hypers; i++)
        for (int h = 0; h < s->nhyper; h++)
            if (strcmp(ck.hypers[i].name, s->hyper_names[h]) == 0) (*hypers)[h] = ck.hypers[i].value;
    a->o.params = *params;
    a->o.hypers = *hypers;
    a->o.checkpoint_path = a->params;
    ckpt_free(&ck);
    return 0;
}

int c_emit_command(int argc, char **argv)
{
    EmitArgs a;
    int rc = parse_emit_args(argc, argv, &a);
    if (rc) return rc;
    Arena arena;
    Diag diag;
    arena_init(&arena);
    diag_init(&diag, &arena, stderr);
    diag.warnings_off = 1;   // `check` is where warnings are shown
    Program *prog = load_program(&arena, &diag, a.path, NULL, 1);
    if (prog->main) sema_program(prog);
    int status = 1;
    Optimizer *opt = diag.nerrors ? NULL : pick_optimizer(prog, a.opt);
    if (opt) {
        StepOptions so;
        step_default_options(&so);
        so.no_adjoint = !a.o.with_adjoint;
        StepProgram *s = step_build(prog, opt->info, &arena, &diag, &so);
        double *params = NULL, *hypers = NULL;
        if (s && a.params && load_checkpoint(&a, s, &params, &hypers) != 0) {
            step_free(s);
            s = NULL;
        }
        if (s && emit_to_path(s, &a.o, a.out) == 0) status = 0;
        free(params);
        free(hypers);
        step_free(s);
    }
    arena_free(&arena);
    return status;
}
