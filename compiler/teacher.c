/* teacher.c: compiling a checkpoint's optimizer from the spec it stores (teacher.h). */
#include "teacher.h"

#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

int teacher_load(Jit *jit, const char *path, Teacher *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    Checkpoint ck;
    if (ckpt_read(path, &ck, err, errlen) != 0) return -1;
    int n = (int)ck.n_hypers, rc = -1;
    const char **names = calloc((size_t)n + 1, sizeof *names);
    double *values = calloc((size_t)n + 1, sizeof *values);
    for (int i = 0; names && values && i < n; i++) names[i] = ck.hypers[i].name, values[i] = ck.hypers[i].value;
    CompileRequest req = {.path = path, .text = ck.spec_text, .opt = ck.opt_name, .set_names = names,
                          .set_values = values, .nset = n};
    char why[768];
    if (!names || !values) {
        snprintf(err, errlen, "out of memory reading the teacher %s", path);
    } else if (!ck.spec_text || !ck.spec_text[0]) {
        snprintf(err, errlen, "%s: holds no spec text to compile the teacher from", path);
    } else if (compile_optimizer(jit, &req, stderr, &t->c, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s (compiling the spec stored in the checkpoint)", why);
    } else {
        t->loaded = 1;
        int P = t->c.kernel.info.nparam;
        if (ck.n_params != (size_t)P) {
            snprintf(err, errlen, "%s: holds %zu params, but its spec's '%s' has %d", path, ck.n_params,
                     t->c.kernel.info.name, P);
        } else if (!(t->params = calloc((size_t)P + 1, sizeof *t->params))) {
            snprintf(err, errlen, "out of memory reading the teacher %s", path);
        } else {
            memcpy(t->params, ck.best ? ck.best : ck.params, (size_t)P * sizeof *t->params);
            rc = 0;
        }
    }
    free(names);
    free(values);
    ckpt_free(&ck);
    if (rc != 0) teacher_free(t);
    return rc;
}

void teacher_free(Teacher *t)
{
    if (t->loaded) compiled_free(&t->c);
    free(t->params);
    memset(t, 0, sizeof *t);
}
