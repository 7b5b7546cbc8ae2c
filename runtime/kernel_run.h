/* kernel_run.h: running kernels over n coordinates in blocks, on a thread pool.
 *
 * The coordinates are cut into blocks of HAM_BLOCK; each block is one task.  The
 * adjoint's param sums are kept per block and added in block order, in double, so a
 * run gives the same bits whatever the number of threads. */
#ifndef HAM_KERNEL_RUN_H
#define HAM_KERNEL_RUN_H

#include <stddef.h>

#include "kernel.h"
#include "pool.h"

/* ham_forward: args->begin/end are ignored; the kernel runs on [0, n). */
void ham_forward(HamKernelFn fn, const HamStepArgs *args, int64_t n, HamPool *pool);

/* ham_adjoint: as ham_forward, and param_grad[j] += the sum over all coordinates
 * of param j's adjoint.  scratch must hold ham_adjoint_scratch(n, nparam) bytes. */
void ham_adjoint(HamKernelFn fn, HamPrecision prec, const HamStepArgs *args, int64_t n, int nparam,
                 void *scratch, double *param_grad, HamPool *pool);
size_t ham_adjoint_scratch(int64_t n, int nparam, HamPrecision prec);

#endif
