/* mlp.c: forward and backward passes of the MLP classifier in mlp.h.
 *
 * Fast path, for a batch of n rows (A_l is n x size[l], row-major, like x):
 *   forward    Z = A_l W_l^T  (sgemm NoTrans x Trans), + b_l, A_{l+1} = act(Z)
 *   output     P = softmax(Z_{L-1}) row by row (in double), loss = mean -log P[label]
 *   backward   dZ_{L-1} = (P - onehot(label)) / n
 *              dW_l = dZ_l^T A_l (Trans x NoTrans),  db_l = column sums of dZ_l
 *              dA_l = dZ_l W_l   (NoTrans x NoTrans),  dZ_{l-1} = dA_l * act'(A_l)
 * where act' is written in terms of the activation's output a: sigmoid a (1 - a),
 * tanh 1 - a^2, relu [a > 0] (0 at 0, as PyTorch).  The products A_l W_l^T and
 * dZ_l^T A_l of a layer with at most SKINNY_MAX_OUT outputs (the MNIST network's every
 * layer) go to skinny_gemm.c's kernels where the CPU has AVX-512, to sgemm elsewhere
 * (product_abt, product_atb), and so do the Hessian-vector product's A_l V_l^T and
 * R(dZ_l)^T A_l; its products that add to a result stay with sgemm.  The reference
 * path does the same arithmetic in double with plain loops. */
#include "mlp.h"

#include "exp_vector.h"
#include "skinny_gemm.h"
#include "vector_clones.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct MlpWork {
    int maxbatch;                       // rows the buffers hold
    float *a[TASK_MAX_LAYERS + 2];      // a[l], 1 <= l <= L: layer outputs (a[L]: P, then dZ)
    float *d[TASK_MAX_LAYERS + 1];      // d[l], 1 <= l < L: dA_l, then dZ_l in place
    float *ra[TASK_MAX_LAYERS + 2];     // mlp_hvp: R(a[l]) (ra[L]: R(Z), then R(dZ))
    float *rd[TASK_MAX_LAYERS + 1];     // mlp_hvp: R(d[l])
    float *pack;                        // skinny_abt's scratch, or NULL: no skinny kernels
};

/* Layer l's products: P = X Y^T (n x out, X n x in, Y out x in) and P = D^T X (out x in,
 * D n x out), by the skinny kernels where the layer is narrow enough and w->pack is set
 * (the CPU has AVX-512), else by sgemm. */
static void product_abt(const Mlp *m, MlpWork *w, int l, int n, const float *X, const float *Y, float *P)
{
    int in = m->size[l], out = m->size[l + 1];
    if (w->pack && out <= SKINNY_MAX_OUT) skinny_abt(n, out, in, X, Y, P, w->pack);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, X, in, Y, in, 0.0f, P, out);
}

static void product_atb(const Mlp *m, MlpWork *w, int l, int n, const float *D, const float *X, float *P)
{
    int in = m->size[l], out = m->size[l + 1];
    if (w->pack && out <= SKINNY_MAX_OUT) skinny_atb(out, in, n, D, X, P);
    else cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, D, out, X, in, 0.0f, P, in);
}

void mlp_init(Mlp *m, int in, const int *hidden, int nhidden, int out, Activation act)
{
    memset(m, 0, sizeof *m);
    m->nlayers = nhidden + 1;
    m->act = act;
    m->size[0] = in;
    for (int l = 0; l < nhidden; l++) m->size[l + 1] = hidden[l];
    m->size[m->nlayers] = out;
    int64_t off = 0;
    for (int l = 0; l < m->nlayers; l++) {
        m->offset[l] = off;
        off += (int64_t)m->size[l + 1] * (m->size[l] + 1);   // W_l then b_l
    }
    m->nparams = off;
}

void mlp_init_params(const Mlp *m, Rng *r, float *theta)
{
    for (int l = 0; l < m->nlayers; l++) {
        double bound = 1 / sqrt((double)m->size[l]);
        int64_t count = (int64_t)m->size[l + 1] * (m->size[l] + 1);
        float *p = theta + m->offset[l];
        for (int64_t i = 0; i < count; i++) p[i] = (float)rng_draw(r, 0, -bound, bound);
    }
}

