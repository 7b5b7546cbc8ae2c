/* fma_peak.h: one core's fp32 FMA peak, measured rather than assumed.
 *
 * The peak depends on more than the clock and the vector width: AMD Zen 4 runs a
 * 512-bit FMA as two 256-bit halves (its peak is two 256-bit FMAs a cycle), Intel's
 * server cores have two 512-bit FMA units (twice that), a virtual machine's 'cpu MHz'
 * is not the clock the core runs at under turbo.  So the benchmarks time long chains
 * of independent register FMAs at each width the build can issue and take the best. */
#ifndef HAM_BENCH_FMA_PEAK_H
#define HAM_BENCH_FMA_PEAK_H

typedef struct FmaPeak {
    double gflops_256;   // 8-lane FMAs, GFLOP/s (2 flops an FMA lane); 0 without AVX2+FMA
    double gflops_512;   // 16-lane FMAs; 0 without AVX-512F
    double gflops;       // the larger: the peak
} FmaPeak;

/* About 0.3 s on one thread; call it from the thread whose peak is wanted. */
FmaPeak fma_peak_measure(void);

#endif
