/* load.h: a Program is a main file and everything it imports, loaded and parsed.
 *
 * Imports resolve relative to the importing file, then in the stdlib directory
 * (`import "prelude"` finds stdlib/prelude.ham).  Each file is loaded once, keyed by
 * its real path, so import cycles are harmless.  The prelude is imported into every
 * program unless the program is the prelude itself or asks not to. */
#ifndef HAM_LOAD_H
#define HAM_LOAD_H

#include "ast.h"

typedef struct Program {
    Arena *arena;
    Diag *diag;
    Module **modules;       // load order: the prelude first, then imports before importers
    int nmodules;
    Module *main;           // the file named on the command line (or the REPL entry)
    Def **defs;             // every def of every module, by name (see load_find_def)
    int ndefs;
    int *def_table;         // hash index of defs: 1 + position in defs, or 0 for empty
    unsigned def_mask;      // def_table's size - 1: a power of two, over twice ndefs
    Optimizer **optimizers; // every optimizer, in load order
    int noptimizers;
    int incomplete;         // the main file ended inside a construct (the REPL reads on)
    /* Hyper values given at run time (--set lr=0.1), applied by sema in place of the
     * declared ones so that every check (R >= 0 for R = 1 - mu) sees them.  A name is
     * marked used when some optimizer declares it. */
    const char **override_names;
    double *override_values;
    int *override_used;
    int noverrides;
} Program;

/* load_stdlib_dir: $HAM_STDLIB, else <hamc>/../stdlib, else <hamc>/../share/ham/stdlib. */
const char *load_stdlib_dir(void);

/* load_program: load `path` (or, when text is not NULL, that text under the name
 * path) and its imports.  Errors go to d; the Program holds what did load. */
Program *load_program(Arena *a, Diag *d, const char *path, const char *text, int with_prelude);

Def *load_find_def(const Program *p, const char *name);
Optimizer *load_find_optimizer(const Program *p, const char *name);

#endif