MlpWork *mlp_work_create(const Mlp *m, int maxbatch)
{
    MlpWork *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->maxbatch = maxbatch;
    int ok = 1;
    for (int l = 1; l <= m->nlayers; l++) {
        size_t count = (size_t)maxbatch * (size_t)m->size[l];
        ok &= (w->a[l] = malloc(count * sizeof(float))) != NULL;
        ok &= (w->ra[l] = malloc(count * sizeof(float))) != NULL;
        if (l < m->nlayers) ok &= (w->d[l] = malloc(count * sizeof(float))) != NULL;
        if (l < m->nlayers) ok &= (w->rd[l] = malloc(count * sizeof(float))) != NULL;
    }
    if (ok && skinny_available()) {
        int widest = 0;
        for (int l = 0; l < m->nlayers; l++) widest = m->size[l] > widest ? m->size[l] : widest;
        size_t bytes = (skinny_pack_floats(widest) * sizeof(float) + 63) / 64 * 64;
        ok &= (w->pack = aligned_alloc(64, bytes)) != NULL;
    }
    if (!ok) {
        mlp_work_destroy(w);
        return NULL;
    }
    return w;
}

void mlp_work_destroy(MlpWork *w)
{
    if (!w) return;
    for (int l = 0; l < TASK_MAX_LAYERS + 2; l++) free(w->a[l]), free(w->ra[l]);
    for (int l = 0; l < TASK_MAX_LAYERS + 1; l++) free(w->d[l]), free(w->rd[l]);
    free(w->pack);
    free(w);
}

static float act_f(Activation act, float z)
{
    switch (act) {
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-z));
    case ACT_RELU:    return z > 0 ? z : 0.0f;
    case ACT_TANH:    return tanhf(z);
    }
    return z;
}

/* act'(z) from a = act(z). */
static float act_grad_f(Activation act, float a)
{
    switch (act) {
    case ACT_SIGMOID: return a * (1.0f - a);
    case ACT_RELU:    return a > 0 ? 1.0f : 0.0f;
    case ACT_TANH:    return 1.0f - a * a;
    }
    return 1.0f;
}

/* Z[i][j] += b[j] over n rows of `out`. */
HAM_VECTOR_CLONES static void add_bias(float *Z, const float *b, int n, int out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < out; j++) Z[(size_t)i * out + j] += b[j];
}

/* db[j] = the sum over the n rows of dZ[i][j], in row order. */
HAM_VECTOR_CLONES static void column_sums(float *db, const float *dZ, int n, int out)
{
    for (int j = 0; j < out; j++) db[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < out; j++) db[j] += dZ[(size_t)i * out + j];
}

/* dA[i] *= act'(z) from the layer's outputs A: a loop per activation, in which
 * act_grad_f's switch folds away, so each vectorizes. */
HAM_VECTOR_CLONES static void times_act_grad(Activation act, float *dA, const float *A, size_t n)
{
    switch (act) {
    case ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) dA[i] *= act_grad_f(ACT_SIGMOID, A[i]);
        break;
    case ACT_RELU:
        for (size_t i = 0; i < n; i++) dA[i] *= act_grad_f(ACT_RELU, A[i]);
        break;
    case ACT_TANH:
        for (size_t i = 0; i < n; i++) dA[i] *= act_grad_f(ACT_TANH, A[i]);
        break;
    }
}

/* Z = A W^T + b for n rows, then act unless it is the last layer. */
static void forward_layer(const Mlp *m, MlpWork *w, int l, const float *theta, const float *A,
                          float *Z, int n)
{
    int in = m->size[l], out = m->size[l + 1];
    const float *W = theta + m->offset[l], *b = W + (int64_t)out * in;
    product_abt(m, w, l, n, A, W, Z);
    add_bias(Z, b, n, out);
    if (l + 1 == m->nlayers) return;
    if (m->act == ACT_SIGMOID) sigmoid_inplace(Z, (int64_t)n * out);   // act_f's bits, 16 lanes at a time
    else for (size_t i = 0; i < (size_t)n * out; i++) Z[i] = act_f(m->act, Z[i]);
}

/* Softmax over rows of k logits, SOFTMAX_ROWS(k) rows at a time: e = exp(z - zmax)
 * for rows [lo, hi), zmax[i - lo] given, through exp_inplace (exp's bits, 8 lanes at
 * a time; one call per exp had 5% of a seed_hnn_pre meta-step's samples). */
enum { SOFTMAX_CHUNK = 2048 };   // k <= 255: labels are bytes
#define SOFTMAX_ROWS(k) (SOFTMAX_CHUNK / (k))

