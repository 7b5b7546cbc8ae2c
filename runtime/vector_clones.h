/* vector_clones.h: HAM_VECTOR_CLONES, for the runtime's hot elementwise loops.
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
#else
#define HAM_VECTOR_CLONES
#endif

#endif
