/* fma_peak.c: timing independent register FMAs (fma_peak.h).
 *
 * Each loop keeps ACC accumulators in registers, every one an FMA chain of its own, so
 * the FMA units, not the latency of one chain, set the pace (ACC >= latency x units:
 * 4 cycles x 2 units needs 8; 12 leave slack and fit AVX2's 16 registers).  The
 * result is folded into a volatile sink so the compiler keeps the work.  Best of
 * several repetitions: a neighbour's load only ever adds time. */
#include "fma_peak.h"

#include <immintrin.h>

#include "bench_time.h"

#define ACC 12
#define ITERS 2000000
#define REPS 5

static volatile float sink;

/* Twelve named accumulators (an array of them would live in memory). */
#define CHAINS(T, FMA, SET1, ADD)                                                                  \
    T a = SET1(0.999999f), b = SET1(1e-7f);                                                        \
    T c0 = SET1(0), c1 = SET1(1), c2 = SET1(2), c3 = SET1(3), c4 = SET1(4), c5 = SET1(5);         \
    T c6 = SET1(6), c7 = SET1(7), c8 = SET1(8), c9 = SET1(9), c10 = SET1(10), c11 = SET1(11);      \
    double t0 = now_s();                                                                           \
    for (long i = 0; i < ITERS; i++) {                                                             \
        c0 = FMA(c0, a, b), c1 = FMA(c1, a, b), c2 = FMA(c2, a, b), c3 = FMA(c3, a, b);            \
        c4 = FMA(c4, a, b), c5 = FMA(c5, a, b), c6 = FMA(c6, a, b), c7 = FMA(c7, a, b);            \
        c8 = FMA(c8, a, b), c9 = FMA(c9, a, b), c10 = FMA(c10, a, b), c11 = FMA(c11, a, b);        \
    }                                                                                              \
    double t = now_s() - t0;                                                                       \
    T s = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));                       \
    s = ADD(s, ADD(ADD(c8, c9), ADD(c10, c11)))

#if defined(__AVX2__) && defined(__FMA__)
static double chains_256(void)
{
    CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps);
    sink = _mm256_cvtss_f32(s);
    return (double)ITERS * ACC * 8 * 2 / t * 1e-9;
}
#endif

#if defined(__AVX512F__)
static double chains_512(void)
{
    CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps);
    sink = _mm512_reduce_add_ps(s);
    return (double)ITERS * ACC * 16 * 2 / t * 1e-9;
}
#endif

FmaPeak fma_peak_measure(void)
{
    FmaPeak p = {0, 0, 0};
    for (int r = 0; r < REPS; r++) {
#if defined(__AVX2__) && defined(__FMA__)
        double g = chains_256();
        if (g > p.gflops_256) p.gflops_256 = g;
#endif
#if defined(__AVX512F__)
        double h = chains_512();
        if (h > p.gflops_512) p.gflops_512 = h;
#endif
    }
    p.gflops = p.gflops_256 > p.gflops_512 ? p.gflops_256 : p.gflops_512;
    return p;
}
