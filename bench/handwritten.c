/* handwritten.c: momentum, Adam and the STREAM triad written by hand, the way a
 * careful C programmer would, as the baselines for the JIT's kernels.
 *
 * Same formulas as stdlib/momentum.ham and stdlib/adam.ham, term for term (PyTorch's
 * order of operations), except that what does not depend on the coordinate, Adam's
 * bias corrections lr / (1 - b1^t) and sqrt(1 - b2^t), is computed once per call, as
 * anyone writing this loop would.  Compiled with -DHW_SUFFIX=_o3 and =_fast. */
#include <math.h>

#include "handwritten.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define NAME(f) CAT(f, HW_SUFFIX)

/* buf' = mu * buf + g;  update = -lr * buf' */
void NAME(hw_momentum)(int64_t n, const float *restrict g, const float *restrict buf, float *restrict buf_next,
                       float *restrict update, float lr, float mu)
{
    for (int64_t i = 0; i < n; i++) {
        float b = mu * buf[i] + g[i];
        buf_next[i] = b;
        update[i] = -lr * b;
    }
}

/* m' = b1 m + (1 - b1) g;  v' = b2 v + (1 - b2) g^2
 * update = -(lr / (1 - b1^t)) * m' / (sqrt(v') / sqrt(1 - b2^t) + eps) */
void NAME(hw_adam)(int64_t n, double t, const float *restrict g, const float *restrict m, const float *restrict v,
                   float *restrict m_next, float *restrict v_next, float *restrict update, float lr, float b1,
                   float b2, float eps)
{
    float step = lr / (1 - powf(b1, (float)t));
    float bc2 = sqrtf(1 - powf(b2, (float)t));
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + (1 - b1) * gi;
        float vi = b2 * v[i] + (1 - b2) * (gi * gi);
        m_next[i] = mi;
        v_next[i] = vi;
        update[i] = -step * mi / (sqrtf(vi) / bc2 + eps);
    }
}

/* STREAM's triad: 12 bytes per coordinate in f32 (two reads, one write). */
void NAME(hw_triad)(int64_t n, float *restrict a, const float *restrict b, const float *restrict c, float s)
{
    for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}
