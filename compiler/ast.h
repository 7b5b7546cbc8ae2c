/* ast.h: the syntax tree of a .ham file, as the parser builds it and sema annotates it.
 *
 * A Module is one file: its imports, defs and optimizers, in source order.  Every
 * node carries a SrcLoc.  Expressions are one struct with a kind (chibicc's Node);
 * declarations inside an optimizer are one struct with a kind.  All nodes live in the
 * compilation's arena and are never freed one by one.  Sema fills the fields marked
 * "sema:" and leaves the syntax fields untouched, so `hamc fmt` prints what was
 * written whether or not it checks. */
#ifndef HAM_AST_H
#define HAM_AST_H

#include "arena.h"
#include "diag.h"

/* Static shapes: rank 0 (scalar), 1 (vector of dim[0]) or 2 (dim[0] x dim[1]). */
typedef struct Shape {
    int rank;
    int dim[2];
} Shape;

typedef enum {
    EX_NUM,     // 1.5
    EX_NAME,    // x
    EX_PRIME,   // x' (a state after the step)
    EX_UNARY,   // -a, not a
    EX_BINARY,  // a + b, a @ b, a < b, a and b, ...
    EX_CALL,    // f(a, b)
    EX_INDEX,   // a[i] or a[i, j]
    EX_MATRIX,  // [a, b; c, d]: rows of elements
    EX_COND,    // if c then a else b
} ExprKind;

typedef enum {
    AOP_PLUS = '+', AOP_MINUS = '-', AOP_TIMES = '*', AOP_DIVIDE = '/', AOP_POWER = '^',
    AOP_MATMUL = '@', AOP_LESS = '<', AOP_GREATER = '>',
    AOP_LESS_EQ = 256, AOP_GREATER_EQ, AOP_EQUAL, AOP_NOT_EQUAL, AOP_AND, AOP_OR, AOP_NOT,
} AstOp;

typedef struct Sym Sym;
typedef struct Def Def;

typedef struct Expr {
    ExprKind kind;
    SrcLoc loc;
    AstOp op;             // EX_UNARY, EX_BINARY
    double num;           // EX_NUM
    const char *text;     // EX_NUM: the literal as written (for fmt)
    const char *name;     // EX_NAME, EX_PRIME, EX_CALL (interned)
    SrcLoc name_loc;      // EX_CALL: the callee name
    struct Expr **args;   // EX_CALL arguments, EX_INDEX [base, i, (j)],
                          // EX_UNARY [a], EX_BINARY [a, b], EX_COND [c, a, b],
                          // EX_MATRIX elements row by row
    int nargs;
    int *row_len;         // EX_MATRIX: elements in each row
    int nrows;            // EX_MATRIX
    int height;           // 1 + the tallest child: deep trees are refused (parse.c)
    Shape shape;          // sema: the value's static shape
} Expr;

typedef enum {
    DECL_HYPER,        // hyper lr = 0.01
    DECL_INPUT,        // input g
    DECL_STATE,        // state p[2] = 0
    DECL_PARAM,        // param W[8,2] ~ normal(0, 0.1)
    DECL_LET,          // let u = logsign(g, 10)
    DECL_HAMILTONIAN,  // hamiltonian H = p^2 / 2
    DECL_STRUCTURE,    // structure J = canonical(q, p)
    DECL_DISSIPATION,  // dissipation R = diag(softplus(r))
    DECL_PORT,         // port G = -1, g
    DECL_INTEGRATOR,   // integrator symplectic_euler(dt = 1)
    DECL_NEXT,         // next m = b1 * m + (1 - b1) * g
    DECL_UPDATE,       // update = -lr * m'
    DECL_KIND_COUNT
} DeclKind;

/* A named argument `name = value`, as in `integrator rk4(dt = 0.5)`. */
typedef struct NamedArg {
    const char *name;
    SrcLoc loc;
    Expr *value;
} NamedArg;

