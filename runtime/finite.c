/* finite.c: whether arrays hold no Inf or NaN, for the runtime's checks on every
 * gradient (task.c) and on every batch's theta and state (batch.c).
 *
 * An element is Inf or NaN when its exponent bits are all ones: an or over the bits as
 * integers, which gcc vectorizes where isfinite per element did not (task_loss_grad
 * had 2% of the samples of a one-thread seed_hnn_pre meta-step), and in AVX-512
 * clones (vector_clones.h).  No early exit: the arrays are nearly always finite. */
#include "finite.h"
#include "vector_clones.h"

#include <string.h>

HAM_VECTOR_CLONES int floats_finite(const float *x, int64_t n)
{
    uint32_t any = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        any |= ~bits & 0x7f800000u ? 0 : 1;
    }
    return !any;
}

HAM_VECTOR_CLONES int doubles_finite(const double *x, int64_t n)
{
    uint64_t any = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        any |= ~bits & 0x7ff0000000000000u ? 0 : 1;
    }
    return !any;
}
