/* fmt.c: the canonical printer.
 *
 * Expressions print with the fewest parentheses that parse back to the same tree,
 * following the grammar's precedence levels (ham.y):
 *     1 if-then-else, 2 or, 3 and, 4 not, 5 comparisons, 6 + -, 7 * / @,
 *     8 unary minus, 9 ^ (right-associative), 10 names, numbers, calls, indexing.
 * Binary operators get spaces around them, except ^.  Declarations print one per line
 * in source order, lists (`hyper a = 1, b = 2`) as written; one blank line stands
 * where the source had any.  Comments are kept: a comment on a line of its own is
 * printed before the declaration that follows it, one after code on the same line
 * stays at the end of that line. */
#include "fmt.h"

#include <string.h>

enum { PREC_COND = 1, PREC_OR, PREC_AND, PREC_NOT, PREC_CMP, PREC_ADD, PREC_MUL,
       PREC_NEG, PREC_POW, PREC_ATOM };

static int binary_prec(AstOp op)
{
    switch (op) {
    case AOP_OR: return PREC_OR;
    case AOP_AND: return PREC_AND;
    case AOP_LESS: case AOP_GREATER: case AOP_LESS_EQ: case AOP_GREATER_EQ:
    case AOP_EQUAL: case AOP_NOT_EQUAL: return PREC_CMP;
    case AOP_PLUS: case AOP_MINUS: return PREC_ADD;
    case AOP_TIMES: case AOP_DIVIDE: case AOP_MATMUL: return PREC_MUL;
    case AOP_POWER: return PREC_POW;
    default: return PREC_ATOM;
    }
}

static int expr_prec(const Expr *e)
{
    switch (e->kind) {
    case EX_COND: return PREC_COND;
    case EX_UNARY: return e->op == AOP_NOT ? PREC_NOT : PREC_NEG;
    case EX_BINARY: return binary_prec(e->op);
    default: return PREC_ATOM;
    }
}

static void print_expr(FILE *out, const Expr *e, int min_prec);

static void print_list(FILE *out, Expr *const *args, int n)
{
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        print_expr(out, args[i], PREC_COND);
    }
}

/* print_expr: e, parenthesized when its precedence is below min_prec. */
static void print_expr(FILE *out, const Expr *e, int min_prec)
{
    if (!e) {
        fputs("<error>", out);
        return;
    }
    int prec = expr_prec(e);
    int paren = prec < min_prec;
    if (paren) fputc('(', out);
    switch (e->kind) {
    case EX_NUM: fputs(e->text, out); break;
    case EX_NAME: fputs(e->name, out); break;
    case EX_PRIME: fprintf(out, "%s'", e->name); break;
    case EX_UNARY:
        if (e->op == AOP_NOT) {
            fputs("not ", out);
            print_expr(out, e->args[0], PREC_NOT);
        } else {
            fputc('-', out);   // - -x reads badly: write -(-x)
            print_expr(out, e->args[0], e->args[0]->kind == EX_UNARY ? PREC_ATOM : PREC_NEG);
        }
        break;
    case EX_BINARY: {
        int left = prec, right = prec + 1;
        if (e->op == AOP_POWER) left = PREC_ATOM, right = PREC_NEG;
        if (prec == PREC_CMP) left = PREC_CMP + 1;
        print_expr(out, e->args[0], left);
        fprintf(out, e->op == AOP_POWER ? "%s" : " %s ", ast_op_text(e->op));
        print_expr(out, e->args[1], right);
        break;
    }
    case EX_CALL:
        fprintf(out, "%s(", e->name);
        print_list(out, e->args, e->nargs);
        fputc(')', out);
        break;
    case EX_INDEX:
        print_expr(out, e->args[0], PREC_ATOM);
        fputc('[', out);
        print_list(out, e->args + 1, e->nargs - 1);
        fputc(']', out);
        break;
    case EX_MATRIX:
        fputc('[', out);
        for (int r = 0, k = 0; r < e->nrows; k += e->row_len[r], r++) {
            if (r) fputs("; ", out);
            print_list(out, e->args + k, e->row_len[r]);
        }
        fputc(']', out);
        break;
    case EX_COND:
        fputs("if ", out);
        print_expr(out, e->args[0], PREC_COND);
        fputs(" then ", out);
        print_expr(out, e->args[1], PREC_COND);
        fputs(" else ", out);
        print_expr(out, e->args[2], PREC_COND);
        break;
    }
    if (paren) fputc(')', out);
}

void fmt_expr(FILE *out, const Expr *e)
{
    print_expr(out, e, PREC_COND);
}

/* The part of a declaration after its keyword: `lr = 0.01`, `W[8, 2] ~ normal(0, 1)`. */
static void print_decl_body(FILE *out, const Decl *d)
{
    switch (d->kind) {
    case DECL_UPDATE:
        fputs("= ", out);
        fmt_expr(out, d->value);
        return;
    case DECL_INTEGRATOR:
        fputs(d->name, out);
        if (d->nargs) {
            fputc('(', out);
            for (int i = 0; i < d->nargs; i++) {
                fprintf(out, "%s%s = ", i ? ", " : "", d->args[i].name);
                fmt_expr(out, d->args[i].value);
            }
            fputc(')', out);
        }
        return;
    default: break;
    }
    fputs(d->name, out);
    if (d->ndims) {
        fputc('[', out);
        print_list(out, d->dims, d->ndims);
        fputc(']', out);
    }
    if (d->value) {
        fputs(" = ", out);
        fmt_expr(out, d->value);
    }
    if (d->dist) {
        fputs(" ~ ", out);
        fmt_expr(out, d->dist);
    }
    if (d->port_input) {
        fputs(", ", out);
        fmt_expr(out, d->port_input);
    }
}

