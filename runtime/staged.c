/* staged.c: one block of a staged step: stage kernels and GEMMs, sub-block by sub-block.
 *
 * Layout.  The aux columns of a sub-block are column-major with leading dimension
 * ld: the sub-block rounded up to 16, never a multiple of 256 (so the 40-odd columns
 * a stage reads at the same row do not fall into one cache set).  A GEMM's X is ld-strided columns
 * x_col .. x_col+cols-1, its Y columns y_col .. y_col+rows-1, so in BLAS terms (column
 * major, M = sub-block length):
 *     forward   Y    = X Wp             Wp: W^T as cols x rows, ld = cols (= W row-major)
 *     adjoint   Xbar += Ybar Wp^T
 *               Wpbar += X^T Ybar       summed over the block's sub-blocks
 * and Wpbar[r * cols + c] is the adjoint of W[r][c], added to its param at the end. */
#include "staged.h"

#include "blas_setup.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xalloc: size bytes, zeroed if asked; out of memory is reported and exits. */
static void *xalloc(size_t size, int zeroed)
{
    void *p = zeroed ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
    if (!p) {
        fprintf(stderr, "hamc: out of memory (%zu bytes for a staged step)\n", size);
        exit(1);
    }
    return p;
}

HamStaged *ham_staged_new(int nstage, int ngemm)
{
    ham_blas_setup();   // single-threaded BLAS: our pool runs the blocks in parallel
    HamStaged *st = xalloc(sizeof *st, 1);
    const char *beta0 = getenv("HAM_GEMM_BETA0");
    st->gemm_beta0 = ham_blas_small_kernels() && !(beta0 && strcmp(beta0, "0") == 0);
    st->nstage = nstage;
    st->ngemm = ngemm;
    st->gemm = xalloc((size_t)(ngemm + 1) * sizeof *st->gemm, 1);
    for (int p = 0; p < 2; p++) {
        st->fwd[p] = xalloc((size_t)(nstage + 1) * sizeof(HamKernelFn), 1);
        st->fwd_aux[p] = xalloc((size_t)(nstage + 1) * sizeof(HamKernelFn), 1);
        st->adj[p] = xalloc((size_t)(nstage + 1) * sizeof(HamKernelFn), 1);
    }
    return st;
}

void ham_staged_free(HamStaged *st)
{
    if (!st) return;
    for (int g = 0; g < st->ngemm; g++) free(st->gemm[g].w);
    free(st->gemm);
    free(st->run);
    for (int p = 0; p < 2; p++) free(st->fwd[p]), free(st->fwd_aux[p]), free(st->adj[p]);
    free(st);
}

void ham_staged_index(HamStaged *st)
{
    size_t nw = 0;
    for (int g = 0; g < st->ngemm; g++) nw += (size_t)st->gemm[g].rows * (size_t)st->gemm[g].cols;
    free(st->run);
    st->run = xalloc((nw + 1) * sizeof *st->run, 0);
    st->nrun = 0;
    st->nweight = (int)nw;
    int at = 0;
    for (int g = 0; g < st->ngemm; g++) {
        const HamStagedGemm *G = &st->gemm[g];
        for (int j = 0; j < G->rows * G->cols; j++, at++) {
            HamStagedRun *last = st->nrun ? &st->run[st->nrun - 1] : NULL;
            if (last && last->at + last->len == at && last->param + last->len == G->w[j]) last->len++;
            else st->run[st->nrun++] = (HamStagedRun){G->w[j], at, 1};
        }
    }
}

/* packed[run] = params[run], run by run (loops, not memcpy: the runs are short). */
static void pack_weights(const HamStaged *st, void *packed, const void *params, int f32)
{
    for (int r = 0; r < st->nrun; r++) {
        const HamStagedRun *R = &st->run[r];
        if (f32) {
            float *restrict d = (float *)packed + R->at;
            const float *restrict s = (const float *)params + R->param;
            for (int i = 0; i < R->len; i++) d[i] = s[i];
        } else {
            double *restrict d = (double *)packed + R->at;
            const double *restrict s = (const double *)params + R->param;
            for (int i = 0; i < R->len; i++) d[i] = s[i];
        }
    }
}

/* param_bar[run] += wbar[run], run by run. */
static void add_weight_adjoints(const HamStaged *st, void *param_bar, const void *wbar, int f32)
{
    for (int r = 0; r < st->nrun; r++) {
        const HamStagedRun *R = &st->run[r];
        if (f32) {
            float *restrict d = (float *)param_bar + R->param;
            const float *restrict s = (const float *)wbar + R->at;
            for (int i = 0; i < R->len; i++) d[i] += s[i];
        } else {
            double *restrict d = (double *)param_bar + R->param;
            const double *restrict s = (const double *)wbar + R->at;
            for (int i = 0; i < R->len; i++) d[i] += s[i];
        }
    }
}

