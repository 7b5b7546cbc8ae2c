/* lstm_sgemm.c: the JIT's f32 forward kernel of stdlib/lstm.ham against the same LSTM
 * step batched over coordinates with cblas_sgemm (one thread each).
 *
 * The LSTM optimizer runs two 20-unit LSTM cells on every coordinate with the same
 * weights, so a step over n coordinates is, per layer, one [80 x K] by [K x n] matrix
 * product and elementwise gates.  The sgemm variant stacks the gate weights
 *   A1 = [80 x 21]  rows: gates i, f, c, o (20 rows each); columns: x = g, then h1
 *   A2 = [80 x 40]  columns: h1', then h2
 * forms X1 = [21 x m], X2 = [40 x m] (row-major, coordinates along columns), computes
 * Z = A X with cblas_sgemm, adds the two biases, applies sigmoid / tanh, then
 * c' = f c + i z, h' = o tanh(c'), update = out_mul (w . h2' + b), and writes state_next
 * and update in the kernel's SoA layout (the same outputs as the JIT kernel).
 * Two sgemm variants: "full" with m = n (one sgemm per layer over all coordinates;
 * Z is 80 x n floats, out of cache at 10^5) and "blocked" with m = BLOCK coordinates
 * per chunk (Z, X1, X2 stay in L2).
 *
 * Flops per coordinate: 2 (80*21 + 80*40) = 9760 for the products, plus elementwise:
 * per layer 160 bias adds, 80 gate activations, 3*20 for c', 20 tanh, 20 for h'
 * (a transcendental counted as 1 flop) = 340, two layers 680, output 2*20 + 2 = 42:
 * 10482 in all.  Peak: one core's, measured by timing register FMA chains at 256 and
 * 512 bits (bench/fma_peak.c), as the clock and the FMA units' width vary by machine.
 *
 * The gate loop needs `#pragma omp simd` (-fopenmp-simd) for gcc to vectorize it
 * with libmvec; without it the sgemm variant is ~10x slower, all in scalar expf/tanhf.
 *
 * usage: lstm_sgemm [RESULTS.md [SUMMARY.json]]   (appends its section to the markdown file,
 * writes the numbers bench/race.py puts in its table to the JSON; run from the repo root
 * with HAM_STDLIB set; link like tools/bench.sh) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "bench_time.h"
#include "compile.h"
#include "fma_peak.h"
#include "rng.h"

void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);

#define H 20
#define G 80           // 4 gates x 20 units
#define K1 21          // x = g, then h1
#define K2 40          // h1', then h2
#define BLOCK 512      // coordinates per chunk in the blocked variant
#define NVERIFY 512    // coordinates compared between JIT and sgemm
#define FLOPS_MM (2.0 * (G * K1 + G * K2))
#define FLOPS_EW (2.0 * (160 + 80 + 60 + 20 + 20) + 42)

typedef struct Cell {
    float A1[G * K1], A2[G * K2];   // row-major
    float bias1[G], bias2[G];       // b + d per gate row
    float w[H], b, out_mul;
} Cell;

static const HamArrayInfo *param(const HamKernelInfo *in, const char *name)
{
    for (int i = 0; i < in->nparam_arrays; i++)
        if (strcmp(in->params[i].name, name) == 0) return &in->params[i];
    fprintf(stderr, "lstm_sgemm: lstm.ham has no param %s\n", name);
    exit(1);
}

/* The spec's arrays of gate k (i, f, c, o) of LSTM layer 1 or 2: input weights W, recurrent
 * weights U, biases b and d. */
static void gate_arrays(const HamKernelInfo *in, int k, int layer, const HamArrayInfo **W,
                        const HamArrayInfo **U, const HamArrayInfo **B, const HamArrayInfo **D)
{
    static const char gates[4] = {'i', 'f', 'c', 'o'};
    char nm[8];
    snprintf(nm, sizeof nm, "W%c%d", gates[k], layer);
    *W = param(in, nm);
    snprintf(nm, sizeof nm, "U%c%d", gates[k], layer);
    *U = param(in, nm);
    snprintf(nm, sizeof nm, "b%c%d", gates[k], layer);
    *B = param(in, nm);
    snprintf(nm, sizeof nm, "d%c%d", gates[k], layer);
    *D = param(in, nm);
}

/* Stack the spec's params (looked up by name, each matrix row-major) into A1, A2. */
static void build_cell(Cell *c, const HamKernelInfo *in, const float *p, const float *hypers)
{
    for (int k = 0; k < 4; k++) {
        for (int layer = 1; layer <= 2; layer++) {
            const HamArrayInfo *W, *U, *B, *D;
            gate_arrays(in, k, layer, &W, &U, &B, &D);
            int nin = layer == 1 ? 1 : H, K = layer == 1 ? K1 : K2;
            float *A = layer == 1 ? c->A1 : c->A2, *bias = layer == 1 ? c->bias1 : c->bias2;
            for (int u = 0; u < H; u++) {
                int r = k * H + u;
                for (int q = 0; q < nin; q++) A[r * K + q] = p[W->offset + u * nin + q];
                for (int q = 0; q < H; q++) A[r * K + nin + q] = p[U->offset + u * H + q];
                bias[r] = p[B->offset + u] + p[D->offset + u];
            }
        }
    }
    const HamArrayInfo *w = param(in, "w"), *b = param(in, "b");
    for (int u = 0; u < H; u++) c->w[u] = p[w->offset + u];
    c->b = p[b->offset];
    c->out_mul = NAN;
    for (int i = 0; i < in->nhyper; i++)
        if (strcmp(in->hyper_names[i], "out_mul") == 0) c->out_mul = hypers[i];
}

static inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Elementwise part of one layer: Z [80 x m] (+ bias) and c [20 rows, ld cld] ->
 * c' and h' (next state rows, ld nld) and h' again into hx (ld m). */
static void gates_ew(int64_t m, const float *Z, const float *bias, const float *c, int64_t cld,
                     float *cn_out, float *hn_out, int64_t nld, float *hx)
{
    for (int u = 0; u < H; u++) {
        const float *restrict zi = Z + (0 * H + u) * m, *restrict zf = Z + (1 * H + u) * m;
        const float *restrict zc = Z + (2 * H + u) * m, *restrict zo = Z + (3 * H + u) * m;
        float bi = bias[0 * H + u], bf = bias[1 * H + u], bc = bias[2 * H + u], bo = bias[3 * H + u];
        const float *restrict cu = c + u * cld;   // restrict: lets gcc vectorize (libmvec)
        float *restrict cn = cn_out + u * nld, *restrict hn = hn_out + u * nld, *restrict hxu = hx + u * m;
#pragma omp simd
        for (int64_t j = 0; j < m; j++) {
            float i = sigm(zi[j] + bi), f = sigm(zf[j] + bf), z = tanhf(zc[j] + bc), o = sigm(zo[j] + bo);
            float cc = f * cu[j] + i * z, h = o * tanhf(cc);
            cn[j] = cc, hn[j] = h, hxu[j] = h;
        }
    }
}

/* The step on coordinates [j0, j0 + m) of SoA arrays with stride `st`; X1 [21 x m],
 * X2 [40 x m], Z [80 x m] scratch. */
static void lstm_sgemm_range(const Cell *c, const float *state, const float *g, float *next, float *upd,
                             int64_t st, int64_t j0, int64_t m, float *X1, float *X2, float *Z)
{
    const float *h1 = state, *c1 = state + H * st, *h2 = state + 2 * H * st, *c2 = state + 3 * H * st;
    float *h1n = next, *c1n = next + H * st, *h2n = next + 2 * H * st, *c2n = next + 3 * H * st;
    memcpy(X1, g + j0, (size_t)m * sizeof(float));
    for (int u = 0; u < H; u++) memcpy(X1 + (1 + u) * m, h1 + u * st + j0, (size_t)m * sizeof(float));
    for (int u = 0; u < H; u++) memcpy(X2 + (H + u) * m, h2 + u * st + j0, (size_t)m * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, G, (int)m, K1, 1.0f, c->A1, K1, X1, (int)m, 0.0f, Z,
                (int)m);
    gates_ew(m, Z, c->bias1, c1 + j0, st, c1n + j0, h1n + j0, st, X2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, G, (int)m, K2, 1.0f, c->A2, K2, X2, (int)m, 0.0f, Z,
                (int)m);
    // h2' lands in X1's rows (scratch, no longer needed) for the output product.
    gates_ew(m, Z, c->bias2, c2 + j0, st, c2n + j0, h2n + j0, st, X1);
    float *restrict u = upd + j0;
    for (int64_t j = 0; j < m; j++) u[j] = c->b;
    for (int q = 0; q < H; q++) {
        const float *restrict hq = X1 + q * m;
        float wq = c->w[q];
        for (int64_t j = 0; j < m; j++) u[j] += wq * hq[j];
    }
    for (int64_t j = 0; j < m; j++) u[j] *= c->out_mul;
}

typedef struct Bench {
    int64_t n;
    HamKernelFn fwd;
    HamStepArgs args;
    const Cell *cell;
    float *state, *g, *next_jit, *next_mm, *upd_jit, *upd_mm;
    float *X1, *X2, *Z;          // scratch for n coordinates
} Bench;

enum { V_JIT, V_FULL, V_BLOCKED, V_COUNT };
static const char *vname[V_COUNT] = {"JIT f32 kernel", "sgemm, full n", "sgemm, blocks of 512"};

static void run(Bench *b, int v)
{
    if (v == V_JIT) {
        b->fwd(&b->args);
    } else if (v == V_FULL) {
        lstm_sgemm_range(b->cell, b->state, b->g, b->next_mm, b->upd_mm, b->n, 0, b->n, b->X1, b->X2, b->Z);
    } else {
        for (int64_t j0 = 0; j0 < b->n; j0 += BLOCK) {
            int64_t m = b->n - j0 < BLOCK ? b->n - j0 : BLOCK;
            lstm_sgemm_range(b->cell, b->state, b->g, b->next_mm, b->upd_mm, b->n, j0, m, b->X1, b->X2, b->Z);
        }
    }
}

