/* mlp.h: a multilayer perceptron classifier, its loss and its gradient, for task_mnist.
 *
 * The network maps size[0] inputs through nlayers affine layers to size[nlayers] class
 * scores; every layer but the last is followed by the hidden activation, the last by a
 * log-softmax, and the loss is the mean negative log-likelihood of the labels:
 *
 *   a_0 = x,   a_{l+1} = act(a_l W_l^T + b_l)  (l < L-1),   z = a_{L-1} W_{L-1}^T + b_{L-1}
 *   loss = -(1/n) sum_i log softmax(z_i)[label_i]
 *
 * Parameter layout (theta, the vector the optimizer sees): layer 0 first; for each layer
 * W_l (size[l+1] x size[l], row-major: out x in, as nn.Linear.weight) then b_l
 * (size[l+1]).  That is nn.Sequential(Linear, act, ..., Linear).parameters() in order,
 * flattened, so a PyTorch model loads theta slice by slice.
 *
 * mlp_loss_grad is the fast path: float, a minibatch at a time through the layer
 * kernels of skinny_gemm.h (AVX-512; cblas_sgemm on other CPUs and for wide layers),
 * activations and softmax in plain loops, the loss summed in double.
 * mlp_loss_grad_ref is the slow double-precision reference the tests check it against
 * (and check against finite differences).
 *
 * Ownership and threads: an Mlp is a plain value (shape only); the parameters belong to
 * the caller; an MlpWork holds the per-batch activations of one caller, so threads that
 * evaluate concurrently each need their own MlpWork. */
#ifndef HAM_MLP_H
#define HAM_MLP_H

#include <stdint.h>

#include "rng.h"
#include "task.h"

typedef struct Mlp {
    int nlayers;                          // affine layers: hidden layers + 1
    int size[TASK_MAX_LAYERS + 2];        // size[0] inputs, size[l+1] outputs of layer l
    Activation act;                       // after every layer but the last
    int64_t offset[TASK_MAX_LAYERS + 1];  // where W_l starts in theta (b_l follows it)
    int64_t nparams;                      // length of theta
} Mlp;

typedef struct MlpWork MlpWork;

/* mlp_init: the shape in -> hidden[0] -> ... -> hidden[nhidden-1] -> out. */
void mlp_init(Mlp *m, int in, const int *hidden, int nhidden, int out, Activation act);

/* mlp_init_params: PyTorch's nn.Linear default, W_l and b_l ~ U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) with fan_in = size[l], drawn in layout order from r. */
void mlp_init_params(const Mlp *m, Rng *r, float *theta);

/* mlp_work_create: scratch for batches of up to maxbatch examples; NULL if out of memory. */
MlpWork *mlp_work_create(const Mlp *m, int maxbatch);
void mlp_work_destroy(MlpWork *w);

/* mlp_loss_grad: mean NLL of the n examples x (n x size[0], row-major) with labels;
 * grad (nparams floats) gets d loss / d theta unless NULL; *ncorrect (unless NULL)
 * gets how many argmax predictions match.  n <= the work's maxbatch. */
double mlp_loss_grad(const Mlp *m, MlpWork *w, const float *theta, const float *x,
                     const uint8_t *labels, int n, float *grad, int *ncorrect);

/* mlp_loss_grad_part: the same for n of the `total` rows of a minibatch: their summed
 * NLL over total, and its gradient; the parts' results add up to mlp_loss_grad's on
 * the whole minibatch (up to the order of the sums).  ncorrect as above. */
double mlp_loss_grad_part(const Mlp *m, MlpWork *w, const float *theta, const float *x,
                          const uint8_t *labels, int n, int total, float *grad, int *ncorrect);

/* mlp_hvp: hv = H v, H the Hessian of the mean NLL of the n examples at theta (both
 * nparams floats), by Pearlmutter's R-operator: a forward pass carrying the
 * activations' directional derivatives along v, and a backward pass carrying the
 * gradient's; 1.5x the time of mlp_loss_grad when both ran on sgemm (784-20-10, batch
 * 128, one thread; both take mlp.c's kernels for their widest products since).
 * (ReLU's second derivative is taken as 0, as everywhere but at the kink.) */
void mlp_hvp(const Mlp *m, MlpWork *w, const float *theta, const float *x, const uint8_t *labels, int n,
             const float *v, float *hv);

/* mlp_loss_grad_ref: the same in double with plain loops (for tests); grad may be NULL. */
double mlp_loss_grad_ref(const Mlp *m, const double *theta, const double *x,
                         const uint8_t *labels, int n, double *grad);

#endif
