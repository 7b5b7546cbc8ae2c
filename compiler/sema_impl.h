/* sema_impl.h: what the files of the semantic pass share (sema.c, sema_type.c,
 * sema_check.c).  Not for use outside the pass: the rest of the compiler reads
 * sema.h's OptInfo. */
#ifndef HAM_SEMA_IMPL_H
#define HAM_SEMA_IMPL_H

#include "sema.h"

/* Limits on static shapes, checked before anything is sized from them: a spec that
 * declares a huge array gets an error, not an allocation failure. */
#define SEMA_MAX_DIM 65536        // one dimension
#define SEMA_MAX_ELEMS (1 << 22)  // one value: 4M scalars (16 MiB of f32 per coordinate set)
#define SEMA_MAX_DEF_DEPTH 64     // nested def calls: deeper is surely a mistake
/* Work allowed to one by-construction question (is R PSD, is J skew): the analyses
 * follow lets and def calls into their bodies without memo, so `let a2 = a1 + a1` or a
 * def calling a def twice, a few dozen deep, would walk 2^depth nodes.  Real specs
 * take a few hundred steps; past the limit the property is "not shown". */
#define SEMA_MAX_PROOF_STEPS (1L << 18)
/* Recursion allowed to typing and the analyses together.  A def's body is typed
 * inside each call and a let's value where it is first used, so a chain of defs (or
 * lets) each near parse.c's PARSE_MAX_HEIGHT (2000) would nest 64 x 2000 frames and
 * overflow the stack (an ASan build did at about 16000 levels).  Twice the height of
 * one tree lets any tree as written pass, and later passes that inline defs can rely
 * on it too. */
#define SEMA_MAX_DEPTH 4000

/* The shape of an expression that already failed: propagated silently, so one
 * mistake gives one message. */
#define SHAPE_ERROR ((Shape){-1, {0, 0}})

enum {
#define BUILTIN(id, name, lo, hi, rule, doc) id,
#include "builtins.def"
#undef BUILTIN
    B_COUNT
};

typedef struct BuiltinInfo {
    const char *name;
    int min_args, max_args;
    int rule;             // one of the RULE_ values
    const char *doc;
} BuiltinInfo;

enum { RULE_ELEM1, RULE_ELEM2, RULE_REDUCE, RULE_DOT, RULE_CTOR, RULE_SPECIAL };
extern const BuiltinInfo sema_builtins[B_COUNT];
int sema_builtin_id(const char *name);   // -1 if not a builtin

/* One def call being typed: the def's parameters bound to argument shapes (and the
 * argument expressions, for the by-construction analyses). */
typedef struct DefFrame {
    Def *def;
    Shape *shapes;
    Expr **args;
    struct DefFrame *up;  // the caller's frame (NULL at optimizer level)
    SrcLoc call_loc;
    int depth;
} DefFrame;

/* A memo of def instantiations: the result shape of a def for given argument shapes.
 * Without it, defs that call defs twice cost 2^depth to check. */
typedef struct DefInst {
    Def *def;
    Shape *args;
    Shape result;
    struct DefInst *next;
} DefInst;

typedef struct Sema {
    Program *prog;
    Diag *d;
    Arena *a;
    OptInfo *info;        // the optimizer being checked; NULL for lone defs
    DefFrame *frame;      // innermost def call being typed
    DefInst *insts;
    int saw_prime;        // the expression typed so far reads a post-step state
    SrcLoc prime_loc;
    Decl *decl;           // the declaration whose value is being typed
    long proof_steps;     // work done on the current by-construction question
    int depth;            // sema_type and the analyses nested now (SEMA_MAX_DEPTH)
    int too_deep;         // the depth limit was reported (once is enough)
} Sema;

Shape sema_type(Sema *s, Expr *e);
/* "unknown function 'f'" (or "'x' is not a function"), with a did-you-mean hint. */
void sema_unknown_function(Sema *s, Expr *e);
Shape sema_type_sym(Sema *s, Sym *sym, SrcLoc use);

/* sema_const: the value of a constant expression (numbers, hypers, arithmetic,
 * elementwise built-ins).  Returns 0 on success; else, when `what` is not NULL,
 * reports "<what> must be a constant ..." and returns -1. */
int sema_const(Sema *s, Expr *e, double *out, const char *what);
int sema_const_int(Sema *s, Expr *e, const char *what, int lo, int hi, int *out);
int sema_is_const(Sema *s, Expr *e);

/* By-construction analyses (sema_check.c).  Each returns 1 when the property holds
 * by construction, else 0 and sets *culprit to the subexpression it could not show. */
int sema_is_psd(Sema *s, Expr *e, Expr **culprit);
int sema_is_skew(Sema *s, Expr *e, Expr **culprit);

#endif