/* Max relative difference over the first `cnt` coordinates of each state row and the
 * update: |a - b| / max(|b|, rms of that quantity over the compared coordinates). */
static double compare(const Bench *b, int64_t cnt, double *state_err, double *upd_err)
{
    double es = 0, eu = 0;
    for (int s = 0; s <= 4 * H; s++) {
        const float *x = s < 4 * H ? b->next_jit + s * b->n : b->upd_jit;
        const float *y = s < 4 * H ? b->next_mm + s * b->n : b->upd_mm;
        double rms = 0;
        for (int64_t j = 0; j < cnt; j++) rms += (double)x[j] * x[j];
        rms = sqrt(rms / (double)cnt) + 1e-30;
        for (int64_t j = 0; j < cnt; j++) {
            double e = fabs((double)x[j] - y[j]) / fmax(fabs((double)x[j]), rms);
            if (s < 4 * H) es = fmax(es, e);
            else eu = fmax(eu, e);
        }
    }
    *state_err = es, *upd_err = eu;
    return fmax(es, eu);
}

/* ---- Adjoint ----------------------------------------------------------------------
 * The sgemm backward works from the forward's saved activations (Saved, SoA rows of
 * stride n): per layer the gates i, f, z, o, c' and tanh(c'), plus X1 = [g; h1],
 * X2 = [h1'; h2] and h2'.  Seeds per coordinate: dh1', dc1', dh2', dc2' (state_next_bar)
 * and dupdate.  Going back:
 *   dh2' += out_mul du w;  dw += out_mul sum du h2';  db += out_mul sum du
 *   per layer: dc' = seed + dh' o (1 - T^2);  dZ (80 rows, pre-activation) =
 *     [dc' z i(1-i); dc' c f(1-f); dc' i (1-z^2); dh' T o(1-o)];  c_bar = dc' f
 *   dX = A^T dZ (sgemm: layer 2 gives dh1' (added to its seed) and h2_bar, layer 1
 *   gives h1_bar; the g row is not needed), dA += dZ X^T (sgemm, summed over the
 *   coordinates), bias grads (b and d alike) = row sums of dZ. */
typedef struct Saved {
    float *gate[2][6];   // [layer][i, f, z, o, c', tanh(c')], each [20 x n]
    float *X1, *X2, *h2n;
} Saved;

typedef struct Grads {
    float A1[G * K1], A2[G * K2], bias1[G], bias2[G], w[H], b;
} Grads;

#define FLOPS_BWD_MM (2.0 * FLOPS_MM)
#define FLOPS_BWD_EW 1142.0   // 26 per unit and layer, the output head, dh1' adds

/* Forward of one layer's gates on a block: Z [80 x m] -> saved gates (ld n), h' into hx (ld n). */
static void gates_save(int64_t m, int64_t n, const float *Z, const float *bias, const float *c, float *const *sv,
                       float *hx)
{
    for (int u = 0; u < H; u++) {
        const float *restrict zi = Z + (0 * H + u) * m, *restrict zf = Z + (1 * H + u) * m;
        const float *restrict zc = Z + (2 * H + u) * m, *restrict zo = Z + (3 * H + u) * m;
        float bi = bias[0 * H + u], bf = bias[1 * H + u], bc = bias[2 * H + u], bo = bias[3 * H + u];
        const float *restrict cu = c + u * n;
        float *restrict si = sv[0] + u * n, *restrict sf = sv[1] + u * n, *restrict sz = sv[2] + u * n;
        float *restrict so = sv[3] + u * n, *restrict sc = sv[4] + u * n, *restrict st = sv[5] + u * n;
        float *restrict hxu = hx + u * n;
#pragma omp simd
        for (int64_t j = 0; j < m; j++) {
            float i = sigm(zi[j] + bi), f = sigm(zf[j] + bf), z = tanhf(zc[j] + bc), o = sigm(zo[j] + bo);
            float cc = f * cu[j] + i * z, t = tanhf(cc);
            si[j] = i, sf[j] = f, sz[j] = z, so[j] = o, sc[j] = cc, st[j] = t, hxu[j] = o * t;
        }
    }
}

/* Forward step over [j0, j0 + m) saving everything the backward needs (n = stride). */
static void lstm_fwd_save(const Cell *c, const float *state, int64_t n, int64_t j0, int64_t m, Saved *s, float *Z)
{
    const float *c1 = state + H * n, *c2 = state + 3 * H * n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, G, (int)m, K1, 1.0f, c->A1, K1, s->X1 + j0, (int)n, 0.0f,
                Z, (int)m);
    gates_save(m, n, Z, c->bias1, c1 + j0, (float *[6]){s->gate[0][0] + j0, s->gate[0][1] + j0, s->gate[0][2] + j0,
                                                    s->gate[0][3] + j0, s->gate[0][4] + j0, s->gate[0][5] + j0},
               s->X2 + j0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, G, (int)m, K2, 1.0f, c->A2, K2, s->X2 + j0, (int)n, 0.0f,
                Z, (int)m);
    gates_save(m, n, Z, c->bias2, c2 + j0, (float *[6]){s->gate[1][0] + j0, s->gate[1][1] + j0, s->gate[1][2] + j0,
                                                    s->gate[1][3] + j0, s->gate[1][4] + j0, s->gate[1][5] + j0},
               s->h2n + j0);
}

