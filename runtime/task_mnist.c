/* task_mnist.c: the L2L paper's MNIST task (Andrychowicz et al. 2016, section 3.2): train
 * an MLP 784 -> hidden... -> 10 (mlp.h: layout, loss, gradient) on minibatches.
 *
 * Data.  The four idx files are read once per process and directory and kept for the
 * life of the process, shared read-only by every instance (a cache under a mutex, since
 * instances may be created from several threads; the first creator loads, the others
 * wait).  MNIST's 60000 training images are split in two by a permutation with a seed
 * fixed here (MNIST_SPLIT_SEED): positions 0..29999 of the permutation are
 * SPLIT_META_TRAIN, 30000..59999 SPLIT_META_EVAL, so optimizers are meta-trained and
 * meta-evaluated on disjoint images.  task_test uses the separate 10000 t10k images.
 *
 * Instances.  task_reset(seed) draws the weights as nn.Linear does by default from
 * rng_split(seed, TASK_STREAM_INSTANCE) and restarts the minibatch stream at
 * rng_split(seed, TASK_STREAM_BATCHES).  Each task_loss_grad draws `batch` examples
 * uniformly WITH replacement from the split (independent indices, as the L2L reference
 * code's tf.random_uniform), so the stream has no epoch state: a run is its seed.
 * The Hessian-vector product (task_hvp) redraws a minibatch from its mark, the
 * stream's state before the draw, and runs mlp_hvp on it.
 *
 * Halves.  task_loss_grad draws a minibatch's rows, then fetches and evaluates it as
 * two halves (rows 0..B/2-1 and B/2..B-1, each with its own MlpWork and gradient
 * buffer) and adds their losses and gradients, the second into the first: on the
 * task's pool (task_set_pool) on two threads, without one in turn, the same numbers
 * either way.  A meta-batch of one run, whose
 * gradient is then nearly all of the work, so uses both cores.
 *
 * Threads.  A Task owns all its mutable state (weights are the caller's theta; the
 * minibatch buffers and MlpWork are per instance), so instances run in parallel threads.
 * The first task_mnist_create makes BLAS single-threaded (ham_blas_setup): the gemms
 * are small (128 x 784 x 20), BLAS threads would only add sync overhead, and the
 * parallelism belongs at our level (one run per thread).  This setting is process-wide. */
#include "blas_setup.h"
#include "idx.h"
#include "mlp.h"
#include "task_impl.h"
#include "vector_clones.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The seed of the train/eval split permutation.  Fixed forever: changing it changes
// which images every saved experiment was meta-trained on.  (The L2L arXiv number.)
#define MNIST_SPLIT_SEED 160604474ull

// task_test evaluates the test set this many rows at a time: the MlpWork is sized
// for max(batch, this), which bounds its memory for wide networks.
enum { MNIST_EVAL_CHUNK = 500 };

// The minibatch gather is bound by memory latency (random 784-byte rows of a 47 MB
// array); prefetching the row this many ahead overlaps the misses with the conversions.
// (Rows of floats, 188 MB, took twice as long to gather as bytes do with conversion.)
enum { MNIST_PREFETCH = 4 };

typedef struct MnistData {
    struct MnistData *next;   // the cache is a list, one entry per data dir
    char *dir;                // as given (not canonicalized)
    Mnist set;                // pixel bytes, labels
    int32_t *perm;            // train.n indices: the first half META_TRAIN, the rest META_EVAL
} MnistData;

static MnistData *cache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct MnistTask {
    Task base;               // first: a Task * is a MnistTask *
    const MnistData *data;   // shared, read-only
    Mlp mlp;                 // the network's shape
    MlpWork *work;           // activations for one batch or one test chunk
    MlpWork *work2;          // the second half of a minibatch's
    float *grad2;            // the second half's gradient
    int batch;               // examples per task_loss_grad
    const int32_t *pool;     // indices into data->set.train of this task's split
    int npool;               // their count
    float *x;                // max(batch, MNIST_EVAL_CHUNK) x MNIST_PIXELS: the gathered
                             // minibatch, or a test chunk, as floats
    uint8_t *y;              // batch labels
    size_t *rows;            // batch: the drawn training-set rows
    Rng batches;             // the minibatch stream
} MnistTask;

