/* batch.h: B optimizee runs stepped together by a compiled optimizer, and the
 * recorded unrolls that meta-training backpropagates through.
 *
 * The runs' parameter vectors are concatenated, so one kernel call steps every
 * coordinate of every run: theta [n = B * dim], the optimizer state [S * n] (state s
 * of coordinate i at s * n + i), the gradient [n].  Losses and gradients come from a
 * callback per run (a Task, or a test's own function), called in parallel on the
 * pool; each run owns its slice.  Buffers are in the kernel's precision.
 *
 * Meta-gradient (Andrychowicz et al. 2016; the gradient input is data):
 *   L = sum_{j=1..U} (1/B) sum_r f_r(theta_j),  theta_{k+1} = theta_k + update_k,
 *   so dL/d update_k = (1/B) sum_{j=k+1..U} g_j, and the adjoint kernels carry
 *   xbar from step k+1 to k (xbar_U = 0: the state leaving an unroll is cut off).
 *   A step that reads theta itself adds its adjoint thetabar_k to that sum (the
 *   whole-step kernels give it; a staged step's adjoint leaves it out).
 * With META_LOSS_LOG the summands are log f_r(theta_j) instead (each run's g_j then
 * weighs 1 / f_r(theta_j)): the late steps, whose losses are small, count as much as
 * the early ones, which the plain sum drowns them under.
 *
 * The exact meta-gradient (unroll_set_exact) does not treat g_k = grad f(theta_k) as
 * data: theta_k reaches the loss also through the gradient the optimizer reads at step
 * k and through its own input theta.  With abar_k the adjoint of theta_k,
 *   abar_k = abar_{k+1} + w_k g_k + thetabar_k + H_k gbar_k,   ubar_k = abar_{k+1},
 * where gbar_k and thetabar_k are the adjoint kernel's input adjoints and H_k the
 * Hessian of f_r at theta_k on the minibatch g_k was taken on (each run's
 * Hessian-vector product, RunHvp, at the mark RunMark gave before that gradient).
 * It costs one Hessian-vector product per run and step (MNIST: about 1.5 gradients' time).
 *
 * Imitation (unroll_set_teacher; META_LOSS_IMITATE): a second batch, the teacher (a
 * trained optimizer, say the LSTM, on the same runs' tasks), takes the steps; the
 * student reads the teacher's gradient and theta at every step (teacher forcing), and
 * its update d_k is compared with the teacher's d*_k:
 *   L = (1/B) sum_r sum_k ||d_k - d*_k||^2 / N_r,   N_r = sum_k ||d*_k||^2 + tiny,
 * both sums over the unroll's steps and run r's coordinates, so every unroll weighs
 * alike however small the teacher's late steps are.  theta is the teacher's (data),
 * so the params reach L only through the updates and the student's state:
 *   ubar_k = (2 / (B N_r)) (d_k - d*_k),  xbar carried from step k+1 to k. */
#ifndef HAM_BATCH_H
#define HAM_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kernel_run.h"

/* Loss at this run's theta and its gradient (slices in the batch's precision). */
typedef double (*RunLossGrad)(void *ctx, int run, const void *theta, void *grad);
/* For the exact meta-gradient: the mark of the minibatch the run's next RunLossGrad
 * draws, and hv = H v at theta on the minibatch of a mark (slices in the batch's
 * precision). */
typedef uint64_t (*RunMark)(void *ctx, int run);
typedef void (*RunHvp)(void *ctx, int run, uint64_t mark, const void *theta, const void *v, void *hv);

typedef struct Batch {
    const HamKernel *kernel;
    HamPrecision prec;
    size_t es;                    // bytes per element
    int nruns, S, P, H;
    int64_t dim, n;
    void *theta, *state, *state_next, *update, *grad;
    void *theta_next;             // where batch_step writes theta + update; NULL: in place
    double *loss;                 // [nruns] at the current theta, when have_grad
    uint64_t *marks;              // [nruns]: the RunMark before each run's gradient
    int have_grad;
    double t;                     // the step the next kernel call runs, from 1
    void *params, *hypers;        // in the kernel's precision
    RunLossGrad loss_grad;
    RunMark mark;                 // NULL unless batch_set_hessian
    RunHvp hvp;
    void *ctx;
    HamPool *pool;
} Batch;

