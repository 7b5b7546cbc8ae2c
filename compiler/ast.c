/* ast.c: constructors for syntax-tree nodes, and small helpers on shapes and ops. */
#include "ast.h"

#include <stdlib.h>
#include <string.h>

static Expr *new_expr(Arena *a, ExprKind kind, SrcLoc loc)
{
    Expr *e = arena_alloc(a, sizeof *e);
    e->kind = kind;
    e->loc = loc;
    e->height = 1;
    return e;
}

/* set_height: the tree height of e from its children; parse.c refuses trees taller
 * than PARSE_MAX_HEIGHT so that the recursive passes cannot exhaust the C stack. */
static Expr *set_height(Expr *e)
{
    int h = 0;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i] && e->args[i]->height > h) h = e->args[i]->height;
    e->height = h + 1;
    return e;
}

static Expr **copy_args(Arena *a, PtrVec v)
{
    Expr **args = arena_alloc(a, (size_t)(v.n ? v.n : 1) * sizeof *args);
    if (v.n) memcpy(args, v.items, (size_t)v.n * sizeof *args);
    return args;
}

Expr *ast_num(Arena *a, SrcLoc loc, const char *text)
{
    Expr *e = new_expr(a, EX_NUM, loc);
    e->text = text;
    // Hex integers (0x1F) go through strtoull: strtod would also take hex floats.
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        e->num = (double)strtoull(text + 2, NULL, 16);
    else
        e->num = strtod(text, NULL);
    return e;
}

Expr *ast_name(Arena *a, SrcLoc loc, ExprKind kind, const char *name)
{
    Expr *e = new_expr(a, kind, loc);
    e->name = name;
    return e;
}

Expr *ast_unary(Arena *a, SrcLoc loc, AstOp op, Expr *x)
{
    Expr *e = new_expr(a, EX_UNARY, loc);
    e->op = op;
    e->args = arena_alloc(a, sizeof *e->args);
    e->args[0] = x;
    e->nargs = 1;
    return set_height(e);
}

Expr *ast_binary(Arena *a, SrcLoc loc, AstOp op, Expr *x, Expr *y)
{
    Expr *e = new_expr(a, EX_BINARY, loc);
    e->op = op;
    e->args = arena_alloc(a, 2 * sizeof *e->args);
    e->args[0] = x;
    e->args[1] = y;
    e->nargs = 2;
    return set_height(e);
}

Expr *ast_call(Arena *a, SrcLoc loc, const char *name, SrcLoc name_loc, PtrVec args)
{
    Expr *e = new_expr(a, EX_CALL, loc);
    e->name = name;
    e->name_loc = name_loc;
    e->args = copy_args(a, args);
    e->nargs = args.n;
    return set_height(e);
}

Expr *ast_index(Arena *a, SrcLoc loc, Expr *base, PtrVec idx)
{
    Expr *e = new_expr(a, EX_INDEX, loc);
    e->args = arena_alloc(a, (size_t)(idx.n + 1) * sizeof *e->args);
    e->args[0] = base;
    for (int i = 0; i < idx.n; i++) e->args[i + 1] = idx.items[i];
    e->nargs = idx.n + 1;
    return set_height(e);
}

Expr *ast_cond(Arena *a, SrcLoc loc, Expr *c, Expr *x, Expr *y)
{
    Expr *e = new_expr(a, EX_COND, loc);
    e->args = arena_alloc(a, 3 * sizeof *e->args);
    e->args[0] = c;
    e->args[1] = x;
    e->args[2] = y;
    e->nargs = 3;
    return set_height(e);
}

Expr *ast_matrix(Arena *a, SrcLoc loc, PtrVec rows)
{
    Expr *e = new_expr(a, EX_MATRIX, loc);
    int total = 0;
    for (int r = 0; r < rows.n; r++) total += ((PtrVec *)rows.items[r])->n;
    e->args = arena_alloc(a, (size_t)(total ? total : 1) * sizeof *e->args);
    e->row_len = arena_alloc(a, (size_t)(rows.n ? rows.n : 1) * sizeof(int));
    e->nrows = rows.n;
    for (int r = 0, k = 0; r < rows.n; r++) {
        PtrVec *row = rows.items[r];
        e->row_len[r] = row->n;
        for (int i = 0; i < row->n; i++) e->args[k++] = row->items[i];
    }
    e->nargs = total;
    return set_height(e);
}

const char *ast_op_text(AstOp op)
{
    switch (op) {
    case AOP_PLUS: return "+";
    case AOP_MINUS: return "-";
    case AOP_TIMES: return "*";
    case AOP_DIVIDE: return "/";
    case AOP_POWER: return "^";
    case AOP_MATMUL: return "@";
    case AOP_LESS: return "<";
    case AOP_GREATER: return ">";
    case AOP_LESS_EQ: return "<=";
    case AOP_GREATER_EQ: return ">=";
    case AOP_EQUAL: return "==";
    case AOP_NOT_EQUAL: return "!=";
    case AOP_AND: return "and";
    case AOP_OR: return "or";
    case AOP_NOT: return "not";
    }
    return "?";
}

const char *ast_decl_keyword(DeclKind kind)
{
    static const char *const words[DECL_KIND_COUNT] = {
        [DECL_HYPER] = "hyper",           [DECL_INPUT] = "input",
        [DECL_STATE] = "state",           [DECL_PARAM] = "param",
        [DECL_LET] = "let",               [DECL_HAMILTONIAN] = "hamiltonian",
        [DECL_STRUCTURE] = "structure",   [DECL_DISSIPATION] = "dissipation",
        [DECL_PORT] = "port",             [DECL_INTEGRATOR] = "integrator",
        [DECL_NEXT] = "next",             [DECL_UPDATE] = "update",
    };
    return kind >= 0 && kind < DECL_KIND_COUNT ? words[kind] : "?";
}

int shape_equal(Shape a, Shape b)
{
    if (a.rank != b.rank) return 0;
    for (int i = 0; i < a.rank; i++)
        if (a.dim[i] != b.dim[i]) return 0;
    return 1;
}

int shape_size(Shape s)
{
    return s.rank == 0 ? 1 : s.rank == 1 ? s.dim[0] : s.dim[0] * s.dim[1];
}

const char *shape_str(Arena *a, Shape s)
{
    switch (s.rank) {
    case 0: return "scalar";
    case 1: return arena_printf(a, "vector[%d]", s.dim[0]);
    default: return arena_printf(a, "matrix[%d,%d]", s.dim[0], s.dim[1]);
    }
}
