/* task_impl.h: the private side of task.h, shared by task.c and the task_*.c files.
 *
 * Every task is a struct whose first member is a Task (so a Task * is also a pointer
 * to the concrete struct) holding its TaskVTable; task.c's public functions only
 * forward through the table.  A new task is one file with a TaskDef whose create
 * function fills in a table, and its line in tasks.def (task.h says how).
 *
 * Seeds: an instance's random numbers all come from rng_split(seed, stream) with the
 * stream numbers below, so that, say, the MLP weights of instance s do not depend on
 * how many minibatches instance s - 1 drew.  A task that needs more streams numbers
 * them from TASK_STREAM_OWN on. */
#ifndef HAM_TASK_IMPL_H
#define HAM_TASK_IMPL_H

#include "task.h"

enum {
    TASK_STREAM_INSTANCE = 0,  // what defines the instance: quadratic W and y, MLP weights
    TASK_STREAM_BATCHES = 1,   // the minibatch indices of a stochastic task
    TASK_STREAM_OWN = 2,       // the first stream a task may use for itself
    TASK_STREAM_RESCALE = 0xffff,   // task.c's: the units of `rescale=` (no task numbers this high)
};

typedef struct TaskVTable {
    int64_t (*dim)(const Task *t);                             // task_dim()
    void (*reset)(Task *t, uint64_t seed, float *theta);       // task_reset()
    double (*loss_grad)(Task *t, const float *theta, float *grad);
    double (*test)(Task *t, const float *theta, double *accuracy);
    void (*destroy)(Task *t);                                  // frees t itself too
    /* Optional (NULL: the task has no Hessian-vector product; the exact meta-gradient
     * is then refused for it).  batch_mark: what names the minibatch the next loss_grad
     * draws (a stochastic task's generator state; 0 for a deterministic task).
     * hvp: hv = (Hessian of the loss at theta on the minibatch `mark` names) v, the
     * minibatch stream left where it is. */
    uint64_t (*batch_mark)(const Task *t);                     // task_batch_mark()
    void (*hvp)(Task *t, uint64_t mark, const float *theta, const float *v, float *hv);
} TaskVTable;

/* The concrete task's create zeroes the struct; task_create (task.c) then fills in the
 * bookkeeping below, which only task.c touches. */
struct Task {
    const TaskVTable *vt;   // the concrete task's operations
    const TaskDef *def;     // its registry entry: task_name()
    long step;              // gradients returned since task_reset
    long fault_step;        // first step with a non-finite gradient, -1 if none
    int64_t fault_count;    // its non-finite coordinates
    InjectKind inject;      // the TaskConfig's fault injection
    long inject_step, inject_coord, inject_count;
    HamPool *pool;          // task_set_pool: threads a loss_grad may use, or NULL
    /* rescale=R (TaskConfig.rescale > 0): the callers' theta is phi, the task's own
     * parameters in random units, theta_task = scale * phi coordinatewise; NULL: off. */
    double rescale;
    float *scale;           // dim: e^U(-R, R) per coordinate, drawn by task_reset
    float *scaled;          // dim: scale * phi, the point handed to the task
    float *scaled_v;        // dim: scale * v, task_hvp's direction in the task's units
};

/* The registry's entries, one per line of tasks.def, each in its runtime/task_NAME.c. */
#define TASK(KIND, name) extern const TaskDef task_##name;
#include "tasks.def"
#undef TASK

/* task_mnist_pool: the training-set indices an mnist task draws its minibatches from
 * (its split); for the tests, which check that the two splits are disjoint. */
int task_mnist_pool(const Task *t, const int32_t **indices);

#endif