/* batch_init: NULL-safe; -1 if memory for n = nruns * dim coordinates cannot be had. */
int batch_init(Batch *b, const HamKernel *k, HamPrecision prec, int nruns, int64_t dim,
               RunLossGrad fn, void *ctx, HamPool *pool);
void batch_free(Batch *b);
void batch_set_hessian(Batch *b, RunMark mark, RunHvp hvp);   // same ctx as the RunLossGrad
void batch_set_params(Batch *b, const double *params, const double *hypers);
void batch_reset_state(Batch *b);   // initial optimizer state, t = 1 (theta is the caller's)
void batch_eval_grad(Batch *b);     // loss and gradient at theta, unless already known
void batch_step(Batch *b);          // one optimizer step of every run
int batch_finite(const Batch *b);   // theta and state hold no NaN/Inf
int batch_run_state_finite(const Batch *b, int run);   // run's optimizer state holds no NaN/Inf

/* LATE and LOG_LATE weigh the summand of the loss after global step t (1..T, T the
 * run's steps) by t / T: an optimizer judged by its loss at the last step is then
 * meta-trained mostly on its late steps, while the early ones still count. */
typedef enum { META_LOSS_SUM, META_LOSS_LOG, META_LOSS_LATE, META_LOSS_LOG_LATE, META_LOSS_IMITATE } MetaLoss;

/* meta_loss_parse: "sum", "log", "late", "loglate" or "imitate" (set by
 * unroll_set_teacher, not chosen); -1 for anything else.
 * meta_loss_name: the inverse (checkpoints store the name). */
int meta_loss_parse(const char *name);
const char *meta_loss_name(MetaLoss m);

typedef struct Unroll {
    int U;
    MetaLoss meta_loss;             // META_LOSS_SUM unless set after unroll_init
    double horizon;                 // T of the LATE losses: the run's steps (set with them)
    void *states, *grads, *thetas;  // [(U+1) S n], [(U+1) n], [U n]
    double *ts, *losses;            // [U], [(U+1) nruns]
    void *xbar[2], *ubar, *scratch;
    int exact;                      // unroll_set_exact
    uint64_t *marks;                // exact: [(U+1) nruns]
    void *thetabar;                 // [n] where the adjoint has input adjoints and the step reads theta
    void *gbar, *hv;                // exact: [n] each
    Batch *teacher;                 // unroll_set_teacher, else NULL
    void *updates, *targets;        // imitation: [U n] each, the student's and the teacher's
    double *norms;                  // imitation: [nruns], N_r of the last forward
} Unroll;

int unroll_init(Unroll *u, const Batch *b, int U);
void unroll_free(Unroll *u);
/* unroll_forward: U steps from the batch's current point, recorded; returns the
 * meta-loss L (NaN if any loss is not finite). */
double unroll_forward(Unroll *u, Batch *b);
/* unroll_set_exact: backpropagate through the gradients too (see the top); -1 with a
 * one-line reason if the kernel's adjoint has no input adjoints (a staged step), the
 * batch no Hessian (batch_set_hessian), or memory is short. */
int unroll_set_exact(Unroll *u, const Batch *b, char *err, size_t errlen);
/* unroll_set_teacher: imitate `teacher` (see the top), a batch of as many runs of the
 * same dimension, in the same precision, stepped by unroll_forward alongside; the
 * caller resets both batches' runs to the same theta.  Sets meta_loss to
 * META_LOSS_IMITATE.  -1 with a one-line reason for a mismatched teacher, an exact
 * unroll, or out of memory. */
int unroll_set_teacher(Unroll *u, const Batch *b, Batch *teacher, char *err, size_t errlen);
/* unroll_backward: param_grad[P] += dL/dphi. */
void unroll_backward(Unroll *u, Batch *b, double *param_grad);

#endif
