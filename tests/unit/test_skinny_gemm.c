/* test_skinny_gemm.c: unit tests for runtime/skinny_gemm.c.
 *
 *   - skinny_abt (Z = A W^T) and skinny_atb (dW = dZ^T A) against the same products in
 *     double, over shapes that hit every tail: row counts around the 4-row tile, output
 *     counts around the 5- and 10-output tiles, inner dimensions around the 16-lane
 *     chunks and the 32-column backward tile, and the MNIST layers' own shapes;
 *   - nothing written outside the output (guard values after Z and dW), nothing read
 *     past the inputs (they end where a page would; ASan's build checks that);
 *   - the same inputs give the same bits twice (the order of the sums is fixed).
 * Skipped, with a note, where the CPU has no AVX-512F (the kernels are not used there). */
#include "skinny_gemm.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t state = 88172645463325252ull;
static float uniform(void)   // xorshift64, in [-1, 1)
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (float)((double)(state >> 11) / 4503599627370496.0 - 1.0);
}

enum { GUARD = 37 };
static const float guard = 12345.0f;

static int guarded(const float *p, size_t n)
{
    for (size_t i = 0; i < GUARD; i++)
        if (p[n + i] != guard) return 0;
    return 1;
}

/* Shapes that failed each property, counted over all shapes (one check each at the end). */
static int bad_abt, bad_atb, bad_guard, bad_repeat;

/* The worst |got[r][c] - sum_t X[r xr + t xt] Y[c yc + t yt]| over the rows r and
 * columns c of got (row stride ldg), relative to the sum of the products' magnitudes,
 * the sums over t < inner in double. */
static double worst_against_double(const float *got, int rows, int cols, size_t ldg, int inner, const float *X,
                                   size_t xr, size_t xt, const float *Y, size_t yc, size_t yt)
{
    double worst = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double s = 0, mag = 0;
            for (int t = 0; t < inner; t++) {
                double p = (double)X[(size_t)r * xr + (size_t)t * xt] * Y[(size_t)c * yc + (size_t)t * yt];
                s += p, mag += fabs(p);
            }
            worst = fmax(worst, fabs(got[(size_t)r * ldg + (size_t)c] - s) / fmax(mag, 1e-30));
        }
    return worst;
}

static void check_shape(int n, int out, int in)
{
    // Exact-size inputs (no slack after them), outputs with guards after.
    float *A = malloc((size_t)n * in * sizeof *A), *W = malloc((size_t)out * in * sizeof *W);
    float *dZ = malloc((size_t)n * out * sizeof *dZ);
    float *Z = malloc(((size_t)n * out + GUARD) * sizeof *Z), *Z2 = malloc(((size_t)n * out + GUARD) * sizeof *Z2);
    float *dW = malloc(((size_t)out * in + GUARD) * sizeof *dW), *dW2 = malloc(((size_t)out * in + GUARD) * sizeof *dW2);
    size_t pack_bytes = (skinny_pack_floats(in) * sizeof(float) + 63) / 64 * 64;
    float *pack = aligned_alloc(64, pack_bytes);
    for (size_t i = 0; i < (size_t)n * in; i++) A[i] = uniform();
    for (size_t i = 0; i < (size_t)out * in; i++) W[i] = uniform();
    for (size_t i = 0; i < (size_t)n * out; i++) dZ[i] = uniform();
    for (size_t i = 0; i < (size_t)n * out + GUARD; i++) Z[i] = Z2[i] = guard;
    for (size_t i = 0; i < (size_t)out * in + GUARD; i++) dW[i] = dW2[i] = guard;

    skinny_abt(n, out, in, A, W, Z, pack);
    skinny_atb(out, in, n, dZ, A, dW);
    // Z[i][j] = sum_k A[i][k] W[j][k];  dW[j][k] = sum_i dZ[i][j] A[i][k]
    double worst_z = worst_against_double(Z, n, out, out, in, A, in, 1, W, in, 1);
    double worst_w = worst_against_double(dW, out, in, in, n, dZ, 1, out, A, 1, in);
    int abt_ok = worst_z < 1e-5, atb_ok = worst_w < 1e-5;
    int guard_ok = guarded(Z, (size_t)n * out) && guarded(dW, (size_t)out * in);
    skinny_abt(n, out, in, A, W, Z2, pack);
    skinny_atb(out, in, n, dZ, A, dW2);
    int repeat_ok = memcmp(Z, Z2, (size_t)n * out * sizeof *Z) == 0 && memcmp(dW, dW2, (size_t)out * in * sizeof *dW) == 0;
    bad_abt += !abt_ok, bad_atb += !atb_ok, bad_guard += !guard_ok, bad_repeat += !repeat_ok;
    if (!abt_ok || !atb_ok || !guard_ok || !repeat_ok)
        fprintf(stderr, "    n=%d out=%d in=%d:%s%s%s%s (worst rel %.2g, %.2g)\n", n, out, in, abt_ok ? "" : " A W^T",
                atb_ok ? "" : " dZ^T A", guard_ok ? "" : " wrote past its output", repeat_ok ? "" : " other bits twice",
                worst_z, worst_w);
    free(A), free(W), free(dZ), free(Z), free(Z2), free(dW), free(dW2), free(pack);
}

int main(void)
{
    if (!skinny_available()) {
        fprintf(stderr, "skipped: skinny_gemm tests (no AVX-512F on this CPU; sgemm is used instead)\n");
        return test_summary();
    }
    static const int ns[] = {1, 3, 4, 5, 8, 63, 64};
    static const int outs[] = {1, 4, 5, 6, 9, 10, 11, 20, 23};
    static const int ins[] = {1, 15, 16, 17, 31, 32, 33, 48, 49};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof outs / sizeof *outs; b++)
            for (size_t c = 0; c < sizeof ins / sizeof *ins; c++) check_shape(ns[a], outs[b], ins[c]);
    // the MNIST network's layers on half minibatches and whole test chunks
    check_shape(64, 20, 784);
    check_shape(500, 20, 784);
    check_shape(64, 10, 20);
    check_shape(64, 40, 784);
    check_shape(64, 40, 40);
    check_shape(64, 64, 785);
    // float sums: relative to the sum of the products' magnitudes, within 1e-5
    test_record(!bad_abt, __FILE__, __LINE__, "skinny_abt: A W^T to float rounding, every shape");
    test_record(!bad_atb, __FILE__, __LINE__, "skinny_atb: dZ^T A to float rounding, every shape");
    test_record(!bad_guard, __FILE__, __LINE__, "skinny: nothing written past Z and dW, every shape");
    test_record(!bad_repeat, __FILE__, __LINE__, "skinny: the same bits twice, every shape");
    return test_summary();
}
