/* codegen.h: what a kernel computes, independent of the target (LLVM IR or C).
 *
 * A KernelPlan lists the DAG nodes a kernel needs in topological order and where
 * each output goes.  Both backends walk the same plan, so the JIT and the emitted C
 * compute the same thing in the same order.  The kernel ABI is runtime/kernel.h. */
#ifndef HAM_CODEGEN_H
#define HAM_CODEGEN_H

#include "../runtime/kernel.h"
#include "step.h"

typedef enum {
    OUT_NEXT,       // state_next[index * stride + i]
    OUT_UPDATE,     // update[i]
    OUT_STATE_BAR,  // state_bar[index * stride + i]
    OUT_PARAM_BAR,  // param_bar[index], summed over the block
    OUT_INPUT_BAR,  // index 0: g_bar[i], 1: theta_bar[i]; not stored where the pointer is NULL
    /* Only in the stage kernels of a staged step (stage.h): */
    OUT_AUX,            // aux[index * aux_stride + i]
    OUT_AUX_BAR_ADD,    // aux_bar[index * aux_stride + i] += value
    OUT_STATE_BAR_ADD,  // state_bar[index * stride + i] += value
} OutKind;

typedef struct KernelOut {
    OutKind kind;
    int index;
    const DagNode *node;
} KernelOut;

typedef struct KernelPlan {
    int adjoint;                 // 0 forward, 1 adjoint
    int nstate, nparam, nhyper;
    KernelOut *outs;
    int nout;
    int nparam_bar;              // outputs of kind OUT_PARAM_BAR (not constant zero)
    int stage;                   // a stage kernel (stage.h): never segmented
    const DagNode **nodes;       // everything the outputs need, by increasing id
    int count;
    int *uses;                   // uses[k]: how many nodes of the plan read nodes[k]
    int (*kid)[3];               // kid[k][j]: position in nodes[] of nodes[k]'s operand j
    int *out_pos;                // out_pos[o]: position in nodes[] of output o
} KernelPlan;

/* codegen_plan: the plan of s's forward step or adjoint.  Param adjoints that are
 * the constant 0 get no accumulator: the kernel writes 0 for them. */
void codegen_plan(const StepProgram *s, int adjoint, KernelPlan *plan);
/* codegen_plan_outs: the plan computing outs[0..nout) (copied), for s's symbols. */
void codegen_plan_outs(const StepProgram *s, int adjoint, const KernelOut *outs, int nout, KernelPlan *plan);
void codegen_plan_free(KernelPlan *plan);

/* codegen_symbol_name: "ham_<optimizer>_<forward|adjoint>_<f32|f64>". */
void codegen_symbol_name(char *buf, size_t size, const char *opt, int adjoint, HamPrecision prec);

#endif
