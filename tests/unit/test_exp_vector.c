/* test_exp_vector.c: unit tests for runtime/exp_vector.c.
 *
 * sigmoid_inplace must give, for every float, the bits of 1 / (1 + expf(-z)) with the
 * expf this process links, and exp_inplace those of exp (glibc's; where the CPU has
 * AVX-512 and FMA, the vector code that reproduces them runs):
 *   - every 16th float bit pattern (2^28 arguments: every binade, both signs,
 *     subnormals, the |z| >= 88 edge, Inf and NaN), in calls of 1280 (a hidden layer
 *     of a half-minibatch) and of odd lengths (the loops' tails);
 *   - a call holding one special value (|z| >= 88, Inf, NaN) among ordinary ones, which
 *     sends the whole call to expf, gives the same bits as a call without it;
 *   - the shortest calls, n = 0 and 1;
 *   - exp_inplace: 10^7 random doubles over the ranges the softmax sees (logit
 *     differences in [-60, 0], tiny ones down to 2^-60, and exact 0s) and over
 *     [-600, 600], in calls of 1280 and of odd lengths; a special value (|x| >= 512,
 *     Inf, NaN) in a call gives the same bits elsewhere in it. */
#include "exp_vector.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

/* The function under test over an array, and whether one result has the plain libm
 * loop's bits (NaN payloads aside) for its argument. */
typedef struct Subject {
    size_t size;                                 // bytes per element
    void (*run)(void *x, int64_t n);             // in place
    int (*agrees)(const void *got, const void *arg);
} Subject;

static void run_sigmoid(void *x, int64_t n) { sigmoid_inplace(x, n); }
static void run_exp(void *x, int64_t n) { exp_inplace(x, n); }

static int sigmoid_agrees(const void *got, const void *arg)
{
    float y = *(const float *)got, want = 1.0f / (1.0f + expf(-*(const float *)arg));
    return memcmp(&y, &want, sizeof y) == 0 || (isnan(y) && isnan(want));
}

static int exp_agrees(const void *got, const void *arg)
{
    double y = *(const double *)got, want = exp(*(const double *)arg);
    return memcmp(&y, &want, sizeof y) == 0 || (isnan(y) && isnan(want));
}

static const Subject sigmoid = {sizeof(float), run_sigmoid, sigmoid_agrees};
static const Subject exp_subject = {sizeof(double), run_exp, exp_agrees};

/* Run the subject over x[0..n) in calls of `chunk` (into y); count results that differ. */
static int64_t mismatches(const Subject *f, const void *x, int64_t n, int64_t chunk, void *y)
{
    memcpy(y, x, (size_t)n * f->size);
    for (int64_t lo = 0; lo < n; lo += chunk)
        f->run((char *)y + (size_t)lo * f->size, lo + chunk < n ? chunk : n - lo);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += !f->agrees((const char *)y + (size_t)i * f->size, (const char *)x + (size_t)i * f->size);
    return bad;
}

static void check_patterns(void)
{
    enum { BLOCK = 1 << 20 };
    float *x = malloc(BLOCK * sizeof *x), *y = malloc(BLOCK * sizeof *y);
    int64_t bad_1280 = 0, bad_odd = 0;
    uint64_t pattern = 0;
    for (int block = 0; pattern < (1ull << 32); block++) {
        for (int i = 0; i < BLOCK; i++, pattern += 16) {
            uint32_t bits = (uint32_t)pattern;
            memcpy(&x[i], &bits, sizeof bits);
        }
        bad_1280 += mismatches(&sigmoid, x, BLOCK, 1280, y);
        if (block % 16 == 0) bad_odd += mismatches(&sigmoid, x, BLOCK, 37, y);   // 1/16 of them: tails
    }
    printf("every 16th float: %lld differ in calls of 1280, %lld in calls of 37\n", (long long)bad_1280,
           (long long)bad_odd);
    ASSERT_EQ(0, bad_1280);
    ASSERT_EQ(0, bad_odd);
    free(x), free(y);
}

static void check_sigmoid_specials(void)
{
    static const float special[] = {88.0f, -88.0f, 88.5f, -103.0f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN};
    float x[64], y[64];
    for (int i = 0; i < 64; i++) x[i] = (float)(i - 32) * 0.37f;
    for (size_t s = 0; s < sizeof special / sizeof *special; s++) {
        x[17] = special[s];
        ASSERT_EQ(0, mismatches(&sigmoid, x, 64, 64, y));
    }
    float arg = 0.25f, one = arg;
    sigmoid_inplace(&one, 1);
    ASSERT(sigmoid_agrees(&one, &arg));
    sigmoid_inplace(NULL, 0);   // nothing to do, nothing read
}

static uint64_t state = 88172645463325252ull;
static double uniform01(void)   // xorshift64
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (double)(state >> 11) * 0x1p-53;
}

static void check_exp(void)
{
    enum { N = 1 << 20, ROUNDS = 10 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    int64_t bad = 0, bad_odd = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) {
            double u = uniform01();
            switch (i % 4) {
            case 0: x[i] = -60 * u; break;
            case 1: x[i] = -ldexp(1 + u, -(int)(uniform01() * 61)); break;
            case 2: x[i] = (u - 0.5) * 1000; break;   // |x| < 500: the vector path
            default: x[i] = i % 64 == 3 ? 0.0 : (u - 0.5) * 20; break;
            }
        }
        bad += mismatches(&exp_subject, x, N, 1280, y);
        if (round == 0) bad_odd += mismatches(&exp_subject, x, N, 37, y);
    }
    printf("exp: %lld of %d random doubles differ in calls of 1280, %lld in calls of 37\n", (long long)bad,
           N * ROUNDS, (long long)bad_odd);
    ASSERT_EQ(0, bad);
    ASSERT_EQ(0, bad_odd);
    static const double special[] = {512.0, -512.0, -600.0, 700.0, -746.0, INFINITY, -INFINITY, NAN};
    double s[64], t[64];
    for (int i = 0; i < 64; i++) s[i] = (double)(i - 40) * 0.73;
    for (size_t k = 0; k < sizeof special / sizeof *special; k++) {
        s[29] = special[k];
        ASSERT_EQ(0, mismatches(&exp_subject, s, 64, 64, t));
    }
    free(x), free(y);
}

int main(void)
{
    check_patterns();
    check_sigmoid_specials();
    check_exp();
    return test_summary();
}
