/* compile.h: the whole compiler as one call, for the commands that run optimizers.
 *
 * spec file -> load, check (with hyper overrides) -> derive the step and adjoint ->
 * JIT-compile the kernels.  The result owns everything it made; compiled_free
 * releases it (the JIT, shared by a process, is the caller's). */
#ifndef HAM_COMPILE_H
#define HAM_COMPILE_H

#include "jit.h"

typedef struct Compiled {
    Arena arena;
    Diag diag;
    Program *prog;
    StepProgram *step;
    HamKernel kernel;
    double *hypers;          // values in force: declared, then overridden
    const char *spec_text;   // the main file's text (for checkpoints)
    JitStats stats;
} Compiled;

typedef struct CompileRequest {
    const char *path;        // the spec file
    const char *text;        // or its text (REPL), under the name `path`
    const char *opt;         // the optimizer, or NULL for the file's only/first one
    const char **set_names;  // hyper overrides
    const double *set_values;
    int nset;
    int with_adjoint;
    int precisions;          // JitOptions.precisions; 0 means f32 only
    int verbose;             // print the compile times (also with $HAM_VERBOSE)
} CompileRequest;

/* compile_check: load and check req's file (or text) with its hyper overrides, into
 * the arena and diagnostics given: the optimizer it names (or the file's first), or
 * NULL with a one-line cause in err (the diagnostics printed by d).  *prog receives
 * the program either way.  The first half of compile_optimizer, for callers that need
 * an optimizer's checked structure (its params' names and shapes) without its kernels. */
Optimizer *compile_check(Arena *a, Diag *d, const CompileRequest *req, Program **prog, char *err, size_t errlen);

/* compile_optimizer: 0, or -1 with diagnostics printed to `diag_out` and a one-line
 * summary in err. */
int compile_optimizer(Jit *jit, const CompileRequest *req, FILE *diag_out, Compiled *c, char *err, size_t errlen);
void compiled_free(Compiled *c);

#endif
