/* skinny_gemm.c: Z = A W^T and dW = dZ^T A for layers with few outputs (skinny_gemm.h),
 * in AVX-512 registers.
 *
 * Forward, Z = A W^T: a tile of 4 rows of A by 5 rows of W keeps 20 accumulators of 16
 * lanes over the whole inner dimension, loading 4 + 5 vectors per 20 FMAs; each lane
 * sums every 16th product and the 16 lanes are added at the end (_mm512_reduce_add_ps).
 * The 5 rows of W are first copied, chunk by chunk, into one contiguous block (the
 * pack), so the tile reads W from one stream in L1 rather than five rows 3 KB apart.
 * Backward, dW = dZ^T A: a tile of 10 rows of dW by 32 columns is 20 accumulators that
 * take, for each row i of A, its 32 values times the 10 broadcast dZ[i][j].
 * Inner dimensions that are not a multiple of 16 end in a masked chunk (the pack is
 * zero-padded); output counts that are not a multiple of the tile go one row at a time.
 *
 * Measured on about a half MNIST minibatch's shapes (64 rows, 768 -> 20: a standalone
 * benchmark, 768 inputs for 784; 2026-12-07, AMD EPYC Zen 5, one thread, against
 * OpenBLAS 0.3.21's Cooperlake sgemm): forward 11-12 against 20.5 us, backward 10.5
 * against 12.6 us.  Tiles of 2 x 10 ran the forward at 16 us, and 26 us without the
 * pack. */
#include "skinny_gemm.h"
#include "vector_clones.h"

#include <immintrin.h>
#include <stdint.h>

#define SKINNY_TARGET __attribute__((target("avx512f,fma")))
#define TILE static inline __attribute__((always_inline)) SKINNY_TARGET
#define UNROLL _Pragma("GCC unroll 16")

enum {
    LANES = 16,
    FWD_ROWS = 4,   // rows of A per forward tile
    FWD_COLS = 5,   // rows of W (outputs) per forward tile
    BWD_ROWS = 10,  // rows of dW (outputs) per backward tile
    BWD_CHUNKS = 2, // 16-column chunks of dW per backward tile
};

int skinny_available(void)
{
    return ham_avx512_fma();
}

size_t skinny_pack_floats(int in)
{
    return (size_t)FWD_COLS * (size_t)((in + LANES - 1) / LANES) * LANES;
}

