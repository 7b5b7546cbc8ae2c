/* pool.c: workers wait on a condition variable for a new batch (a generation
 * number; polled for a while first, see SPIN), then claim task indices with an atomic
 * counter until none are left; the last to finish signals the caller.  Small batches
 * (one task) run on the caller without waking anyone.
 *
 * A batch ends for the caller only when its tasks are done AND no worker is still
 * inside drain(): a worker that woke late for a finished batch would otherwise claim
 * an index from the next batch's counters while the caller resets them (a task run
 * twice, `remaining` decremented past zero, and the caller waiting forever: seen as
 * a hang in a long meta-training). */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* More threads than this is a configuration mistake on a machine like ours. */
#define HAM_POOL_MAX_THREADS 256

struct HamPool {
    int nthreads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    atomic_ulong generation;    // bumped per batch (under lock; read without it to spin)
    atomic_int quit;
    HamTaskFn fn;
    void *ctx;
    int ntasks;
    atomic_int next;            // next task to claim
    atomic_int remaining;       // tasks not yet finished
    atomic_int active;          // workers inside drain() (changed under lock)
};

/* Before sleeping on a condition variable, a thread polls for a while: a batch's
 * tasks are often tens of microseconds (an MNIST half-gradient, a kernel's blocks),
 * and waking a sleeping thread costs as much under a hypervisor (in a two-thread
 * seed_hnn_pre meta-step the kernel had a fifth of the calling thread's samples and a
 * quarter of the worker's, most in pvm_irq_enable).  SPIN polls take about
 * 17 us on a Zen 5 (a pause is 17 ns); then the thread sleeps as before, so an idle
 * pool costs nothing. */
#define SPIN 1000

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void drain(HamPool *p)
{
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->ntasks) return;
        p->fn(p->ctx, t);
        if (atomic_fetch_sub(&p->remaining, 1) == 1) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_broadcast(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

static void *worker(void *arg)
{
    HamPool *p = arg;
    unsigned long seen = 0;
    for (;;) {
        for (int s = 0; s < SPIN && atomic_load(&p->generation) == seen && !atomic_load(&p->quit); s++) relax();
        pthread_mutex_lock(&p->lock);
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->wake, &p->lock);
        if (p->quit) break;
        seen = p->generation;
        p->active++;
        pthread_mutex_unlock(&p->lock);
        drain(p);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0) pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

HamPool *ham_pool_create(int nthreads)
{
    if (nthreads <= 0) {
        const char *env = getenv("HAM_THREADS");
        nthreads = env && atoi(env) > 0 ? atoi(env) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (nthreads < 1) nthreads = 1;
    if (nthreads > HAM_POOL_MAX_THREADS) nthreads = HAM_POOL_MAX_THREADS;
    HamPool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->nthreads = nthreads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->workers = calloc((size_t)nthreads, sizeof *p->workers);
    for (int i = 1; i < nthreads; i++) {
        if (pthread_create(&p->workers[i], NULL, worker, p) != 0) {
            p->nthreads = i;   // run with the threads we could make
            break;
        }
    }
    return p;
}

void ham_pool_destroy(HamPool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->nthreads; i++) pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->workers);
    free(p);
}

int ham_pool_threads(const HamPool *p)
{
    return p ? p->nthreads : 1;
}

void ham_pool_run(HamPool *p, int ntasks, HamTaskFn fn, void *ctx)
{
    if (ntasks <= 0) return;
    if (!p || p->nthreads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t);
        return;
    }
    pthread_mutex_lock(&p->lock);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->lock);   // none left in drain()
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->remaining, ntasks);
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    drain(p);
    for (int s = 0; s < SPIN && (atomic_load(&p->remaining) > 0 || atomic_load(&p->active) > 0); s++) relax();
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->remaining) > 0 || p->active > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}
