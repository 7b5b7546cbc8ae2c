/* meta_train.h: learning to learn by gradient descent by gradient descent.
 *
 * Each epoch runs `runs_per_epoch` optimizee trainings of `steps` steps on fresh task
 * instances (a meta-batch of B instances stepped together), cut into unrolls of
 * `unroll` steps.  After each unroll the meta-gradient (batch.h) updates phi with the
 * meta-optimizer; the optimizee's theta and the optimizer state carry over to the next
 * unroll without gradient.  A non-finite meta-loss or meta-gradient skips the step
 * and abandons that optimizee run, with a note saying where.  After every `eval_every`
 * epochs phi is evaluated on held-out instances (MNIST: the other half of the training
 * set), as is the starting phi of a fresh run, and the best phi is kept; a checkpoint is written atomically after each epoch,
 * so a killed run resumes from its last epoch and reaches the same result.
 * With a log, each epoch appends a CSV row (epoch, meta_steps, meta_loss, eval_loss,
 * best_loss, seconds: meta_loss the epoch's mean per-step meta-loss, or with a teacher the
 * mean relative squared error of the updates over an unroll, eval_loss empty in
 * epochs not evaluated), flushed at once, so a run can be watched and plotted.
 *
 * Resuming: the checkpoint gives phi, the best phi, the meta-optimizer's state, the RNG
 * and the counters; the meta-loss too, unless the config names one (meta_loss >= 0),
 * which then wins, as every other setting of the config does.  A run trained by
 * imitation resumes only with its teacher given again.  The checkpoint also
 * records the run's settings (train_setting_keys), which hamc train adopts on --resume
 * for the options not given (compiler/cmd_runtime.c). */
#ifndef HAM_META_TRAIN_H
#define HAM_META_TRAIN_H

#include <stdio.h>

#include "eval.h"

enum { TRAIN_META_LOSS_AUTO = -1 };   // TrainConfig.meta_loss: not chosen (the default)
enum { TRAIN_META_GRAD_FIRST, TRAIN_META_GRAD_EXACT };   // TrainConfig.meta_grad

/* meta_grad_parse: "first" or "exact"; -1 for anything else.  meta_grad_name: the inverse. */
int meta_grad_parse(const char *name);
const char *meta_grad_name(int meta_grad);

typedef struct TrainConfig {
    TaskConfig task;          // meta-training instances (MNIST: the meta-train half)
    TaskConfig eval_task;     // held-out instances (MNIST: the meta-eval half)
    int steps, unroll, epochs, runs_per_epoch, meta_batch;
    double meta_lr, clip;     // clip: max norm of the meta-gradient (0: none)
    int meta_loss;            // a MetaLoss (batch.h: SUM, Andrychowicz et al.; LOG; the LATE ones),
                              // or TRAIN_META_LOSS_AUTO: the resumed checkpoint's, else sum
    const char *meta_opt;     // "adam" or "sgd", or NULL: the resumed checkpoint's, else adam
    int meta_grad;            // TRAIN_META_GRAD_FIRST (the gradient input is data, as
                              // Andrychowicz et al.) or _EXACT (through the optimizee's
                              // Hessian: batch.h, unroll_set_exact)
    int eval_every, eval_runs;
    /* Imitation (batch.h, META_LOSS_IMITATE): the trained optimizer whose updates the
     * student learns to reproduce on the teacher's own runs, or NULL.  Evaluation (and
     * so the best params) still judges the student by the task's loss. */
    const HamKernel *teacher;
    const double *teacher_params, *teacher_hypers;
    uint64_t seed;
    const char *out;          // checkpoint path, or NULL
    const char *resume;       // checkpoint to resume, or NULL
    const char *log;          // CSV of one row per evaluation (epoch 0: the start), or NULL;
                              // a fresh run truncates it, a resumed one appends
    const char *spec_text;    // stored in checkpoints
    const char *task_text;    // "quadratic dim=10", stored in checkpoints
    volatile int *stop;       // Ctrl-C: stop at the next unroll boundary
    int quiet;
    int verbose;              // without a terminal for the progress line: a line per
                              // epoch on stderr (losses, time, ETA) instead
} TrainConfig;

typedef struct TrainResult {
    int epochs_done;
    double best_loss;         // best evaluation loss (mean final loss)
    double last_meta_loss;
    int skipped;              // meta-steps skipped for non-finite values
    int restarts;             // stall recoveries: back to the best params, meta-lr halved
    long meta_steps;
    double seconds;
    int stopped;              // interrupted
} TrainResult;

void train_default_config(TrainConfig *c);

/* train_result_notes: a line each for skipped meta-steps and stall restarts, if any. */
void train_result_notes(const TrainResult *r, FILE *out);

/* The settings a checkpoint records as metadata (KVMD) under these keys, in this
 * order: steps, unroll, runs per epoch, meta-batch, meta-lr, clip, eval interval, eval
 * runs, seed (it draws the evaluation runs) and the meta-gradient (first or exact),
 * formatted by train_settings_format (doubles to the last bit).  A checkpoint from
 * before a key existed lacks it: the option's default then holds. */
enum { TRAIN_SETTINGS = 10, TRAIN_SETTING_SEED = 8, TRAIN_SETTING_META_GRAD = 9 };
extern const char *const train_setting_keys[TRAIN_SETTINGS];
void train_settings_format(const TrainConfig *c, char v[TRAIN_SETTINGS][32]);

/* meta_train: params[P] holds the initial phi (ignored when resuming) and receives
 * the best phi.  hypers[H] are the hyper values in force. */
int meta_train(const HamKernel *k, const TrainConfig *c, double *params, const double *hypers,
               HamPool *pool, TrainResult *r, char *err, size_t errlen);

#endif
