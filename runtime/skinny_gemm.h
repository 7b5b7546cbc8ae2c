/* skinny_gemm.h: the two products of an MLP layer with few outputs, for mlp.c.
 *
 * The MNIST network's first layer is 784 -> 20 on half-minibatches of 64 rows: the
 * forward product Z = A W^T (64 x 20, inner dimension 784) and the weight gradient
 * dW = dZ^T A (20 x 784, inner dimension 64).  OpenBLAS's sgemm packs both operands for
 * every call and ran the forward one at ~85 GFLOP/s on a Zen 5 (a third of the FMA
 * peak); these kernels keep 20 AVX-512 accumulators in registers over the whole inner
 * dimension instead (skinny_gemm.c says how), where the CPU has AVX-512F.
 *
 * Both are deterministic: the order of every sum depends on the shapes alone.  They
 * differ from sgemm's in the last bits (another order of the same sums). */
#ifndef HAM_SKINNY_GEMM_H
#define HAM_SKINNY_GEMM_H

#include <stddef.h>

/* Layers with at most this many outputs take the kernels (the rest: sgemm). */
enum { SKINNY_MAX_OUT = 64 };

/* skinny_available: 1 if the CPU runs the kernels (AVX-512F and FMA: ham_avx512_fma). */
int skinny_available(void);

/* skinny_pack_floats: the scratch skinny_abt needs for an inner dimension `in`, in
 * floats (the caller allocates it 64-byte aligned; one per concurrent caller). */
size_t skinny_pack_floats(int in);

/* skinny_abt: Z (n x out, row stride out) = A (n x in, row stride in) W^T, with W
 * out x in row-major; pack: skinny_pack_floats(in) floats, 64-byte aligned. */
void skinny_abt(int n, int out, int in, const float *A, const float *W, float *Z, float *pack);

/* skinny_atb: dW (out x in, row stride in) = dZ^T A, with dZ n x out and A n x in. */
void skinny_atb(int out, int in, int n, const float *dZ, const float *A, float *dW);

#endif
