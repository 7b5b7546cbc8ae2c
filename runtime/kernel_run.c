/* kernel_run.c: block scheduling of kernels, and the ordered param reduction. */
#include "kernel_run.h"

#include "vector_clones.h"

#include <string.h>

typedef struct Job {
    HamKernelFn fn;
    const HamStepArgs *args;
    int64_t n;
    int nparam;
    size_t elem;          // bytes per element of the kernel's type
    char *scratch;        // adjoint: nblocks * nparam elements
} Job;

static void run_block(void *ctx, int block)
{
    Job *job = ctx;
    HamStepArgs a = *job->args;
    a.begin = (int64_t)block * HAM_BLOCK;
    a.end = a.begin + HAM_BLOCK < job->n ? a.begin + HAM_BLOCK : job->n;
    if (job->scratch) a.param_bar = job->scratch + (size_t)block * (size_t)job->nparam * job->elem;
    job->fn(&a);
}

static int nblocks(int64_t n)
{
    return (int)((n + HAM_BLOCK - 1) / HAM_BLOCK);
}

void ham_forward(HamKernelFn fn, const HamStepArgs *args, int64_t n, HamPool *pool)
{
    Job job = {fn, args, n, 0, 0, NULL};
    ham_pool_run(pool, nblocks(n), run_block, &job);
}

size_t ham_adjoint_scratch(int64_t n, int nparam, HamPrecision prec)
{
    return (size_t)nblocks(n) * (size_t)(nparam > 0 ? nparam : 1) * (prec == HAM_F32 ? sizeof(float) : sizeof(double));
}

/* sum[j] += part[j]: a block's param adjoints into the double sums (every step of an
 * unroll adds the LSTM's 5k: 6% of its quadratic meta-step in SSE2, 3% in AVX-512). */
HAM_VECTOR_CLONES static void add_part_f32(double *restrict sum, const float *restrict part, int n)
{
    for (int j = 0; j < n; j++) sum[j] += part[j];
}

HAM_VECTOR_CLONES static void add_part_f64(double *restrict sum, const double *restrict part, int n)
{
    for (int j = 0; j < n; j++) sum[j] += part[j];
}

void ham_adjoint(HamKernelFn fn, HamPrecision prec, const HamStepArgs *args, int64_t n, int nparam,
                 void *scratch, double *param_grad, HamPool *pool)
{
    Job job = {fn, args, n, nparam, prec == HAM_F32 ? sizeof(float) : sizeof(double), scratch};
    int nb = nblocks(n);
    ham_pool_run(pool, nb, run_block, &job);
    for (int b = 0; b < nb; b++) {
        size_t at = (size_t)b * (size_t)nparam;
        if (prec == HAM_F32) add_part_f32(param_grad, (const float *)scratch + at, nparam);
        else add_part_f64(param_grad, (const double *)scratch + at, nparam);
    }
}