/* One layer's elementwise backward on a block: dh (ld dhld), dc' seed and c (ld n) ->
 * dZ [80 x m], c_bar (ld n); bias row sums added to dbias. */
static void gates_bwd(int64_t m, int64_t n, float *const *sv, const float *dh, int64_t dhld, const float *dcs,
                      const float *c, float *cbar, float *dZ, float *dbias)
{
    for (int u = 0; u < H; u++) {
        const float *restrict si = sv[0] + u * n, *restrict sf = sv[1] + u * n, *restrict sz = sv[2] + u * n;
        const float *restrict so = sv[3] + u * n, *restrict st = sv[5] + u * n;
        const float *restrict dhu = dh + u * dhld, *restrict dcu = dcs + u * n, *restrict cu = c + u * n;
        float *restrict cb = cbar + u * n;
        float *restrict di = dZ + (0 * H + u) * m, *restrict df = dZ + (1 * H + u) * m;
        float *restrict dz = dZ + (2 * H + u) * m, *restrict dO = dZ + (3 * H + u) * m;
        float si_ = 0, sf_ = 0, sz_ = 0, so_ = 0;
#pragma omp simd reduction(+ : si_, sf_, sz_, so_)
        for (int64_t j = 0; j < m; j++) {
            float i = si[j], f = sf[j], z = sz[j], o = so[j], t = st[j], h = dhu[j];
            float dc = dcu[j] + h * o * (1 - t * t);
            float a = dc * z * i * (1 - i), b = dc * cu[j] * f * (1 - f), cz = dc * i * (1 - z * z),
                  d = h * t * o * (1 - o);
            di[j] = a, df[j] = b, dz[j] = cz, dO[j] = d, cb[j] = dc * f;
            si_ += a, sf_ += b, sz_ += cz, so_ += d;
        }
        dbias[0 * H + u] += si_, dbias[1 * H + u] += sf_, dbias[2 * H + u] += sz_, dbias[3 * H + u] += so_;
    }
}

/* Backward over [j0, j0 + m); gr accumulates (zero it before the first block).
 * dZ [80 x m], dh [20 x m] scratch. */
static void lstm_bwd_range(const Cell *c, const Saved *s, const float *state, const float *snb, const float *ub,
                           float *sbar, Grads *gr, int64_t n, int64_t j0, int64_t m, float *dZ, float *dh)
{
    const float *c1 = state + H * n, *c2 = state + 3 * H * n;
    float om = c->out_mul;
    // Output head: dh2' = seed + out_mul du w (into dh), dw, db.
    {
        const float *restrict u = ub + j0;
        float sb = 0;
        for (int64_t j = 0; j < m; j++) sb += u[j];
        gr->b += om * sb;
        for (int q = 0; q < H; q++) {
            const float *restrict sq = snb + (2 * H + q) * n + j0, *restrict hq = s->h2n + q * n + j0;
            float *restrict d = dh + q * m, wq = om * c->w[q], sw = 0;
#pragma omp simd reduction(+ : sw)
            for (int64_t j = 0; j < m; j++) {
                d[j] = sq[j] + wq * u[j];
                sw += u[j] * hq[j];
            }
            gr->w[q] += om * sw;
        }
    }
    float *const sv2[6] = {s->gate[1][0] + j0, s->gate[1][1] + j0, s->gate[1][2] + j0,
                           s->gate[1][3] + j0, s->gate[1][4] + j0, s->gate[1][5] + j0};
    gates_bwd(m, n, sv2, dh, m, snb + 3 * H * n + j0, c2 + j0, sbar + 3 * H * n + j0, dZ, gr->bias2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, G, K2, (int)m, 1.0f, dZ, (int)m, s->X2 + j0, (int)n, 1.0f,
                gr->A2, K2);
    // dX2 = A2^T dZ2: rows 0..19 (h1') into dh, rows 20..39 are h2_bar.
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, (int)m, G, 1.0f, c->A2, K2, dZ, (int)m, 0.0f, dh, (int)m);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, (int)m, G, 1.0f, c->A2 + H, K2, dZ, (int)m, 0.0f,
                sbar + 2 * H * n + j0, (int)n);
    for (int q = 0; q < H; q++) {
        const float *restrict sq = snb + q * n + j0;
        float *restrict d = dh + q * m;
        for (int64_t j = 0; j < m; j++) d[j] += sq[j];
    }
    float *const sv1[6] = {s->gate[0][0] + j0, s->gate[0][1] + j0, s->gate[0][2] + j0,
                           s->gate[0][3] + j0, s->gate[0][4] + j0, s->gate[0][5] + j0};
    gates_bwd(m, n, sv1, dh, m, snb + H * n + j0, c1 + j0, sbar + H * n + j0, dZ, gr->bias1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, G, K1, (int)m, 1.0f, dZ, (int)m, s->X1 + j0, (int)n, 1.0f,
                gr->A1, K1);
    // h1_bar = A1[:, 1:21]^T dZ1 (column 0 would be g_bar, not an output).
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, (int)m, G, 1.0f, c->A1 + 1, K1, dZ, (int)m, 0.0f,
                sbar + 0 * H * n + j0, (int)n);
}