/* The lanes of a last chunk of `left` (1..16) columns. */
static __mmask16 lanes_of(int left)
{
    return left >= LANES ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* ---- forward ---- */

/* W's rows j0 .. j0+cols-1 into pack, chunk by chunk: pack[(k * cols + j) * 16 + l] =
 * W[j0 + j][16 k + l], zero past `in`. */
SKINNY_TARGET static void pack_rows(const float *W, int in, int j0, int cols, float *pack)
{
    int chunks = (in + LANES - 1) / LANES;
    for (int k = 0; k < chunks; k++) {
        __mmask16 m = lanes_of(in - k * LANES);
        for (int j = 0; j < cols; j++)
            _mm512_store_ps(pack + ((size_t)k * cols + j) * LANES,
                            _mm512_maskz_loadu_ps(m, W + (size_t)(j0 + j) * in + k * LANES));
    }
}

/* Z[r][j] (r < rows, j < cols) = A's row r . packed row j, over `in` columns. */
TILE void abt_tile(const int rows, const int cols, int in, const float *A, const float *pack, float *Z, int ldz)
{
    __m512 c[FWD_ROWS][FWD_COLS], x[FWD_ROWS];
    UNROLL for (int r = 0; r < rows; r++) UNROLL for (int j = 0; j < cols; j++) c[r][j] = _mm512_setzero_ps();
    int full = in / LANES, k = 0;
    const float *wp = pack;
    for (; k < full; k++, wp += cols * LANES) {
        UNROLL for (int r = 0; r < rows; r++) x[r] = _mm512_loadu_ps(A + (size_t)r * in + k * LANES);
        UNROLL for (int j = 0; j < cols; j++) {
            __m512 w = _mm512_load_ps(wp + j * LANES);
            UNROLL for (int r = 0; r < rows; r++) c[r][j] = _mm512_fmadd_ps(x[r], w, c[r][j]);
        }
    }
    if (k * LANES < in) {   // the masked last chunk (the pack is zero there)
        __mmask16 m = lanes_of(in - k * LANES);
        UNROLL for (int r = 0; r < rows; r++) x[r] = _mm512_maskz_loadu_ps(m, A + (size_t)r * in + k * LANES);
        UNROLL for (int j = 0; j < cols; j++) {
            __m512 w = _mm512_load_ps(wp + j * LANES);
            UNROLL for (int r = 0; r < rows; r++) c[r][j] = _mm512_fmadd_ps(x[r], w, c[r][j]);
        }
    }
    UNROLL for (int r = 0; r < rows; r++)
        UNROLL for (int j = 0; j < cols; j++) Z[(size_t)r * ldz + j] = _mm512_reduce_add_ps(c[r][j]);
}

/* Every row of A against the `cols` packed rows: tiles of FWD_ROWS rows, then one at a time. */
#define ABT_ROWS(cols)                                                                      \
    do {                                                                                    \
        int i = 0;                                                                          \
        for (; i + FWD_ROWS <= n; i += FWD_ROWS)                                            \
            abt_tile(FWD_ROWS, cols, in, A + (size_t)i * in, pack, Z + (size_t)i * out + j0, out); \
        for (; i < n; i++) abt_tile(1, cols, in, A + (size_t)i * in, pack, Z + (size_t)i * out + j0, out); \
    } while (0)

SKINNY_TARGET void skinny_abt(int n, int out, int in, const float *A, const float *W, float *Z, float *pack)
{
    int j0 = 0;
    for (; j0 + FWD_COLS <= out; j0 += FWD_COLS) {
        pack_rows(W, in, j0, FWD_COLS, pack);
        ABT_ROWS(FWD_COLS);
    }
    for (; j0 < out; j0++) {   // the outputs left over, one at a time
        pack_rows(W, in, j0, 1, pack);
        ABT_ROWS(1);
    }
}

/* ---- backward ---- */

/* dW[j][16 q + l] (j < rows, q < chunks, the last chunk's lanes `last`) = sum over the n
 * rows i of dZ[i][j] A[i][16 q + l]. */
TILE void atb_tile(const int rows, const int chunks, __mmask16 last, int n, const float *dZ, int ldz,
                   const float *A, int lda, float *dW, int ldw)
{
    __m512 c[BWD_ROWS][BWD_CHUNKS], x[BWD_CHUNKS];
    UNROLL for (int j = 0; j < rows; j++) UNROLL for (int q = 0; q < chunks; q++) c[j][q] = _mm512_setzero_ps();
    for (int i = 0; i < n; i++) {
        const float *a = A + (size_t)i * lda, *d = dZ + (size_t)i * ldz;
        UNROLL for (int q = 0; q < chunks; q++)
            x[q] = q + 1 < chunks ? _mm512_loadu_ps(a + q * LANES) : _mm512_maskz_loadu_ps(last, a + q * LANES);
        UNROLL for (int j = 0; j < rows; j++) {
            __m512 b = _mm512_set1_ps(d[j]);
            UNROLL for (int q = 0; q < chunks; q++) c[j][q] = _mm512_fmadd_ps(b, x[q], c[j][q]);
        }
    }
    UNROLL for (int j = 0; j < rows; j++)
        UNROLL for (int q = 0; q < chunks; q++) {
            float *p = dW + (size_t)j * ldw + q * LANES;
            if (q + 1 < chunks) _mm512_storeu_ps(p, c[j][q]);
            else _mm512_mask_storeu_ps(p, last, c[j][q]);
        }
}

/* dW's rows j0 .. j0+rows-1, across all columns: 32 at a time, then the last 1..32. */
#define ATB_COLUMNS(rows)                                                                      \
    do {                                                                                       \
        int k = 0;                                                                             \
        for (; k + BWD_CHUNKS * LANES <= in; k += BWD_CHUNKS * LANES)                          \
            atb_tile(rows, BWD_CHUNKS, 0xffff, n, dZ + j0, out, A + k, in, dW + (size_t)j0 * in + k, in); \
        if (in - k > LANES)                                                                    \
            atb_tile(rows, 2, lanes_of(in - k - LANES), n, dZ + j0, out, A + k, in, dW + (size_t)j0 * in + k, in); \
        else if (in > k)                                                                       \
            atb_tile(rows, 1, lanes_of(in - k), n, dZ + j0, out, A + k, in, dW + (size_t)j0 * in + k, in); \
    } while (0)

SKINNY_TARGET void skinny_atb(int out, int in, int n, const float *dZ, const float *A, float *dW)
{
    int j0 = 0;
    for (; j0 + BWD_ROWS <= out; j0 += BWD_ROWS) ATB_COLUMNS(BWD_ROWS);
    for (; j0 < out; j0++) ATB_COLUMNS(1);
}
