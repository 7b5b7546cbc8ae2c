/* vector_clones.h: the runtime's AVX-512 code paths: HAM_VECTOR_CLONES for its hot
 * elementwise loops, and ham_avx512_fma() for the code it dispatches by hand.
 *
 * The build targets any x86-64 (SSE2: 4 floats or 2 doubles a vector).  A function
 * marked HAM_VECTOR_CLONES is compiled twice more by gcc, for AVX-512F, and the
 * dynamic loader picks the clone the CPU runs (an ifunc): on this project's machines
 * the loops then take 16 floats or 8 doubles at a time.  The clones compute the same
 * bits: under -std=c11 gcc contracts nothing into fused multiply-adds, and vectorizing
 * an elementwise loop does not reorder its arithmetic.  Loops with a reduction are not
 * vectorized by gcc without -ffast-math, so marking them buys nothing. */
#ifndef HAM_VECTOR_CLONES_H
#define HAM_VECTOR_CLONES_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define HAM_VECTOR_CLONES __attribute__((target_clones("avx512f", "default")))
#define HAM_X86_GCC 1
#else
#define HAM_VECTOR_CLONES
#define HAM_X86_GCC 0
#endif

/* Whether the CPU has AVX-512F and FMA, the features of the runtime's hand-dispatched
 * kernels (skinny_gemm.c, exp_vector.c; their code is compiled with
 * __attribute__((target("avx512f,fma")))).  __builtin_cpu_supports reads flags libgcc
 * set at start-up: two loads, no need to keep the answer. */
static inline int ham_avx512_fma(void)
{
#if HAM_X86_GCC
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

#endif
