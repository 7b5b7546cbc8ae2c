/* param_init.c: a run's initial params from another run's checkpoint, matched by name
 * (see param_init.h). */
#include "param_init.h"

#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "compile.h"
#include "sema.h"

/* The checkpoint's optimizer, checked again from the spec text it stores with the
 * hyper overrides it was trained with (a hyper may size a param); NULL with the cause
 * in err.  Its diagnostics, if any, go to stderr under the checkpoint's path. */
static const OptInfo *checkpoint_layout(const char *path, const Checkpoint *ck, Arena *a, Diag *d, char *err,
                                        size_t errlen)
{
    int n = (int)ck->n_hypers;
    const char **names = arena_alloc(a, (size_t)(n + 1) * sizeof *names);
    double *values = arena_alloc(a, (size_t)(n + 1) * sizeof *values);
    for (int i = 0; i < n; i++) names[i] = ck->hypers[i].name, values[i] = ck->hypers[i].value;
    CompileRequest req = {.path = path, .text = ck->spec_text, .opt = ck->opt_name, .set_names = names,
                          .set_values = values, .nset = n};
    Program *p;
    char why[256];
    const Optimizer *o = compile_check(a, d, &req, &p, why, sizeof why);
    if (!o) {
        snprintf(err, errlen, "%s (checking the spec stored in the checkpoint)", why);
        return NULL;
    }
    if ((size_t)o->info->scalars[SK_PARAM] != ck->n_params) {
        snprintf(err, errlen, "%s: holds %zu params, but its spec's '%s' has %d", path, ck->n_params, ck->opt_name,
                 o->info->scalars[SK_PARAM]);
        return NULL;
    }
    return o->info;
}

/* Appends name to list (", "-separated); past room for it and a closing ", ...",
 * the list ends with ", ..." instead (list holds len > 8 bytes). */
static void list_add(char *list, size_t len, const char *name)
{
    size_t used = strlen(list);
    if (used >= 3 && !strcmp(list + used - 3, "...")) return;   // already cut
    if (used + 2 + strlen(name) + 5 >= len) {
        strcat(list, used ? ", ..." : "...");
        return;
    }
    if (used) strcat(list, ", ");
    strcat(list, name);
}

int param_init_from_checkpoint(const char *path, const HamKernelInfo *info, double *params, FILE *report,
                               char *err, size_t errlen)
{
    Checkpoint ck;
    if (ckpt_read(path, &ck, err, errlen) != 0) return -1;
    Arena arena;
    arena_init(&arena);
    Diag diag;
    diag_init(&diag, &arena, stderr);
    diag.warnings_off = 1;
    int rc = -1, taken = 0, scalars = 0;
    char took[512] = "", kept[512] = "";
    const OptInfo *src = checkpoint_layout(path, &ck, &arena, &diag, err, errlen);
    if (!src) goto done;
    const double *values = ck.best ? ck.best : ck.params;
    for (int i = 0; i < info->nparam_arrays; i++) {
        const HamArrayInfo *x = &info->params[i];
        const Sym *s = sema_lookup(src, x->name);
        if (!s || s->kind != SK_PARAM) {
            list_add(kept, sizeof kept, x->name);
            continue;
        }
        Shape want = {x->rank, {x->dim[0], x->dim[1]}};
        if (!shape_equal(want, s->shape)) {
            snprintf(err, errlen, "%s: param '%s' is %s in '%s' but %s in '%s'", path, x->name,
                     shape_str(&arena, want), info->name, shape_str(&arena, s->shape), ck.opt_name);
            goto done;
        }
        memcpy(params + x->offset, values + s->offset, (size_t)x->size * sizeof *params);
        list_add(took, sizeof took, x->name);
        taken++;
        scalars += x->size;
    }
    if (taken == 0) {
        snprintf(err, errlen, "%s: '%s' has no param named as one of '%s'", path, ck.opt_name, info->name);
        goto done;
    }
    if (report)
        fprintf(report, "init: %d of %d params of '%s' (%d of %d numbers) from %s ('%s', its %s params): %s%s%s\n",
                taken, info->nparam_arrays, info->name, scalars, info->nparam, path, ck.opt_name,
                ck.best ? "best" : "last", took, kept[0] ? "; kept their initializers: " : "", kept);
    rc = 0;
done:
    arena_free(&arena);
    ckpt_free(&ck);
    return rc;
}
