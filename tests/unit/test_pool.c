/* test_pool.c: the thread pool under stress.
 *
 * Hundreds of thousands of tiny batches of varying sizes, back to back, on pools of
 * 2, 3 and 4 threads: every task of every batch runs exactly once, and the batch is
 * over when ham_pool_run returns (no task of it still running, none of it run in the
 * next batch).  This is what a meta-training does (a batch per kernel call), and it
 * once hung after ~10^5 batches: a worker that woke late for a finished batch claimed
 * an index from the next one.  Back to back, the workers catch each batch while they
 * poll (pool.c's SPIN); a run with pauses of 40 us every few batches, longer than the
 * polling, sends them to sleep and wakes them through the condition variable, so both
 * ways in, and the switch between them, are exercised.  A watchdog turns a hang into a
 * failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"
#include "test.h"

#define MAX_TASKS 8

typedef struct Batch {
    atomic_int runs[MAX_TASKS];   // times each task ran
    atomic_int in_flight;         // tasks running now
    int id;
} Batch;


static void task(void *ctx, int t)
{
    Batch *b = ctx;
    atomic_fetch_add(&b->in_flight, 1);
    // A little work, so that the threads interleave.
    volatile int x = 0;
    for (int i = 0; i < (b->id * 7 + t) % 3000; i++) x += i;
    atomic_fetch_add(&b->runs[t], 1);
    atomic_fetch_sub(&b->in_flight, 1);
}

static void *watchdog(void *arg)
{
    (void)arg;
    sleep(120);
    fprintf(stderr, "test_pool: FAILED: hung (a batch never finished in 120 s)\n");
    printf("0 passed, 1 failed\n");
    fflush(stdout);
    _exit(1);
}

/* nbatches batches on nthreads threads; with gap_every > 0, a pause of 40 us before
 * every gap_every-th batch. */
static void stress(int nthreads, int nbatches, int gap_every)
{
    HamPool *p = ham_pool_create(nthreads);
    ASSERT(p != NULL);
    if (!p) return;
    ASSERT_EQ(nthreads, ham_pool_threads(p));
    int wrong = 0, busy_after = 0;
    Batch *b = malloc(sizeof *b);
    for (int k = 0; k < nbatches; k++) {
        int n = 2 + k % (MAX_TASKS - 1);
        for (int t = 0; t < MAX_TASKS; t++) atomic_store(&b->runs[t], 0);
        atomic_store(&b->in_flight, 0);
        b->id = k;
        if (gap_every > 0 && k % gap_every == 0) usleep(40);
        ham_pool_run(p, n, task, b);
        busy_after += atomic_load(&b->in_flight) != 0;
        for (int t = 0; t < MAX_TASKS; t++) wrong += atomic_load(&b->runs[t]) != (t < n);
    }
    free(b);
    ASSERT_EQ(0, wrong);
    ASSERT_EQ(0, busy_after);
    ham_pool_destroy(p);
}

int main(void)
{
    pthread_t dog;
    pthread_create(&dog, NULL, watchdog, NULL);
    pthread_detach(dog);
    stress(2, 200000, 0);
    stress(3, 100000, 0);
    stress(4, 50000, 0);
    stress(2, 20000, 3);
    stress(3, 10000, 2);
    return test_summary();
}