/* Fisher-Yates with the fixed seed: the split never depends on anything else. */
static int32_t *split_permutation(size_t n)
{
    int32_t *p = malloc(n * sizeof *p);
    if (!p) return NULL;
    Rng r = rng_split(MNIST_SPLIT_SEED, 0);
    for (size_t i = 0; i < n; i++) p[i] = (int32_t)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rng_next(&r) % (i + 1);   // bias < 6e4 / 2^64: nil
        int32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

/* mnist_data_get: the cached data of dir, loading it on first use; NULL with err. */
static const MnistData *mnist_data_get(const char *dir, char *err, size_t errlen)
{
    pthread_mutex_lock(&cache_lock);
    MnistData *d = cache;
    while (d && strcmp(d->dir, dir) != 0) d = d->next;
    if (!d && (d = calloc(1, sizeof *d))) {
        if (mnist_load(dir, &d->set, err, errlen) != 0) {
            free(d);
            d = NULL;
        } else if (!(d->dir = strdup(dir)) || !(d->perm = split_permutation(d->set.train.n))) {
            snprintf(err, errlen, "mnist: out of memory");
            mnist_free(&d->set);
            free(d->dir);
            free(d);
            d = NULL;
        } else {
            d->next = cache;
            cache = d;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return d;
}

static int64_t mnist_dim(const Task *t) { return ((const MnistTask *)t)->mlp.nparams; }

static void mnist_reset(Task *t, uint64_t seed, float *theta)
{
    MnistTask *m = (MnistTask *)t;
    Rng init = rng_split(seed, TASK_STREAM_INSTANCE);
    if (theta) mlp_init_params(&m->mlp, &init, theta);
    m->batches = rng_split(seed, TASK_STREAM_BATCHES);
}

/* One training-set row of this task's split, drawn from r (with replacement). */
static size_t draw_row(const MnistTask *m, Rng *r)
{
    return (size_t)m->pool[rng_next(r) % (uint64_t)m->npool];
}

/* Draw a minibatch's rows from r into m->rows. */
static void draw_batch(MnistTask *m, Rng *r)
{
    for (int i = 0; i < m->batch; i++) m->rows[i] = draw_row(m, r);
}

/* The drawn rows lo .. end-1 into m->x and m->y. */
static void fetch_rows(MnistTask *m, int lo, int end)
{
    const MnistSplit *train = &m->data->set.train;
    const size_t *rows = m->rows;
    for (int i = lo; i < end; i++) {
        if (i + MNIST_PREFETCH < end) {   // 64-byte cache lines
            const uint8_t *ahead = train->pixels + rows[i + MNIST_PREFETCH] * MNIST_PIXELS;
            for (size_t b = 0; b < MNIST_PIXELS; b += 64) __builtin_prefetch(ahead + b);
        }
        mnist_pixels_to_float(train->pixels + rows[i] * MNIST_PIXELS, MNIST_PIXELS, m->x + (size_t)i * MNIST_PIXELS);
        m->y[i] = train->labels[rows[i]];
    }
}

/* Draw a minibatch from r (with replacement) into m->x and m->y. */
static void gather_batch(MnistTask *m, Rng *r)
{
    draw_batch(m, r);
    fetch_rows(m, 0, m->batch);
}

typedef struct HalfJob {
    MnistTask *m;
    const float *theta;
    float *grad[2];   // where each half's gradient goes (NULL: loss only)
    double nll[2];    // each half's summed NLL over the whole minibatch's size
} HalfJob;

static void half_loss_grad(void *ctx, int half)
{
    HalfJob *j = ctx;
    MnistTask *m = j->m;
    int first = m->batch / 2, lo = half ? first : 0, n = half ? m->batch - first : first;
    fetch_rows(m, lo, lo + n);
    j->nll[half] = mlp_loss_grad_part(&m->mlp, half ? m->work2 : m->work, j->theta,
                                      m->x + (size_t)lo * MNIST_PIXELS, m->y + lo, n, m->batch,
                                      j->grad[half], NULL);
}

/* Start loading the rows of the minibatch the next call will draw (a copy of the stream
 * draws them; the stream itself does not move), so their misses overlap whatever the
 * caller does in between: an optimizer step, an adjoint.  Hinted to the outer caches
 * (prefetcht2), where they survive that work: the next meta-step on MNIST seed_hnn_pre
 * took 5-6% less (3.06-3.12 -> 2.90-2.93 ms, race_ham, quiet rounds); prefetcht0 ~3%.
 * With the MLP's own kernels (skinny_gemm.c) 3% (2.44-2.58 -> 2.37-2.51 ms); every
 * other line only, 2.41-2.51. */
static void prefetch_next_batch(const MnistTask *m)
{
    Rng ahead = m->batches;
    const uint8_t *pixels = m->data->set.train.pixels;
    for (int i = 0; i < m->batch; i++) {
        const uint8_t *row = pixels + draw_row(m, &ahead) * MNIST_PIXELS;
        for (size_t b = 0; b < MNIST_PIXELS; b += 64) __builtin_prefetch(row + b, 0, 1);
    }
}

/* x[i] += y[i]: the second half's gradient into the first's. */
HAM_VECTOR_CLONES static void add_into(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/* Draw the next minibatch and evaluate on it, a half at a time (each fetching its rows). */
static double mnist_loss_grad(Task *t, const float *theta, float *grad)
{
    MnistTask *m = (MnistTask *)t;
    double nll;
    if (m->batch < 2) {
        gather_batch(m, &m->batches);
        nll = mlp_loss_grad(&m->mlp, m->work, theta, m->x, m->y, m->batch, grad, NULL);
    } else {
        draw_batch(m, &m->batches);
        HalfJob j = {m, theta, {grad, grad ? m->grad2 : NULL}, {0, 0}};
        ham_pool_run(t->pool, 2, half_loss_grad, &j);
        if (grad) add_into(grad, m->grad2, m->mlp.nparams);
        nll = j.nll[0] + j.nll[1];
    }
    prefetch_next_batch(m);
    return nll;
}

/* The mark of a minibatch is the stream's state before it was drawn. */
static uint64_t mnist_batch_mark(const Task *t)
{
    return ((const MnistTask *)t)->batches.state;
}

static void mnist_hvp(Task *t, uint64_t mark, const float *theta, const float *v, float *hv)
{
    MnistTask *m = (MnistTask *)t;
    Rng r = {mark};
    gather_batch(m, &r);
    mlp_hvp(&m->mlp, m->work, theta, m->x, m->y, m->batch, v, hv);
}

/* Mean NLL and accuracy over the whole test set, a chunk at a time. */
static double mnist_test(Task *t, const float *theta, double *accuracy)
{
    MnistTask *m = (MnistTask *)t;
    const MnistSplit *test = &m->data->set.test;
    double nll = 0;
    long correct = 0;
    for (size_t i = 0; i < test->n; i += MNIST_EVAL_CHUNK) {
        int n = (int)(test->n - i < MNIST_EVAL_CHUNK ? test->n - i : MNIST_EVAL_CHUNK), c;
        mnist_pixels_to_float(test->pixels + i * MNIST_PIXELS, (size_t)n * MNIST_PIXELS, m->x);
        nll += n * mlp_loss_grad(&m->mlp, m->work, theta, m->x, test->labels + i, n, NULL, &c);
        correct += c;
    }
    if (accuracy) *accuracy = (double)correct / (double)test->n;
    return nll / (double)test->n;
}

static void mnist_destroy(Task *t)
{
    MnistTask *m = (MnistTask *)t;
    mlp_work_destroy(m->work);
    mlp_work_destroy(m->work2);
    free(m->grad2);
    free(m->x);
    free(m->y);
    free(m->rows);
    free(m);
}

int task_mnist_pool(const Task *t, const int32_t **indices)
{
    const MnistTask *m = (const MnistTask *)t;
    *indices = m->pool;
    return m->npool;
}

static const TaskVTable mnist_vt = {
    mnist_dim, mnist_reset, mnist_loss_grad, mnist_test, mnist_destroy, mnist_batch_mark, mnist_hvp,
};

/* A fresh task holds instance 0, so it is usable before the first task_reset. */
static Task *mnist_create(const TaskConfig *c, char *err, size_t errlen)
{
    ham_blas_setup();
    if (c->nhidden < 0 || c->nhidden > TASK_MAX_LAYERS || c->batch < 1) {
        snprintf(err, errlen, "mnist: bad config (nhidden=%d, batch=%d)", c->nhidden, c->batch);
        return NULL;
    }
    for (int l = 0; l < c->nhidden; l++)
        if (c->hidden[l] < 1) {
            snprintf(err, errlen, "mnist: hidden layer %d has %d units", l + 1, c->hidden[l]);
            return NULL;
        }
    const char *dir = c->data_dir ? c->data_dir : "data/mnist";
    const MnistData *d = mnist_data_get(dir, err, errlen);
    if (!d) return NULL;
    if (d->set.train.n < 2 || d->set.test.n < 1) {
        snprintf(err, errlen, "%s: error: too few images to split; run `make data`", dir);
        return NULL;
    }
    MnistTask *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->base.vt = &mnist_vt;
    m->data = d;
    mlp_init(&m->mlp, MNIST_PIXELS, c->hidden, c->nhidden, MNIST_CLASSES, c->activation);
    m->batch = c->batch;
    size_t half = d->set.train.n / 2;
    m->pool = d->perm + (c->split == SPLIT_META_TRAIN ? 0 : half);
    m->npool = (int)(c->split == SPLIT_META_TRAIN ? half : d->set.train.n - half);
    int rows = c->batch > MNIST_EVAL_CHUNK ? c->batch : MNIST_EVAL_CHUNK;
    m->work = mlp_work_create(&m->mlp, rows);
    m->work2 = mlp_work_create(&m->mlp, c->batch - c->batch / 2);
    m->grad2 = malloc((size_t)m->mlp.nparams * sizeof *m->grad2);
    m->x = malloc((size_t)rows * MNIST_PIXELS * sizeof *m->x);
    m->y = malloc((size_t)c->batch);
    m->rows = malloc((size_t)c->batch * sizeof *m->rows);
    if (!m->work || !m->work2 || !m->grad2 || !m->x || !m->y || !m->rows) goto oom;
    mnist_reset(&m->base, 0, NULL);
    return &m->base;
oom:
    if (m) mnist_destroy(&m->base);
    snprintf(err, errlen, "mnist: out of memory for the network or its buffers");
    return NULL;
}

const TaskDef task_mnist = {
    "mnist", "an MLP 784-20-10 on MNIST minibatches, mean NLL; PyTorch's init (L2L 3.2)",
    "hidden layers activation batch split data", NULL, mnist_create,
};
