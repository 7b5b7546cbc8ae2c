/* param_init.h: starting a meta-training run from another run's learned params
 * (`hamc train SPEC --init CKPT`), matched by name.
 *
 * The checkpoint may be of another optimizer: a spec that extends a trained one with
 * new params (initialized so that they change nothing) starts where the trained one
 * ended, and meta-training goes on from there with the new params free.  The
 * checkpoint's own spec text (stored in it) is checked again to learn the names,
 * shapes and offsets of its params; every param of the target spec with the same name
 * takes the checkpoint's best params (its last ones when it has no best), and the
 * others keep their initializers.  Hypers are not taken: the target spec's, and its
 * --set, stay in force. */
#ifndef HAM_PARAM_INIT_H
#define HAM_PARAM_INIT_H

#include <stdio.h>

#include "kernel.h"

/* param_init_from_checkpoint: overwrite params[info->nparam] (already holding the
 * target's initial values) with the checkpoint's params of the same names.  A param
 * of the same name but another shape, a checkpoint whose spec no longer checks or
 * whose param count disagrees with its spec, and a checkpoint sharing no param name
 * with the target are errors (-1, a one-line cause in err).  On success, one line
 * to `report` (when not NULL): how many params came from where, and which kept their
 * initializers. */
int param_init_from_checkpoint(const char *path, const HamKernelInfo *info, double *params, FILE *report,
                               char *err, size_t errlen);

#endif
