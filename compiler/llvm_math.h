/* llvm_math.h: single-precision exp, log, log1p and tanh emitted inline as LLVM IR.
 *
 * Each function takes a float or a <W x float> value and returns the same type,
 * built with b at its insertion point (straight-line code: no branches, so it
 * vectorizes as written).  The results follow C's expf/logf/log1pf/tanhf on every
 * special value (NaN, +-Inf, +-0, subnormals, overflow) and are within a few ulp
 * elsewhere; tests/unit/test_vecmath.c checks them against libm in double.  With avx512
 * set (the target has AVX-512F and VL) exp scales by 2^n with vscalefps, and log splits
 * its argument with vgetmantps and vgetexpps: fewer instructions, the same results bit
 * for bit. */
#ifndef HAM_LLVM_MATH_H
#define HAM_LLVM_MATH_H

#include <llvm-c/Core.h>

LLVMValueRef llvm_math_expf(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512);
/* exp for x <= 0 or NaN (the caller's promise): the same bits as llvm_math_expf, fewer
 * instructions. */
LLVMValueRef llvm_math_expf_nonpos(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512);
LLVMValueRef llvm_math_logf(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512);
LLVMValueRef llvm_math_log1pf(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512);
LLVMValueRef llvm_math_tanhf(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x);

#endif