/* Grads -> the spec's param_bar layout (inverse of build_cell). */
static void unstack_grads(const Grads *gr, const HamKernelInfo *in, float *pb)
{
    memset(pb, 0, (size_t)in->nparam * sizeof(float));
    for (int k = 0; k < 4; k++)
        for (int layer = 1; layer <= 2; layer++) {
            const HamArrayInfo *W, *U, *B, *D;
            gate_arrays(in, k, layer, &W, &U, &B, &D);
            int nin = layer == 1 ? 1 : H, K = layer == 1 ? K1 : K2;
            const float *A = layer == 1 ? gr->A1 : gr->A2, *bias = layer == 1 ? gr->bias1 : gr->bias2;
            for (int u = 0; u < H; u++) {
                int r = k * H + u;
                for (int q = 0; q < nin; q++) pb[W->offset + u * nin + q] = A[r * K + q];
                for (int q = 0; q < H; q++) pb[U->offset + u * H + q] = A[r * K + nin + q];
                pb[B->offset + u] = bias[r], pb[D->offset + u] = bias[r];
            }
        }
    const HamArrayInfo *w = param(in, "w"), *b = param(in, "b");
    for (int u = 0; u < H; u++) pb[w->offset + u] = gr->w[u];
    pb[b->offset] = gr->b;
}

/* Max relative difference |x - y| / max(|x|, rms of x) over cnt values at stride 1. */
static double rel_err(const float *x, const float *y, int64_t cnt)
{
    double rms = 0, e = 0;
    for (int64_t j = 0; j < cnt; j++) rms += (double)x[j] * x[j];
    rms = sqrt(rms / (double)cnt) + 1e-30;
    for (int64_t j = 0; j < cnt; j++) e = fmax(e, fabs((double)x[j] - y[j]) / fmax(fabs((double)x[j]), rms));
    return e;
}

enum { A_JIT, A_BWD_FULL, A_BWD_BLOCKED, A_FWDBWD_BLOCKED, A_COUNT };
static const char *aname[A_COUNT] = {"adjoint: JIT f32 kernel", "adjoint: sgemm backward, full n (saved gates)",
                                     "adjoint: sgemm backward, blocks of 512 (saved gates)",
                                     "adjoint: sgemm forward (saving gates) + backward, blocks of 512"};

typedef struct AdjResult {
    int64_t n;
    double ms[A_COUNT], es, ep;   // ms per call; max rel. diff state_bar / param_bar
    int ok;
} AdjResult;

static void adjoint_bench(const Cell *cell, const HamKernelInfo *in, HamKernelFn adj, const float *params,
                          const float *hypers, int64_t n, AdjResult *res)
{
    size_t S = (size_t)(4 * H * n) * sizeof(float);
    float *state = malloc(S), *next = malloc(S), *snb = malloc(S), *sbar_jit = malloc(S), *sbar_mm = malloc(S);
    float *g = malloc((size_t)n * sizeof(float)), *upd = malloc((size_t)n * sizeof(float));
    float *ub = malloc((size_t)n * sizeof(float)), *theta = calloc((size_t)n, sizeof(float));
    float *pb_jit = malloc((size_t)in->nparam * sizeof(float)), *pb_mm = malloc((size_t)in->nparam * sizeof(float));
    Saved sv;
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 6; k++) sv.gate[l][k] = malloc((size_t)(H * n) * sizeof(float));
    sv.X1 = malloc((size_t)(K1 * n) * sizeof(float)), sv.X2 = malloc((size_t)(K2 * n) * sizeof(float));
    sv.h2n = malloc((size_t)(H * n) * sizeof(float));
    float *Z = malloc((size_t)(G * n) * sizeof(float)), *dh = malloc((size_t)(H * n) * sizeof(float));
    Rng rng = {4242};
    for (int64_t j = 0; j < n; j++) g[j] = (float)rng_normal(&rng);
    for (int s = 0; s < 4 * H; s++)
        for (int64_t j = 0; j < n; j++)
            state[s * n + j] = (s / H) % 2 == 0 ? (float)(1.8 * rng_uniform01(&rng) - 0.9) : (float)rng_normal(&rng);
    for (int64_t j = 0; j < 4 * H * n; j++) snb[j] = (float)rng_normal(&rng);
    for (int64_t j = 0; j < n; j++) ub[j] = (float)rng_normal(&rng);
    HamStepArgs a = {0};
    a.begin = 0, a.end = n, a.stride = n;
    a.state = state, a.g = g, a.theta = theta, a.t = 1, a.params = params, a.hypers = hypers;
    a.state_next = next, a.update = upd;
    a.state_next_bar = snb, a.update_bar = ub, a.state_bar = sbar_jit, a.param_bar = pb_jit;
    // X1 = [g; h1], X2 rows 20..39 = h2: inputs, filled once (the forward writes h1' into X2).
    memcpy(sv.X1, g, (size_t)n * sizeof(float));
    memcpy(sv.X1 + n, state, (size_t)(H * n) * sizeof(float));
    memcpy(sv.X2 + H * n, state + 2 * H * n, (size_t)(H * n) * sizeof(float));
    static Grads gr;
