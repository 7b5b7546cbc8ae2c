/* pool.h: a small persistent thread pool for running kernel blocks in parallel.
 *
 * ham_pool_run hands out task indices 0..ntasks-1 to the workers and the calling
 * thread, and returns when all are done.  Which thread runs a task is not fixed, so
 * tasks must write disjoint outputs; results then do not depend on the thread count.
 * A run of one task is a plain call on the calling thread, so that task may itself run
 * jobs on the same pool (a lone run's MNIST gradient does: task_set_pool); a task of a
 * larger run must not. */
#ifndef HAM_POOL_H
#define HAM_POOL_H

typedef struct HamPool HamPool;
typedef void (*HamTaskFn)(void *ctx, int task);

/* ham_pool_create: nthreads in all (the caller counts as one); 0 means the number
 * of online CPUs, or $HAM_THREADS when set. */
HamPool *ham_pool_create(int nthreads);
void ham_pool_destroy(HamPool *p);
int ham_pool_threads(const HamPool *p);
void ham_pool_run(HamPool *p, int ntasks, HamTaskFn fn, void *ctx);

#endif