static void exp_shifted(const float *Z, int lo, int hi, int k, const double *zmax, double *e)
{
    for (int i = lo; i < hi; i++)
        for (int j = 0; j < k; j++) e[(i - lo) * k + j] = (double)Z[(size_t)i * k + j] - zmax[i - lo];
    exp_inplace(e, (int64_t)(hi - lo) * k);
}

/* The rows of Z become dZ = (softmax(Z) - onehot) / total; returns the summed NLL.
 * softmax_j = e^(z_j - zmax) / sum: one exp per class, where e^(z_j - logsumexp) took
 * a second.  In double, so the floats rarely differ from that formula's: 182 of 2e7
 * on random logits, each by its last bit. */
static double softmax_nll(float *Z, int n, int total, int k, const uint8_t *labels, int *ncorrect)
{
    double nll = 0, e[SOFTMAX_CHUNK], zmax[SOFTMAX_CHUNK];
    int correct = 0;
    for (int lo = 0; lo < n; lo += SOFTMAX_ROWS(k)) {
        int hi = lo + SOFTMAX_ROWS(k) < n ? lo + SOFTMAX_ROWS(k) : n;
        for (int i = lo; i < hi; i++) {
            const float *z = Z + (size_t)i * k;
            int best = 0;
            for (int j = 1; j < k; j++)
                if (z[j] > z[best]) best = j;
            correct += best == labels[i];
            zmax[i - lo] = z[best];
        }
        exp_shifted(Z, lo, hi, k, zmax, e);
        for (int i = lo; i < hi; i++) {
            float *z = Z + (size_t)i * k;
            const double *ei = e + (i - lo) * k;
            double sum = 0;
            for (int j = 0; j < k; j++) sum += ei[j];
            nll += zmax[i - lo] + log(sum) - z[labels[i]];
            for (int j = 0; j < k; j++) z[j] = (float)((ei[j] / sum - (j == labels[i])) / total);
        }
    }
    if (ncorrect) *ncorrect = correct;
    return nll;
}

/* From dZ_l (n x size[l+1]): dW_l, db_l into grad and, for l > 0, dZ_{l-1} into d[l]. */
static void backward_layer(const Mlp *m, MlpWork *w, int l, const float *theta,
                           const float *A, const float *dZ, float *grad, int n)
{
    int in = m->size[l], out = m->size[l + 1];
    const float *W = theta + m->offset[l];
    float *dW = grad + m->offset[l], *db = dW + (int64_t)out * in;
    product_atb(m, w, l, n, dZ, A, dW);
    column_sums(db, dZ, n, out);
    if (l == 0) return;   // no gradient for the input
    float *dA = w->d[l];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out,
                1.0f, dZ, out, W, in, 0.0f, dA, in);
    times_act_grad(m->act, dA, A, (size_t)n * in);
}

double mlp_loss_grad_part(const Mlp *m, MlpWork *w, const float *theta, const float *x,
                          const uint8_t *labels, int n, int total, float *grad, int *ncorrect)
{
    int L = m->nlayers;
    for (int l = 0; l < L; l++) forward_layer(m, w, l, theta, l ? w->a[l] : x, w->a[l + 1], n);
    double nll = softmax_nll(w->a[L], n, total, m->size[L], labels, ncorrect);
    if (grad)
        for (int l = L - 1; l >= 0; l--)
            backward_layer(m, w, l, theta, l ? w->a[l] : x, l == L - 1 ? w->a[L] : w->d[l + 1],
                           grad, n);
    return nll / total;
}

double mlp_loss_grad(const Mlp *m, MlpWork *w, const float *theta, const float *x,
                     const uint8_t *labels, int n, float *grad, int *ncorrect)
{
    return mlp_loss_grad_part(m, w, theta, x, labels, n, n, grad, ncorrect);
}

/* ---- the Hessian-vector product (R-operator) ----
 *
 * R(.) is the derivative along v.  With V_l, vb_l the slices of v for W_l, b_l:
 *   forward    R(Z_l) = R(A_l) W_l^T + A_l V_l^T + vb_l      (R(A_0) = 0)
 *              R(A_{l+1}) = act'(A_{l+1}) R(Z_l)
 *   output     R(dZ) = P (R(Z) - rowsum(P R(Z))) / n
 *   backward   R(dW_l) = R(dZ_l)^T A_l + dZ_l^T R(A_l),  R(db_l) = column sums of R(dZ_l)
 *              R(dA_l) = R(dZ_l) W_l + dZ_l V_l
 *              R(dZ_{l-1}) = R(dA_l) act'(A_l) + dA_l act''(A_l) R(A_l)
 * with act' and act'' (the derivative of act' with respect to a) written in terms of
 * the output a: sigmoid 1 - 2a, tanh -2a, relu 0. */

