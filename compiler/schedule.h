/* schedule.h: the order in which a kernel body is emitted.
 *
 * A plan lists its nodes in topological order (by id, the order the derivation made
 * them) and stores every output at the end.  For wide bodies that keeps everything
 * alive at once: the LSTM's stage kernels computed all 20 input gates, then all 20
 * forget gates, ..., and held 40 results until the stores, and LLVM's register
 * allocator spilled most of them.  kernel_schedule orders the body output by output
 * instead: each output's cone, depth first, then its store, so that a value is used
 * soon after it is made; the next output is the one needing the fewest new nodes.
 * Reordering independent nodes changes no result (every node is the same operations
 * on the same operands).  Which bodies are emitted this way is llvm_gen.c's choice
 * (plan_order there: where it measured faster).
 *
 * Loads are emitted at first use.  A store may not overtake a load of memory it can
 * alias (state_next may be state itself, an in-place step; aux_bar columns are read
 * as seeds and added to): before an output's store, every not yet emitted leaf that
 * reads the same column of an array of its group is emitted.  Groups, conservatively:
 * the S-stride arrays (state, state_next, state_next_bar, state_bar) by column, the
 * aux arrays (aux, aux_bar) by column, and the n-arrays (g, theta, update, update_bar,
 * g_bar, theta_bar) together; and stores to the same column keep their order. */
#ifndef HAM_SCHEDULE_H
#define HAM_SCHEDULE_H

#include "codegen.h"

/* A step of the body: s >= 0 emits node s (a position in plan->nodes), s < 0 stores
 * output -s - 1. */
typedef struct KernelSchedule {
    int *step;
    int len;
} KernelSchedule;

/* kernel_schedule: every node of the plan once (after its operands) and every output
 * once, in the order above; 0, or -1 when out of memory. */
int kernel_schedule(const KernelPlan *plan, KernelSchedule *out);
void kernel_schedule_free(KernelSchedule *s);

#endif
