/* llvm_gen.h: LLVM IR for kernel plans, through the LLVM C API. */
#ifndef HAM_LLVM_GEN_H
#define HAM_LLVM_GEN_H

#include <llvm-c/Core.h>

#include "codegen.h"

typedef struct LlvmGenOptions {
    HamPrecision prec;
    int width;       // vector lanes of the main loop (f32 16 / f64 8 with AVX-512, 8 / 4 with
                     // AVX2; 1: scalar); the libmvec variants called follow from the bits
    int contract;    // allow a*b+c to fuse (llvm.fmuladd): faster, not bit-equal to the interpreter
    int inline_math; // f32 exp/log/log1p/tanh as inline polynomials (llvm_math.h), not libm/libmvec
    int avx512;      // the target has AVX-512F and VL (inline exp may use vscalefps)
    int plan_order;  // emit every body in the plan's order, not kernel_schedule's (schedule.h)
} LlvmGenOptions;

/* llvm_gen_kernel: add `void name(const HamStepArgs *)` computing plan to mod. */
LLVMValueRef llvm_gen_kernel(LLVMModuleRef mod, const KernelPlan *plan, const char *name,
                             const LlvmGenOptions *o);

/* llvm_gen_trampoline: add `void name(const HamStepArgs *a)` that calls
 * target(ctx_ptr, which, a), target and ctx_ptr being addresses in this process (for
 * the JIT only): the entry point of a staged step (runtime/staged.h). */
LLVMValueRef llvm_gen_trampoline(LLVMModuleRef mod, const char *name, void (*target)(void), const void *ctx_ptr,
                                 int which);

#endif
