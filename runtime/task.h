/* task.h: optimizee tasks, the problems a learned optimizer is trained and tested on.
 *
 * A task is a family of problems: task_reset draws one instance (a random quadratic,
 * or a freshly initialized MLP with its own minibatch stream) from a seed, and gives
 * its starting parameters theta_0.  task_loss_grad returns the loss at theta and its
 * gradient; on stochastic tasks each call draws the next minibatch from the
 * instance's own generator, so a run is reproducible from its seed alone.  Instances
 * are independent: runs go in parallel on separate instances.
 *
 * The registry.  Every task is a TaskDef (name, one-line summary, options, create
 * function), and runtime/tasks.def lists them; everything that names tasks (the
 * parsing of `--task "NAME key=value ..."` and of the REPL's `task`, `hamc help tasks`,
 * tab completion, the error listing the valid names) reads the registry.
 *
 * Adding a task is one file, runtime/task_NAME.c, plus its line in tasks.def:
 *
 *   1. a struct whose first member is a Task, and the five functions of a TaskVTable
 *      (task_impl.h): dim, reset (draw instance `seed` from rng_split(seed, stream),
 *      write theta_0), loss_grad (the loss in double, the gradient in floats; grad may
 *      be NULL), test (held-out loss and accuracy, or NaN), destroy;
 *   2. its options: shared TaskConfig fields it reads, listed by key in
 *      TaskDef.options (dim, hidden, layers, activation, batch, split, data), and/or
 *      numbers of its own, declared in TaskDef.params (key, default, range, help):
 *      task.c parses and range-checks them into TaskConfig.param[i], in that order,
 *      so the task needs no field here; keys a task does not list are refused for it;
 *   3. `const TaskDef task_NAME = {"NAME", "summary", "dim", params, create};` where
 *      create(c, err, errlen) checks what the ranges cannot, allocates, holds instance
 *      0, and returns NULL with a one-line reason on failure;
 *   4. TASK(NAME_IN_CAPS, NAME) in tasks.def, which makes the TaskKind TASK_NAME.
 *
 * The Makefile compiles every .c file of runtime/, and task.c's registry makes the linker keep
 * the file.  Determinism is the task's part of the contract: an instance must be a
 * function of its seed alone (no global state, no clock), so that runs give the same
 * numbers whatever the thread count.  runtime/task_logistic.c is a small example. */
#ifndef HAM_TASK_H
#define HAM_TASK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pool.h"

/* TASK_QUADRATIC, TASK_MNIST, ...: indices into the registry, from tasks.def. */
typedef enum {
#define TASK(KIND, name) TASK_##KIND,
#include "tasks.def"
#undef TASK
    TASK_NKINDS   // how many tasks there are
} TaskKind;
typedef enum { ACT_SIGMOID, ACT_RELU, ACT_TANH } Activation;
typedef enum { SPLIT_META_TRAIN, SPLIT_META_EVAL } DataSplit;   // halves of MNIST's training set
typedef enum { INJECT_NONE, INJECT_NAN, INJECT_INF, INJECT_HUGE } InjectKind;   // testing only

#define TASK_MAX_LAYERS 8
#define TASK_MAX_PARAMS 8   // a task's own numeric options (TaskDef.params); raise at will

typedef struct TaskConfig {
    TaskKind kind;
    int dim;                       // quadratic: theta in R^dim (default 10)
    int nhidden;                   // mnist: hidden layers (default 1)
    int hidden[TASK_MAX_LAYERS];   // mnist: units per hidden layer (default 20)
    Activation activation;         // mnist: hidden activation (default sigmoid)
    int batch;                     // mnist: minibatch size (default 128)
    DataSplit split;               // mnist: which half of the training set minibatches come from
    int split_given;               // split was set by `split=`: task_role_split keeps it
    const char *data_dir;          // mnist: where the idx files are (default data/mnist)
    /* Fault injection, for testing the layers above (any task): the gradient returned at
     * step inject_step (task_loss_grad calls with a gradient since task_reset, from 0)
     * gets inject_count coordinates from inject_coord on replaced by NaN, +Inf or
     * TASK_INJECT_HUGE.  Every instance is hit at that step. */
    InjectKind inject;             // INJECT_NONE (default): gradients untouched
    long inject_step;              // default 0: the gradient at theta_0
    long inject_coord, inject_count;   // default 0 and 1
    /* rescale=R (any task): each instance is seen in random units, theta = s * phi
     * coordinatewise with ln s_i ~ U(-R, R) drawn from the instance's seed: task_reset
     * gives phi_0, task_loss_grad takes phi and returns d loss / d phi = s * gradient,
     * task_hvp and task_test likewise.  The loss is the same function of the task's own
     * parameters; an optimizer meta-trained on such tasks must cope with gradients
     * scaled by e^-R..e^R per coordinate (task augmentation, as in Metz et al. 2020,
     * "Tasks, stability, architecture, and compute").  0 (default): off. */
    double rescale;
    double param[TASK_MAX_PARAMS];     // the task's own options, in TaskDef.params order
} TaskConfig;

#define TASK_INJECT_HUGE 1e30f   // inject=huge: finite, but its square overflows a float

typedef struct Task Task;

/* A task's own numeric option `key=value`: parsed and range-checked by task.c into
 * TaskConfig.param[i], i its index in TaskDef.params. */
