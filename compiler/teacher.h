/* teacher.h: the trained optimizer a student imitates (`hamc train SPEC --imitate CKPT`).
 *
 * A checkpoint holds the spec text it was trained from, its optimizer's name and the
 * hyper overrides in force: the teacher is compiled again from them (forward kernels,
 * f32) and runs with the checkpoint's best params (its last ones when it has no best),
 * exactly as `hamc run SPEC --params CKPT` would run it.  Meta-training then teaches
 * the student to reproduce the teacher's updates on the teacher's own runs
 * (runtime/batch.h, META_LOSS_IMITATE): a few-param port-Hamiltonian optimizer can be
 * distilled from the 5000-param LSTM, then meta-trained on its own (`--init`). */
#ifndef HAM_TEACHER_H
#define HAM_TEACHER_H

#include "compile.h"

typedef struct Teacher {
    Compiled c;       // its kernels and hypers (c.hypers)
    double *params;   // [c.kernel.info.nparam]
    int loaded;
} Teacher;

/* teacher_load: 0, or -1 with a one-line cause in err (a missing or corrupt file, a
 * stored spec that no longer compiles, a param count its spec disagrees with); the
 * stored spec's diagnostics, if any, go to stderr under the checkpoint's path. */
int teacher_load(Jit *jit, const char *path, Teacher *t, char *err, size_t errlen);
void teacher_free(Teacher *t);

#endif
