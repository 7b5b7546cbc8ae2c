/* param_init.c: a run's initial params from another run's checkpoint, matched by name
 * (see param_init.h). */
#include "param_init.h"

#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "sema.h"

/* The checkpoint's optimizer, checked again from the spec text it stores with the
 * hyper overrides it was trained with (a hyper may size a param); NULL with the cause
 * in err.  Its diagnostics, if any, go to stderr under the checkpoint's path. */
static const OptInfo *checkpoint_layout(const char *path, const Checkpoint *ck, Arena *a, Diag *d, char *err,
                                        size_t errlen)
{
    Program *p = load_program(a, d, path, ck->spec_text, 1);
    int n = (int)ck->n_hypers;
    p->noverrides = n;
    p->override_names = arena_alloc(a, (size_t)(n + 1) * sizeof *p->override_names);
    p->override_values = arena_alloc(a, (size_t)(n + 1) * sizeof *p->override_values);
    p->override_used = arena_alloc(a, (size_t)(n + 1) * sizeof *p->override_used);
    for (int i = 0; i < n; i++) {
        p->override_names[i] = ck->hypers[i].name;
        p->override_values[i] = ck->hypers[i].value;
        p->override_used[i] = 0;
    }
    if (p->main && d->nerrors == 0) sema_program(p);
    if (!p->main || d->nerrors) {
        snprintf(err, errlen, "%s: the spec stored in it does not check any more (%d error%s)", path, d->nerrors,
                 d->nerrors == 1 ? "" : "s");
        return NULL;
    }
    for (int i = 0; i < p->noptimizers; i++)
        if (!strcmp(p->optimizers[i]->name, ck->opt_name) && p->optimizers[i]->info) {
            const OptInfo *info = p->optimizers[i]->info;
            if ((size_t)info->scalars[SK_PARAM] != ck->n_params) {
                snprintf(err, errlen, "%s: holds %zu params, but its spec's '%s' has %d", path, ck->n_params,
                         ck->opt_name, info->scalars[SK_PARAM]);
                return NULL;
            }
            return info;
        }
    snprintf(err, errlen, "%s: its spec declares no optimizer '%s'", path, ck->opt_name);
    return NULL;
}

/* "matrix[8,1]" for a param array of the target. */
static void shape_text(const HamArrayInfo *x, char *buf, size_t len)
{
    if (x->rank == 0) snprintf(buf, len, "scalar");
    else if (x->rank == 1) snprintf(buf, len, "vector[%d]", x->dim[0]);
    else snprintf(buf, len, "matrix[%d,%d]", x->dim[0], x->dim[1]);
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
        if (s->shape.rank != x->rank || (x->rank > 0 && s->shape.dim[0] != x->dim[0]) ||
            (x->rank > 1 && s->shape.dim[1] != x->dim[1])) {
            char want[48];
            shape_text(x, want, sizeof want);
            snprintf(err, errlen, "%s: param '%s' is %s in '%s' but %s in '%s'", path, x->name, want, info->name,
                     shape_str(&arena, s->shape), ck.opt_name);
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
