/* handwritten.h: the hand-written C baselines of bench/kernels.c.
 *
 * bench/handwritten.c is compiled twice by tools/bench.sh, once with -O3 and once
 * with -O3 -ffast-math, and HW_SUFFIX names each copy's symbols (_o3, _fast), so
 * one benchmark binary holds both.  Arrays are f32, one per state scalar (SoA, as
 * in runtime/kernel.h); restrict because a hand-writer would say so, and it spares
 * gcc the runtime alias checks the JIT does not need either (it emits vectors). */
#ifndef HAM_BENCH_HANDWRITTEN_H
#define HAM_BENCH_HANDWRITTEN_H

#include <stdint.h>

#define HW_DECLARE(sfx)                                                                        \
    void hw_momentum##sfx(int64_t n, const float *restrict g, const float *restrict buf,      \
                          float *restrict buf_next, float *restrict update, float lr, float mu); \
    void hw_adam##sfx(int64_t n, double t, const float *restrict g, const float *restrict m,   \
                      const float *restrict v, float *restrict m_next, float *restrict v_next, \
                      float *restrict update, float lr, float b1, float b2, float eps);        \
    void hw_triad##sfx(int64_t n, float *restrict a, const float *restrict b,                  \
                       const float *restrict c, float s);

HW_DECLARE(_o3)
HW_DECLARE(_fast)

#endif
