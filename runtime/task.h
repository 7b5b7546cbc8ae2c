/* task.h: optimizee tasks, the problems a learned optimizer is trained and tested on.
 *
 * A task is a family of problems: task_reset draws one instance (a random quadratic,
 * or a freshly initialized MLP with its own minibatch stream) from a seed, and gives
 * its starting parameters theta_0.  task_loss_grad returns the loss at theta and its
 * gradient; on stochastic tasks each call draws the next minibatch from the
 * instance's own generator, so a run is reproducible from its seed alone.  Instances
 * are independent: runs go in parallel on separate instances.
 *
 * Adding a task is one file: a TaskVTable and a case in task_create (task.c). */
#ifndef HAM_TASK_H
#define HAM_TASK_H

#include <stddef.h>
#include <stdint.h>

typedef enum { TASK_QUADRATIC, TASK_MNIST } TaskKind;
typedef enum { ACT_SIGMOID, ACT_RELU, ACT_TANH } Activation;
typedef enum { SPLIT_META_TRAIN, SPLIT_META_EVAL } DataSplit;   // halves of MNIST's training set
typedef enum { INJECT_NONE, INJECT_NAN, INJECT_INF, INJECT_HUGE } InjectKind;   // testing only

#define TASK_MAX_LAYERS 8

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
} TaskConfig;

#define TASK_INJECT_HUGE 1e30f   // inject=huge: finite, but its square overflows a float

typedef struct Task Task;

void task_default_config(TaskConfig *c, TaskKind kind);

/* task_config_set: apply one `key=value` (dim, hidden=20 or hidden=40,40, activation,
 * batch, split, data; inject=nan|inf|huge, inject_step, inject_coord, inject_count);
 * -1 with a one-line reason in err for an unknown key or value. */
int task_config_set(TaskConfig *c, const char *kv, char *err, size_t errlen);

/* task_role_split: the half a command uses by default (meta-training: the train half;
 * evaluation: the held-out half), unless the user chose one with `split=`. */
void task_role_split(TaskConfig *c, DataSplit role);

/* task_create: NULL with a one-line reason (e.g. a missing data file and `make data`). */
Task *task_create(const TaskConfig *c, char *err, size_t errlen);
void task_destroy(Task *t);

int64_t task_dim(const Task *t);            // parameters of one instance
const char *task_name(const Task *t);       // "quadratic", "mnist"

/* task_reset: draw instance `seed`, write theta_0 (task_dim floats). */
void task_reset(Task *t, uint64_t seed, float *theta);

/* task_loss_grad: loss at theta (double, for statistics) and grad (floats);
 * stochastic tasks move to the next minibatch.  grad may be NULL (loss only). */
double task_loss_grad(Task *t, const float *theta, float *grad);

/* task_grad_fault: 1 if a gradient this instance returned since its last task_reset
 * held NaN or Inf (injected or not) at a finite theta, with the first such step (0: the
 * gradient at theta_0) and how many of that gradient's coordinates were not finite;
 * else 0. */
int task_grad_fault(const Task *t, long *step, int64_t *count);

/* task_test: loss and accuracy on held-out data (MNIST's 10k test set); for the
 * quadratic, the loss and NaN.  Does not move the minibatch stream. */
double task_test(Task *t, const float *theta, double *accuracy);

#endif