static float act_grad2_f(Activation act, float a)
{
    switch (act) {
    case ACT_SIGMOID: return 1.0f - 2.0f * a;
    case ACT_RELU:    return 0.0f;
    case ACT_TANH:    return -2.0f * a;
    }
    return 0.0f;
}

/* Z_l (or A_{l+1}) as forward_layer, and R(Z_l) (or R(A_{l+1})) into w->ra[l + 1]. */
static void hvp_forward_layer(const Mlp *m, MlpWork *w, int l, const float *theta, const float *v,
                              const float *A, int n)
{
    int in = m->size[l], out = m->size[l + 1];
    const float *W = theta + m->offset[l], *V = v + m->offset[l], *vb = V + (int64_t)out * in;
    forward_layer(m, w, l, theta, A, w->a[l + 1], n);
    float *RZ = w->ra[l + 1];
    product_abt(m, w, l, n, A, V, RZ);
    if (l > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, w->ra[l], in, W, in, 1.0f, RZ, out);
    int hidden = l + 1 < m->nlayers;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < out; j++) {
            float *rz = RZ + (size_t)i * out + j;
            *rz += vb[j];
            if (hidden) *rz *= act_grad_f(m->act, w->a[l + 1][(size_t)i * out + j]);
        }
}

/* The rows of Z become dZ = (P - onehot) / n, those of R(Z) R(dZ). */
static void hvp_output(float *Z, float *RZ, int n, int k, const uint8_t *labels)
{
    double e[SOFTMAX_CHUNK], zmax[SOFTMAX_CHUNK];
    for (int lo = 0; lo < n; lo += SOFTMAX_ROWS(k)) {
        int hi = lo + SOFTMAX_ROWS(k) < n ? lo + SOFTMAX_ROWS(k) : n;
        for (int i = lo; i < hi; i++) {
            const float *z = Z + (size_t)i * k;
            zmax[i - lo] = z[0];
            for (int j = 1; j < k; j++) zmax[i - lo] = fmax(zmax[i - lo], z[j]);
        }
        exp_shifted(Z, lo, hi, k, zmax, e);
        for (int i = lo; i < hi; i++) {
            float *z = Z + (size_t)i * k, *rz = RZ + (size_t)i * k;
            double *p = e + (i - lo) * k, sum = 0, prz = 0;
            for (int j = 0; j < k; j++) sum += p[j];
            for (int j = 0; j < k; j++) p[j] /= sum, prz += p[j] * rz[j];
            for (int j = 0; j < k; j++) {
                z[j] = (float)((p[j] - (j == labels[i])) / n);
                rz[j] = (float)(p[j] * (rz[j] - prz) / n);
            }
        }
    }
}

void mlp_hvp(const Mlp *m, MlpWork *w, const float *theta, const float *x, const uint8_t *labels, int n,
             const float *v, float *hv)
{
    int L = m->nlayers;
    for (int l = 0; l < L; l++) hvp_forward_layer(m, w, l, theta, v, l ? w->a[l] : x, n);
    hvp_output(w->a[L], w->ra[L], n, m->size[L], labels);
    for (int l = L - 1; l >= 0; l--) {
        int in = m->size[l], out = m->size[l + 1];
        const float *W = theta + m->offset[l], *V = v + m->offset[l];
        const float *A = l ? w->a[l] : x, *RA = l ? w->ra[l] : NULL;
        const float *dZ = l == L - 1 ? w->a[L] : w->d[l + 1], *RdZ = l == L - 1 ? w->ra[L] : w->rd[l + 1];
        float *HW = hv + m->offset[l], *Hb = HW + (int64_t)out * in;
        product_atb(m, w, l, n, RdZ, A, HW);
        if (l > 0) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dZ, out, RA, in, 1.0f, HW, in);
        column_sums(Hb, RdZ, n, out);
        if (l == 0) break;
        float *dA = w->d[l], *RdA = w->rd[l];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dZ, out, W, in, 0.0f, dA, in);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, RdZ, out, W, in, 0.0f, RdA, in);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dZ, out, V, in, 1.0f, RdA, in);
        for (size_t q = 0; q < (size_t)n * in; q++) {
            float a = A[q], d1 = act_grad_f(m->act, a);
            RdA[q] = RdA[q] * d1 + dA[q] * act_grad2_f(m->act, a) * RA[q];
            dA[q] *= d1;
        }
    }
}