typedef struct TaskParam {
    const char *key;      // NULL ends the list
    double def, lo, hi;   // default, and the accepted range (inclusive)
    int integer;          // 1: whole numbers only
    const char *help;     // a few words for `hamc help tasks`
} TaskParam;

/* One entry of the registry (see the top of this file). */
typedef struct TaskDef {
    const char *name;          // what --task and the REPL's `task` take
    const char *summary;       // one line for help
    const char *options;       // the shared TaskConfig fields it reads: space-separated keys
    const TaskParam *params;   // its own options, ending with {NULL}; or NULL
    Task *(*create)(const TaskConfig *c, char *err, size_t errlen);
} TaskDef;

/* The registry: task_def(kind) for kind < TASK_NKINDS; task_find gives the kind of a
 * name, or -1.  task_names writes "quadratic, mnist or logistic" (for messages). */
const TaskDef *task_def(TaskKind kind);
int task_find(const char *name);
void task_names(char *buf, size_t len);

/* task_keys: the `key=` options task `kind` takes (its shared fields, then its own
 * params), for completion; the fault-injection keys every task takes are left out. */
void task_keys(TaskKind kind, void (*add)(void *ctx, const char *key), void *ctx);

/* task_help: every task, its summary, and its options with their defaults, as
 * `hamc help tasks` and the REPL's `help task` print them, each line after indent. */
void task_help(FILE *out, const char *indent);

void task_default_config(TaskConfig *c, TaskKind kind);

/* task_config_set: apply one `key=value` of c's task (dim, hidden=20 or hidden=40,40,
 * layers, activation, batch, split, data, or a param of its own; and for any task
 * inject=nan|inf|huge, inject_step, inject_coord, inject_count); -1 with a one-line
 * reason in err for a key the task does not take or a bad value. */
int task_config_set(TaskConfig *c, const char *kv, char *err, size_t errlen);

/* task_config_parse: "NAME key=value ..." -> *c (defaults, then each pair in order);
 * -1 with a one-line reason (an unknown name lists the valid ones). */
int task_config_parse(TaskConfig *c, const char *text, char *err, size_t errlen);

/* task_config_same: the same instances: every option equal but the data directory
 * (the same files may move), a split left to the role (task_role_split decides) and
 * the fault injection (a testing aid that corrupts gradients, not another task). */
int task_config_same(const TaskConfig *a, const TaskConfig *b);

/* task_role_split: the half a command uses by default (meta-training: the train half;
 * evaluation: the held-out half), unless the user chose one with `split=`. */
void task_role_split(TaskConfig *c, DataSplit role);

/* task_create: NULL with a one-line reason (e.g. a missing data file and `make data`). */
Task *task_create(const TaskConfig *c, char *err, size_t errlen);
void task_destroy(Task *t);

int64_t task_dim(const Task *t);            // parameters of one instance
const char *task_name(const Task *t);       // its TaskDef's name: "quadratic", "mnist", ...

/* task_reset: draw instance `seed`, write theta_0 (task_dim floats). */
void task_reset(Task *t, uint64_t seed, float *theta);

/* task_loss_grad: loss at theta (double, for statistics) and grad (floats);
 * stochastic tasks move to the next minibatch.  grad may be NULL (loss only). */
double task_loss_grad(Task *t, const float *theta, float *grad);

/* task_set_pool: threads task_loss_grad may use inside one call (MNIST: the two
 * halves of its minibatch at once); NULL, the default, computes the same halves one
 * after the other, so the result does not depend on it.  Only for a task whose
 * task_loss_grad runs alone on the calling thread, never inside a job of the same pool
 * (task_share_pool decides). */
void task_set_pool(Task *t, HamPool *pool);

/* task_share_pool: the rule the runtime follows for the ntasks instances a batch of
 * runs steps together: a lone one (ntasks == 1, whose gradient is then the batch's
 * only work, and runs on the calling thread) gets pool; several get none, since
 * their gradients already run as the pool's jobs. */
void task_share_pool(Task **tasks, int ntasks, HamPool *pool);

/* task_grad_fault: 1 if a gradient this instance returned since its last task_reset
 * held NaN or Inf (injected or not) at a finite theta, with the first such step (0: the
 * gradient at theta_0) and how many of that gradient's coordinates were not finite;
 * else 0. */
int task_grad_fault(const Task *t, long *step, int64_t *count);

/* The exact meta-gradient needs the optimizee's Hessian along a vector, on the
 * minibatch each gradient was taken on.  task_batch_mark, called before a
 * task_loss_grad, names that call's minibatch (0 on a deterministic task);
 * task_hvp(mark) then gives hv = H v with H the Hessian of the loss at theta on that
 * minibatch, in floats, without moving the minibatch stream.  task_has_hvp: 0 for a
 * task that has none (task_hvp must not be called on it). */
int task_has_hvp(const Task *t);
uint64_t task_batch_mark(const Task *t);
void task_hvp(Task *t, uint64_t mark, const float *theta, const float *v, float *hv);

/* task_test: loss and accuracy on held-out data (MNIST's 10k test set); for the
 * quadratic, the loss and NaN.  Does not move the minibatch stream. */
double task_test(Task *t, const float *theta, double *accuracy);

#endif