/* The GEMMs in one precision; es is the element size.  Pointers are to elements. */
static void gemm(int f32, int transa, int transb, int m, int n, int k, const void *a, int lda, const void *b,
                 int ldb, double beta, void *c, int ldc)
{
    enum CBLAS_TRANSPOSE ta = transa ? CblasTrans : CblasNoTrans, tb = transb ? CblasTrans : CblasNoTrans;
    if (f32) cblas_sgemm(CblasColMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, (float)beta, c, ldc);
    else cblas_dgemm(CblasColMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

static void *at(const void *base, size_t elems, size_t es)
{
    return base ? (char *)base + elems * es : NULL;
}

void ham_staged_run(const HamStaged *st, int which, const HamStepArgs *args)
{
    int adjoint = which >> 1, prec = which & 1, f32 = prec == HAM_F32;
    if (adjoint && args->state_bar == args->state_next_bar && st->nstate > 0) {
        fprintf(stderr, "hamc: internal error: a staged adjoint with state_bar == state_next_bar\n");
        abort();
    }
    size_t es = f32 ? sizeof(float) : sizeof(double);
    int LD = ham_staged_leading_dim(args->end - args->begin);
    size_t nw = (size_t)st->nweight;
    if (st->ngemm > 0 && !st->run) {
        fprintf(stderr, "hamc: internal error: a staged step run before ham_staged_index\n");
        abort();
    }
    size_t naux = (size_t)st->ncol * (size_t)LD;
    char *mem = xalloc(((nw + naux) * (adjoint ? 2 : 1)) * es, 0);
    char *wp = mem, *wbar = wp + nw * es;
    char *aux = adjoint ? wbar + nw * es : wbar, *aux_bar = aux + naux * es;
    if (adjoint) {
        memset(wbar, 0, nw * es);
        memset(args->param_bar, 0, (size_t)st->nparam * es);   // the stages add into it
    }
    pack_weights(st, wp, args->params, f32);   // W (row-major rows x cols), once per block
    for (int64_t b0 = args->begin; b0 < args->end; b0 += HAM_STAGED_SUB) {
        int len = (int)(args->end - b0 < HAM_STAGED_SUB ? args->end - b0 : HAM_STAGED_SUB);
        HamStepArgs a = *args;
        size_t o = (size_t)b0;
        a.begin = 0;
        a.end = len;
        a.state = at(args->state, o, es);
        a.g = at(args->g, o, es);
        a.theta = at(args->theta, o, es);
        a.state_next = at(args->state_next, o, es);
        a.update = at(args->update, o, es);
        a.state_next_bar = at(args->state_next_bar, o, es);
        a.update_bar = at(args->update_bar, o, es);
        a.state_bar = at(args->state_bar, o, es);
        a.aux_stride = LD;
        a.aux = aux;
        a.aux_bar = aux_bar;
        // Forward: stage 0, GEMMs of level 1, stage 1, ...; the adjoint's recomputation
        // runs the stages' exports only.
        HamKernelFn *const *fwd = adjoint ? st->fwd_aux : st->fwd;
        for (int k = 0; k < st->nstage; k++) {
            size_t woff = 0;
            for (int g = 0; g < st->ngemm; g++) {
                const HamStagedGemm *G = &st->gemm[g];
                if (G->level == k) {
                    // Y = X Wp.  OpenBLAS's small-matrix kernels write Y with beta 0, in
                    // the product's pass; elsewhere beta 0 is a pass of its own over Y
                    // (3x memset's time in a profile), so Y's columns, contiguous, are
                    // zeroed here and the product added with beta 1.  The same bits
                    // either way: each sum starts from +0, so adding it to 0 keeps it.
                    char *y = aux + (size_t)G->y_col * LD * es;
                    int beta0 = f32 && st->gemm_beta0 && (double)len * G->rows * G->cols <= HAM_BLAS_SMALL_MNK;
                    if (!beta0) memset(y, 0, (size_t)G->rows * (size_t)LD * es);
                    gemm(f32, 0, 0, len, G->rows, G->cols, aux + (size_t)G->x_col * LD * es, LD, wp + woff * es,
                         G->cols, beta0 ? 0.0 : 1.0, y, LD);
                }
                woff += (size_t)G->rows * (size_t)G->cols;
            }
            if (fwd[prec][k]) fwd[prec][k](&a);
        }
        if (!adjoint) continue;
        memset(aux_bar, 0, naux * es);
        for (int k = st->nstage - 1; k >= 0; k--) {
            if (st->adj[prec][k]) st->adj[prec][k](&a);
            size_t woff = 0;
            for (int g = 0; g < st->ngemm; g++) {
                const HamStagedGemm *G = &st->gemm[g];
                if (G->level == k) {
                    const char *x = aux + (size_t)G->x_col * LD * es, *ybar = aux_bar + (size_t)G->y_col * LD * es;
                    gemm(f32, 0, 1, len, G->cols, G->rows, ybar, LD, wp + woff * es, G->cols, 1.0,
                         aux_bar + (size_t)G->x_col * LD * es, LD);
                    gemm(f32, 1, 0, G->cols, G->rows, len, x, LD, ybar, LD, 1.0, wbar + woff * es, G->cols);
                }
                woff += (size_t)G->rows * (size_t)G->cols;
            }
        }
    }
    if (adjoint) add_weight_adjoints(st, args->param_bar, wbar, f32);
    free(mem);
}