/* ---- the double-precision reference: one example at a time, plain loops ---- */

static double act_d(Activation act, double z)
{
    switch (act) {
    case ACT_SIGMOID: return 1 / (1 + exp(-z));
    case ACT_RELU:    return z > 0 ? z : 0;
    case ACT_TANH:    return tanh(z);
    }
    return z;
}

static double act_grad_d(Activation act, double a)
{
    switch (act) {
    case ACT_SIGMOID: return a * (1 - a);
    case ACT_RELU:    return a > 0 ? 1 : 0;
    case ACT_TANH:    return 1 - a * a;
    }
    return 1;
}

/* Forward one example: acts[l] (size[l] doubles each, acts[0] = x); returns its NLL
 * and leaves dZ = softmax - onehot in acts[L]. */
static double ref_forward(const Mlp *m, const double *theta, double **acts, int label)
{
    int L = m->nlayers;
    for (int l = 0; l < L; l++) {
        int in = m->size[l], out = m->size[l + 1];
        const double *W = theta + m->offset[l], *b = W + (int64_t)out * in;
        for (int j = 0; j < out; j++) {
            double z = b[j];
            for (int k = 0; k < in; k++) z += W[(int64_t)j * in + k] * acts[l][k];
            acts[l + 1][j] = l + 1 < L ? act_d(m->act, z) : z;
        }
    }
    double *z = acts[L], zmax = z[0], sum = 0;
    int k = m->size[L];
    for (int j = 1; j < k; j++) zmax = fmax(zmax, z[j]);
    for (int j = 0; j < k; j++) sum += exp(z[j] - zmax);
    double logsum = zmax + log(sum), nll = logsum - z[label];
    for (int j = 0; j < k; j++) z[j] = exp(z[j] - logsum) - (j == label);
    return nll;
}

/* Backward one example from dZ in acts[L], adding (1/n) d nll / d theta into grad. */
static void ref_backward(const Mlp *m, const double *theta, double **acts, double *dz,
                         double *dprev, double *grad, int n)
{
    int L = m->nlayers;
    memcpy(dz, acts[L], (size_t)m->size[L] * sizeof *dz);
    for (int l = L - 1; l >= 0; l--) {
        int in = m->size[l], out = m->size[l + 1];
        const double *W = theta + m->offset[l];
        double *dW = grad + m->offset[l], *db = dW + (int64_t)out * in;
        for (int j = 0; j < out; j++) {
            db[j] += dz[j] / n;
            for (int k = 0; k < in; k++) dW[(int64_t)j * in + k] += dz[j] * acts[l][k] / n;
        }
        if (l == 0) break;
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int j = 0; j < out; j++) s += dz[j] * W[(int64_t)j * in + k];
            dprev[k] = s * act_grad_d(m->act, acts[l][k]);
        }
        memcpy(dz, dprev, (size_t)in * sizeof *dz);
    }
}

double mlp_loss_grad_ref(const Mlp *m, const double *theta, const double *x,
                         const uint8_t *labels, int n, double *grad)
{
    int L = m->nlayers, widest = 0;
    for (int l = 0; l <= L; l++) widest = m->size[l] > widest ? m->size[l] : widest;
    double *acts[TASK_MAX_LAYERS + 2];   // acts[1..L], then dz and dprev, widest each
    double *buf = malloc((size_t)(L + 3) * (size_t)widest * sizeof *buf);
    if (!buf) return NAN;
    for (int l = 1; l <= L; l++) acts[l] = buf + (size_t)l * widest;
    double *dz = buf + (size_t)(L + 1) * widest, *dprev = dz + widest, nll = 0;
    if (grad) memset(grad, 0, (size_t)m->nparams * sizeof *grad);
    for (int i = 0; i < n; i++) {
        acts[0] = (double *)(x + (size_t)i * m->size[0]);   // read only
        nll += ref_forward(m, theta, acts, labels[i]);
        if (grad) ref_backward(m, theta, acts, dz, dprev, grad, n);
    }
    free(buf);
    return nll / n;
}