typedef struct Decl {
    DeclKind kind;
    SrcLoc loc;           // the whole declaration
    const char *name;     // declared name (NULL for update); integrator name
    SrcLoc name_loc;
    int continued;        // 1 when written after a comma in the previous decl's list
    Expr **dims;          // state/param shape: [n] or [m, n] (constant expressions)
    int ndims;
    Expr *value;          // initial value, defining expression, or NULL
    Expr *dist;           // param: `~ normal(0, 0.1)`: a call expression, or NULL
    Expr *port_input;     // port: the input u after the comma, or NULL
    NamedArg *args;       // integrator arguments
    int nargs;
    Shape shape;          // sema: the declared or inferred shape
    Sym *sym;             // sema: the symbol this declares, if any
} Decl;

typedef struct Optimizer {
    const char *name;
    SrcLoc loc, name_loc;
    SrcLoc close_loc;     // the closing brace (for "missing ... before '}'")
    Decl **decls;
    int ndecls;
    struct Module *module;
    struct OptInfo *info; // sema: the checked structure (see sema.h)
} Optimizer;

struct Def {
    const char *name;
    SrcLoc loc, name_loc;
    const char **params;
    SrcLoc *param_locs;
    int nparams;
    Expr *body;
    struct Module *module;
    int visiting;         // sema: recursion detection while inlining
    int used;             // sema: called at least once
    int broken;           // sema: its body has errors (calls type silently as errors)
};

typedef struct Import {
    const char *path;     // as written
    SrcLoc loc;
    SrcLoc path_loc;      // the path itself (for "cannot find")
    struct Module *target;// sema/loader: the module it names
} Import;

/* A comment kept for `hamc fmt`: the text after '#', and where it stood. */
typedef struct Comment {
    SrcLoc loc;
    const char *text;
    int own_line;         // nothing but blanks before it on its line
} Comment;

typedef enum { TOP_IMPORT, TOP_DEF, TOP_OPTIMIZER } TopKind;

typedef struct TopItem {
    TopKind kind;
    void *item;           // Import *, Def *, Optimizer *
} TopItem;

typedef struct Module {
    int file;             // source file number in the Diag
    const char *path;
    TopItem *items;
    int nitems;
    Comment *comments;
    int ncomments;
    int is_prelude;
    int incomplete;       // the text ended inside a construct (REPL: read more)
    int syntax_errors;    // lexical and syntax errors in it (sema then skips the program:
                          // what the parser dropped would only cause follow-on errors)
} Module;

/* Constructors used by the parser's actions: one call each. */
Expr *ast_num(Arena *a, SrcLoc loc, const char *text);
Expr *ast_name(Arena *a, SrcLoc loc, ExprKind kind, const char *name);
Expr *ast_unary(Arena *a, SrcLoc loc, AstOp op, Expr *x);
Expr *ast_binary(Arena *a, SrcLoc loc, AstOp op, Expr *x, Expr *y);
Expr *ast_call(Arena *a, SrcLoc loc, const char *name, SrcLoc name_loc, PtrVec args);
Expr *ast_index(Arena *a, SrcLoc loc, Expr *base, PtrVec idx);
Expr *ast_cond(Arena *a, SrcLoc loc, Expr *c, Expr *x, Expr *y);
/* rows: a PtrVec of PtrVec* (each a row of Expr*). */
Expr *ast_matrix(Arena *a, SrcLoc loc, PtrVec rows);

const char *ast_op_text(AstOp op);
const char *ast_decl_keyword(DeclKind kind);

/* Shapes. */
static inline Shape shape_scalar(void) { return (Shape){0, {1, 1}}; }
static inline Shape shape_vector(int n) { return (Shape){1, {n, 1}}; }
static inline Shape shape_matrix(int m, int n) { return (Shape){2, {m, n}}; }
int shape_equal(Shape a, Shape b);
int shape_size(Shape s);                 // number of scalars
const char *shape_str(Arena *a, Shape s);  // "scalar", "vector[3]", "matrix[2,2]"

#endif
