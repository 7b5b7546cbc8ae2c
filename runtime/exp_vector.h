/* exp_vector.h: libm's exp and the sigmoid through expf, over arrays: vectorized where
 * the CPU allows, with the bits of the plain loops over glibc's functions (see
 * exp_vector.c). */
#ifndef HAM_EXP_VECTOR_H
#define HAM_EXP_VECTOR_H

#include <stdint.h>

/* z[i] = 1 / (1 + expf(-z[i])). */
void sigmoid_inplace(float *z, int64_t n);
/* x[i] = exp(x[i]). */
void exp_inplace(double *x, int64_t n);

#endif
