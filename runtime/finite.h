/* finite.h: whether arrays hold no Inf or NaN, as fast as the CPU allows (finite.c). */
#ifndef HAM_FINITE_H
#define HAM_FINITE_H

#include <stdint.h>

int floats_finite(const float *x, int64_t n);
int doubles_finite(const double *x, int64_t n);

#endif