#define BWD(m_)                                                                                    \
    do {                                                                                           \
        memset(&gr, 0, sizeof gr);                                                                 \
        for (int64_t j0 = 0; j0 < n; j0 += (m_)) {                                                 \
            int64_t m = n - j0 < (m_) ? n - j0 : (m_);                                             \
            lstm_bwd_range(cell, &sv, state, snb, ub, sbar_mm, &gr, n, j0, m, Z, dh);              \
        }                                                                                          \
    } while (0)
    // Verify: JIT adjoint against forward-save + backward (both sgemm variants).
    adj(&a);
    for (int64_t j0 = 0; j0 < n; j0 += BLOCK) lstm_fwd_save(cell, state, n, j0, n - j0 < BLOCK ? n - j0 : BLOCK, &sv, Z);
    res->es = res->ep = 0;
    for (int v = 0; v < 2; v++) {
        memset(sbar_mm, 0, S);
        if (v == 0) BWD(n);
        else BWD(BLOCK);
        unstack_grads(&gr, in, pb_mm);
        for (int s = 0; s < 4 * H; s++) res->es = fmax(res->es, rel_err(sbar_jit + s * n, sbar_mm + s * n, NVERIFY));
        res->ep = fmax(res->ep, rel_err(pb_jit, pb_mm, in->nparam));
    }
    res->ok = res->es <= 1e-4 && res->ep <= 1e-3;
    enum { REPS = 21 };
    double samples[A_COUNT][REPS];
    for (int r = 0; r < REPS; r++)
        for (int v = 0; v < A_COUNT; v++) {
            double s0 = now_s();
            if (v == A_JIT) adj(&a);
            else if (v == A_BWD_FULL) BWD(n);
            else if (v == A_BWD_BLOCKED) BWD(BLOCK);
            else {
                memset(&gr, 0, sizeof gr);
                for (int64_t j0 = 0; j0 < n; j0 += BLOCK) {
                    int64_t m = n - j0 < BLOCK ? n - j0 : BLOCK;
                    lstm_fwd_save(cell, state, n, j0, m, &sv, Z);
                    lstm_bwd_range(cell, &sv, state, snb, ub, sbar_mm, &gr, n, j0, m, Z, dh);
                }
            }
            samples[v][r] = now_s() - s0;
        }
#undef BWD
    for (int v = 0; v < A_COUNT; v++) {
        qsort(samples[v], REPS, sizeof(double), cmp_double);
        res->ms[v] = samples[v][REPS / 4] * 1e3;   // lower quartile: a neighbour's load only adds time
    }
    res->n = n;
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 6; k++) free(sv.gate[l][k]);
    free(sv.X1), free(sv.X2), free(sv.h2n), free(Z), free(dh);
    free(state), free(next), free(snb), free(sbar_jit), free(sbar_mm), free(g), free(upd), free(ub), free(theta);
    free(pb_jit), free(pb_mm);
}

