/* compile.c: load + sema + step_build + jit_compile, with the errors of each stage. */
#include "compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Optimizer *compile_check(Arena *a, Diag *d, const CompileRequest *req, Program **prog, char *err, size_t errlen)
{
    // Overrides go in after loading and before sema, so every check sees them.
    Program *p = *prog = load_program(a, d, req->path, req->text, 1);
    p->noverrides = req->nset;
    p->override_names = req->set_names;
    p->override_values = (double *)req->set_values;
    p->override_used = arena_alloc(a, (size_t)(req->nset + 1) * sizeof(int));
    if (p->main && d->nerrors == 0) sema_program(p);
    if (d->nerrors) {
        snprintf(err, errlen, "%s: %d error%s", req->path, d->nerrors, d->nerrors == 1 ? "" : "s");
        return NULL;
    }
    Optimizer *o = NULL;
    for (int i = 0; i < p->noptimizers && !o; i++) {
        Optimizer *cand = p->optimizers[i];
        if (req->opt ? strcmp(cand->name, req->opt) == 0 : cand->module == p->main) o = cand;
    }
    if (!o) {
        snprintf(err, errlen, req->opt ? "%s: no optimizer '%s'" : "%s: declares no optimizer%s", req->path,
                 req->opt ? req->opt : "");
        return NULL;
    }
    for (int i = 0; i < req->nset; i++) {
        if (!sema_lookup(o->info, req->set_names[i]) || sema_lookup(o->info, req->set_names[i])->kind != SK_HYPER) {
            snprintf(err, errlen, "optimizer '%s' has no hyper '%s'", o->name, req->set_names[i]);
            return NULL;
        }
    }
    return o;
}

int compile_optimizer(Jit *jit, const CompileRequest *req, FILE *diag_out, Compiled *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    arena_init(&c->arena);
    diag_init(&c->diag, &c->arena, diag_out);
    c->diag.warnings_off = 1;
    Arena *a = &c->arena;
    Optimizer *o = compile_check(a, &c->diag, req, &c->prog, err, errlen);
    if (!o) return -1;
    Program *p = c->prog;
    c->spec_text = p->main ? c->diag.files[p->main->file]->text : "";
    c->step = step_build(p, o->info, a, &c->diag, NULL);
    if (!c->step) {
        snprintf(err, errlen, "%s: cannot derive optimizer '%s'", req->path, o->name);
        return -1;
    }
    JitOptions jo;
    jit_default_options(&jo);
    jo.with_adjoint = req->with_adjoint;
    jo.precisions = req->precisions ? req->precisions : 1 << HAM_F32;
    if (jit_compile(jit, c->step, &jo, a, &c->kernel, &c->stats, err, errlen) != 0) return -1;
    if (req->verbose || getenv("HAM_VERBOSE"))
    {
        char staged[120] = "";
        if (c->stats.stages)
            snprintf(staged, sizeof staged, "; staged: %d stages around %d GEMMs (%d multiply-adds a coordinate)",
                     c->stats.stages, c->stats.gemms, c->stats.gemm_macs);
        fprintf(stderr, "hamc: compiled %s: %d IR instructions; build %.0f ms, passes %.0f ms, "
                "machine code %.0f ms%s%s\n", o->name, c->stats.ir_instructions, c->stats.build_ms,
                c->stats.optimize_ms, c->stats.codegen_ms, c->stats.cached ? " (cached)" : "", staged);
    }
    c->hypers = arena_alloc(a, (size_t)(c->step->nhyper + 1) * sizeof(double));
    memcpy(c->hypers, c->step->hyper_values, (size_t)c->step->nhyper * sizeof(double));
    return 0;
}

void compiled_free(Compiled *c)
{
    step_free(c->step);
    arena_free(&c->arena);
    memset(c, 0, sizeof *c);
}
