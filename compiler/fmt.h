/* fmt.h: print a syntax tree back as canonical .ham source (`hamc fmt`). */
#ifndef HAM_FMT_H
#define HAM_FMT_H

#include <stdio.h>

#include "ast.h"

/* fmt_module: the whole file, comments kept; fmt_module(parse(fmt_module(x))) is
 * the same text as fmt_module(x). */
void fmt_module(FILE *out, const Module *m, const Diag *d);

/* fmt_expr: one expression on one line. */
void fmt_expr(FILE *out, const Expr *e);

/* fmt_optimizer: one optimizer, no comments (the REPL's `show`). */
void fmt_optimizer(FILE *out, const Optimizer *o);

#endif