static double cpu_mhz(void)
{
    char line[512];
    double mhz = NAN;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "cpu MHz", 7) == 0) {
            mhz = atof(strchr(line, ':') + 1);
            break;
        }
    if (f) fclose(f);
    return mhz;
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1);
    char err[512];
    Jit *jit = jit_create(err, sizeof err);
    if (!jit) {
        fprintf(stderr, "lstm_sgemm: %s\n", err);
        return 1;
    }
    Compiled cc;
    CompileRequest req = {0};
    req.path = "stdlib/lstm.ham";
    req.precisions = 1 << HAM_F32;
    req.with_adjoint = 1;
    double t0 = now_s();
    if (compile_optimizer(jit, &req, stderr, &cc, err, sizeof err) != 0) {
        fprintf(stderr, "lstm_sgemm: %s\n", err);
        return 1;
    }
    double compile_ms = (now_s() - t0) * 1e3;
    const HamKernelInfo *in = &cc.kernel.info;
    if (in->nstate != 4 * H) {
        fprintf(stderr, "lstm_sgemm: expected 80 state scalars, got %d\n", in->nstate);
        return 1;
    }
    double *pd = calloc((size_t)in->nparam, sizeof(double));
    Rng prng = {7};
    step_initial_params(cc.step, pd, rng_draw, &prng);
    float *params = calloc((size_t)in->nparam, sizeof(float)), *hypers = calloc((size_t)in->nhyper + 1, sizeof(float));
    for (int i = 0; i < in->nparam; i++) params[i] = (float)pd[i];
    for (int i = 0; i < in->nhyper; i++) hypers[i] = (float)cc.hypers[i];
    static Cell cell;
    build_cell(&cell, in, params, hypers);

    FmaPeak fp = fma_peak_measure();
    double mhz = cpu_mhz(), peak = fp.gflops;   // GFLOP/s, one core
    double flops = FLOPS_MM + FLOPS_EW;
    static const int64_t sizes[] = {15910, 100000};
    FILE *md = argc > 1 ? fopen(argv[1], "a") : NULL;
    FILE *fs[2] = {stdout, md};
    for (int k = 0; k < 2 && fs[k]; k++) {
        fprintf(fs[k], "\n## LSTM: JIT kernel against sgemm-batched cell\n\n"
                       "Written by bench/lstm_sgemm.c via tools/bench.sh.  stdlib/lstm.ham (2 LSTM layers of 20 "
                       "units, %d params, 80 state scalars), one f32 step over n coordinates, one thread "
                       "(openblas_set_num_threads(1); the kernel called on [0, n)); ns per coordinate, lower quartile of "
                       "interleaved repetitions.  The JIT kernel is the staged step hamc compiles by default (its gate "
                       "products lowered to sgemm over sub-blocks of 256 coordinates between JIT gate kernels; "
                       "HAM_GEMM=off gives the fully scalarized kernel).  sgemm: gate weights stacked into A1 [80 x 21], A2 [80 x 40], "
                       "Z = A X by cblas_sgemm (%s), then the gates elementwise (gcc -O3 -march=native "
                       "-ffast-math, `omp simd`, libmvec expf/tanhf); \"full\" does one sgemm per layer over all n, \"blocks\" works on "
                       "%d coordinates at a time.  %.0f flops per coordinate (%.0f in the products, %.0f "
                       "elementwise, a transcendental counted as 1); peak = one core's register FMA chains, "
                       "measured (bench/fma_peak.c): %.1f GFLOP/s at 256 bits, %.1f at 512 ('cpu MHz' %.0f).  "
                       "JIT compile %.0f ms.\n\n",
                in->nparam, openblas_get_config(), BLOCK, flops, FLOPS_MM, FLOPS_EW, fp.gflops_256, fp.gflops_512,
                mhz, compile_ms);
        fprintf(fs[k], "| n | variant | ns/coord | GFLOP/s | %% of peak | JIT / this | max rel. diff state / update "
                       "(first %d coords) |\n|---|---|---|---|---|---|---|\n", NVERIFY);
    }
    int fail = 0;
    double ns_all[2][V_COUNT];
    for (int si = 0; si < 2; si++) {
        int64_t n = sizes[si];
        Bench b = {.n = n, .fwd = cc.kernel.forward[HAM_F32], .cell = &cell};
        b.state = malloc((size_t)(4 * H * n) * sizeof(float));
        b.next_jit = malloc((size_t)(4 * H * n) * sizeof(float));
        b.next_mm = malloc((size_t)(4 * H * n) * sizeof(float));
        b.g = malloc((size_t)n * sizeof(float));
        b.upd_jit = malloc((size_t)n * sizeof(float));
        b.upd_mm = malloc((size_t)n * sizeof(float));
        b.X1 = malloc((size_t)(K1 * n) * sizeof(float));
        b.X2 = malloc((size_t)(K2 * n) * sizeof(float));
        b.Z = malloc((size_t)(G * n) * sizeof(float));
        float *theta = calloc((size_t)n, sizeof(float));
        Rng rng = {12345};
        for (int64_t j = 0; j < n; j++) b.g[j] = (float)rng_normal(&rng);
        for (int s = 0; s < 4 * H; s++)   // h in (-0.9, 0.9), c ~ N(0, 1)
            for (int64_t j = 0; j < n; j++)
                b.state[s * n + j] = (s / H) % 2 == 0 ? (float)(1.8 * rng_uniform01(&rng) - 0.9)
                                                      : (float)rng_normal(&rng);
        HamStepArgs a = {0};
        a.begin = 0, a.end = n, a.stride = n;
        a.state = b.state, a.g = b.g, a.theta = theta, a.t = 1;
        a.params = params, a.hypers = hypers;
        a.state_next = b.next_jit, a.update = b.upd_jit;
        b.args = a;

        // Warm-up and verification (each sgemm variant against the JIT).
        double es[V_COUNT] = {0}, eu[V_COUNT] = {0};
        run(&b, V_JIT);
        for (int v = V_FULL; v < V_COUNT; v++) {
            memset(b.next_mm, 0, (size_t)(4 * H * n) * sizeof(float));
            run(&b, v);
            if (compare(&b, NVERIFY, &es[v], &eu[v]) > 1e-4) fail = 1;
        }
        // Interleaved rounds, the lower quartile per variant (as bench/race.py: on a
        // shared machine a neighbour's load only adds time).
        enum { REPS = 15 };
        double samples[V_COUNT][REPS];
        for (int r = 0; r < REPS; r++)
            for (int v = 0; v < V_COUNT; v++) {
                double s0 = now_s();
                run(&b, v);
                samples[v][r] = now_s() - s0;
            }
        double ns[V_COUNT];
        for (int v = 0; v < V_COUNT; v++) {
            qsort(samples[v], REPS, sizeof(double), cmp_double);
            ns[v] = samples[v][REPS / 4] / (double)n * 1e9;
            ns_all[si][v] = ns[v];
        }
        for (int k = 0; k < 2 && fs[k]; k++)
            for (int v = 0; v < V_COUNT; v++) {
                double gf = flops / ns[v];
                char diff[64] = "(reference)";
                if (v != V_JIT) snprintf(diff, sizeof diff, "%.1e / %.1e", es[v], eu[v]);
                fprintf(fs[k], "| %lld | %s | %.1f | %.2f | %.1f%% | %.2f | %s |\n", (long long)n, vname[v], ns[v],
                        gf, gf / peak * 100, ns[V_JIT] / ns[v], diff);
            }
        free(b.state), free(b.next_jit), free(b.next_mm), free(b.g), free(b.upd_jit), free(b.upd_mm);
        free(b.X1), free(b.X2), free(b.Z), free(theta);
    }
    // The adjoint at n = 15910 (MNIST MLP size), rows appended to the same table.
    AdjResult ar;
    adjoint_bench(&cell, in, cc.kernel.adjoint[HAM_F32], params, hypers, 15910, &ar);
    if (!ar.ok) fail = 1;
    double aflops = FLOPS_BWD_MM + FLOPS_BWD_EW;
    for (int k = 0; k < 2 && fs[k]; k++)
        for (int v = 0; v < A_COUNT; v++) {
            double nsc = ar.ms[v] * 1e6 / (double)ar.n, gf = (v == A_FWDBWD_BLOCKED ? aflops + flops : aflops) / nsc;
            char diff[80] = "(reference)";
            if (v != A_JIT) snprintf(diff, sizeof diff, "%.1e / %.1e (state_bar / param_bar)", ar.es, ar.ep);
            fprintf(fs[k], "| %lld | %s, %.3f ms/call | %.1f | %.2f | %.1f%% | %.2f | %s |\n", (long long)ar.n, aname[v],
                    ar.ms[v], nsc, gf, gf / peak * 100, ar.ms[A_JIT] / ar.ms[v], diff);
        }
    for (int k = 0; k < 2 && fs[k]; k++)
        fprintf(fs[k], "\nAdjoint rows: the JIT adjoint kernel (which recomputes the forward inside) against the "
                       "backward pass batched with sgemm from the forward's saved gates (dX = A^T dZ, dA += dZ X^T "
                       "by sgemm, bias grads = row sums); random seeds dh1', dc1', dh2', dc2', dupdate.  %.0f flops "
                       "per coordinate for the backward (%.0f in the products, ~%.0f elementwise); the last row adds "
                       "the saving forward (%.0f).  state_bar compared on the first %d coords, param_bar (sums over "
                       "all n) on every param.\n",
                FLOPS_BWD_MM + FLOPS_BWD_EW, FLOPS_BWD_MM, FLOPS_BWD_EW, flops, NVERIFY);
    if (fail)
        for (int k = 0; k < 2 && fs[k]; k++)
            fprintf(fs[k], "\nVERIFY FAILED: JIT and sgemm disagree by more than 1e-4 relative.\n");
    if (md) fclose(md);
    FILE *js = argc > 2 ? fopen(argv[2], "w") : NULL;
    if (js) {   // the summary bench/race.py puts in the one table
        fprintf(js, "{\"flops_fwd\": %.0f, \"flops_adj\": %.0f, \"peak_gflops_1core\": %.2f, \"peak_gflops_256\": %.2f, "
                    "\"peak_gflops_512\": %.2f, \"mhz\": %.1f, "
                    "\"verified\": %s, \"fwd\": [",
                flops, aflops, peak, fp.gflops_256, fp.gflops_512, mhz, fail ? "false" : "true");
        for (int si = 0; si < 2; si++)
            fprintf(js, "%s{\"n\": %lld, \"jit\": %.5g, \"sgemm_full\": %.5g, \"sgemm_blocked\": %.5g}", si ? ", " : "",
                    (long long)sizes[si], ns_all[si][V_JIT], ns_all[si][V_FULL], ns_all[si][V_BLOCKED]);
        fprintf(js, "], \"adjoint\": {\"n\": %lld, \"jit_ms\": %.5g, \"sgemm_bwd_ms\": %.5g, "
                    "\"sgemm_fwd_bwd_ms\": %.5g}}\n",
                (long long)ar.n, ar.ms[A_JIT], ar.ms[A_BWD_BLOCKED], ar.ms[A_FWDBWD_BLOCKED]);
        fclose(js);
    }
    free(pd), free(params), free(hypers);
    compiled_free(&cc);
    jit_destroy(jit);
    return fail;
}