/* Comment placement: a cursor over the module's comments in source order. */
typedef struct Printer {
    FILE *out;
    const Module *m;
    const Source *src;
    int next_comment;
} Printer;

/* Print own-line comments that stand before offset `before`, at `indent`. */
static void flush_comments(Printer *p, int before, const char *indent)
{
    while (p->m && p->next_comment < p->m->ncomments &&
           p->m->comments[p->next_comment].loc.off < before) {
        fprintf(p->out, "%s#%s\n", indent, p->m->comments[p->next_comment].text);
        p->next_comment++;
    }
}

/* A comment after code on the line where a node ends stays on that line. */
static void trailing_comment(Printer *p, SrcLoc end_of)
{
    if (!p->m || !p->src || p->next_comment >= p->m->ncomments) return;
    const Comment *c = &p->m->comments[p->next_comment];
    int end = end_of.off + end_of.len;
    if (c->own_line || c->loc.off < end) return;
    for (int i = end; i < c->loc.off; i++)
        if (p->src->text[i] == '\n') return;
    fprintf(p->out, "  #%s", c->text);
    p->next_comment++;
}

/* Whether the source has a blank line between offsets a and b. */
static int blank_between(const Printer *p, int a, int b)
{
    if (!p->src) return 0;
    for (int i = a, nl = 0; i < b && i < p->src->len; i++) {
        char c = p->src->text[i];
        if (c == '\n') {
            if (++nl >= 2) return 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            nl = 0;
        }
    }
    return 0;
}

static void print_optimizer(Printer *p, const Optimizer *o)
{
    fprintf(p->out, "optimizer %s {", o->name);
    trailing_comment(p, (SrcLoc){o->loc.file, o->name_loc.off, o->name_loc.len + 2});
    fputc('\n', p->out);
    int prev_end = o->name_loc.off + o->name_loc.len;
    for (int i = 0; i < o->ndecls; i++) {
        const Decl *d = o->decls[i];
        if (d->continued) {
            fputs(", ", p->out);
            print_decl_body(p->out, d);
            prev_end = d->loc.off + d->loc.len;
            continue;
        }
        if (i > 0) {
            trailing_comment(p, (SrcLoc){d->loc.file, prev_end, 0});
            fputc('\n', p->out);
            if (blank_between(p, prev_end, d->loc.off)) fputc('\n', p->out);
        }
        flush_comments(p, d->loc.off, "    ");
        fprintf(p->out, "    %s ", ast_decl_keyword(d->kind));
        print_decl_body(p->out, d);
        prev_end = d->loc.off + d->loc.len;
    }
    if (o->ndecls) {
        trailing_comment(p, (SrcLoc){o->loc.file, prev_end, 0});
        fputc('\n', p->out);
    }
    flush_comments(p, o->close_loc.off, "    ");
    fputs("}\n", p->out);
}

static void print_def(Printer *p, const Def *d)
{
    fprintf(p->out, "def %s(", d->name);
    for (int i = 0; i < d->nparams; i++) fprintf(p->out, "%s%s", i ? ", " : "", d->params[i]);
    fputs(") = ", p->out);
    fmt_expr(p->out, d->body);
    trailing_comment(p, d->loc);
    fputc('\n', p->out);
}

static SrcLoc item_loc(const TopItem *t)
{
    switch (t->kind) {
    case TOP_IMPORT: return ((const Import *)t->item)->loc;
    case TOP_DEF: return ((const Def *)t->item)->loc;
    default: return ((const Optimizer *)t->item)->loc;
    }
}

void fmt_module(FILE *out, const Module *m, const Diag *d)
{
    Printer p = {out, m, d && m->file >= 0 && m->file < d->nfiles ? d->files[m->file] : NULL, 0};
    for (int i = 0; i < m->nitems; i++) {
        const TopItem *t = &m->items[i];
        SrcLoc loc = item_loc(t);
        // Consecutive imports or defs stay together; anything else gets a blank line.
        if (i > 0) {
            const TopItem *prev = &m->items[i - 1];
            SrcLoc ploc = item_loc(prev);
            if (t->kind == TOP_OPTIMIZER || prev->kind != t->kind ||
                blank_between(&p, ploc.off + ploc.len, loc.off))
                fputc('\n', out);
        }
        flush_comments(&p, loc.off, "");
        switch (t->kind) {
        case TOP_IMPORT: {
            const Import *im = t->item;
            fprintf(out, "import \"%s\"", im->path);
            trailing_comment(&p, im->loc);
            fputc('\n', out);
            break;
        }
        case TOP_DEF: print_def(&p, t->item); break;
        case TOP_OPTIMIZER: print_optimizer(&p, t->item); break;
        }
    }
    if (m->nitems && p.next_comment < m->ncomments) fputc('\n', out);
    flush_comments(&p, 1 << 30, "");
}

void fmt_optimizer(FILE *out, const Optimizer *o)
{
    Printer p = {out, NULL, NULL, 0};
    print_optimizer(&p, o);
}
