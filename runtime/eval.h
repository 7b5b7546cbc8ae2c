/* eval.h: running a compiled optimizer on many fresh optimizee instances.
 *
 * Run r draws task instance rng_split(seed, r), starts from the task's theta_0 and
 * takes `steps` optimizer steps.  curve[r * (steps + 1) + t] is the loss at theta_t
 * (t = 0 before any step, t = steps the final loss).  Runs go in chunks whose
 * coordinates fit a memory budget and the L2 cache; within a chunk they step together. */
#ifndef HAM_EVAL_H
#define HAM_EVAL_H

#include <stdio.h>

#include "kernel_run.h"
#include "stats.h"
#include "task.h"

typedef struct EvalConfig {
    TaskConfig task;
    int runs, steps;
    uint64_t seed;
    int test;                 // also the held-out test loss/accuracy of each final theta
    HamPrecision prec;
    volatile int *stop;       // set asynchronously (Ctrl-C): finish the chunk, report what ran
    int quiet;                // no progress line
} EvalConfig;

typedef struct EvalResult {
    int runs, steps;          // runs completed (fewer if stopped)
    double *curve;            // [runs * (steps + 1)]
    double *test_loss, *test_acc;   // [runs], NaN when not computed
    double seconds;
    Summary final, mean_over_steps; // of curve[., steps] and of mean_t>=1 curve[., t]
    double *curve_mean;       // [steps + 1]: mean over finite runs at each step
    int grad_faults;          // runs whose task returned a NaN/Inf gradient (task_grad_fault)
    int fault_run;            // the first of them, its step and non-finite coordinates
    long fault_step;
    long long fault_coords, fault_dim;
    int state_faults;         // other runs ending with a finite loss but NaN/Inf in the optimizer's state
    int state_fault_run;      // the first of them
} EvalResult;

void eval_default_config(EvalConfig *c);
/* eval_chunk_runs: how many of `runs` runs of a task of dim coordinates eval_optimizer
 * steps together with an optimizer of nstate states (eval.c says why). */
int eval_chunk_runs(int nstate, int64_t dim, HamPrecision prec, int runs);
int eval_optimizer(const HamKernel *k, const double *params, const double *hypers, const EvalConfig *c,
                   HamPool *pool, EvalResult *r, char *err, size_t errlen);
void eval_result_free(EvalResult *r);

/* Reports: a CSV of the mean curve with its 95% interval per step, and one of the
 * runs' finals; a one-line JSON object (see `hamc run --json`). */
int eval_write_curve_csv(const EvalResult *r, const char *path, char *err, size_t errlen);
int eval_write_finals_csv(const EvalResult *r, const char *path, char *err, size_t errlen);
void eval_print_json(FILE *out, const EvalResult *r, const char *optimizer, const char *task, uint64_t seed,
                     int nparams);

#endif
