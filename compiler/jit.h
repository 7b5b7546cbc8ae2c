/* jit.h: compiling step programs to machine code in this process (LLVM ORC LLJIT).
 *
 * One Jit per process is enough; it caches kernels by the hash of what they compute,
 * so a REPL that redefines nothing recompiles nothing.  Kernels stay valid until
 * jit_destroy. */
#ifndef HAM_JIT_H
#define HAM_JIT_H

#include <stddef.h>

#include "codegen.h"
#include "stage.h"

typedef struct Jit Jit;

typedef struct JitOptions {
    int opt_level;       // 0: no passes, 1..3: LLVM's default<On> pipeline (default 2)
    int contract;        // fuse a*b+c into FMAs in f32 kernels (default 1; HAM_CONTRACT=0 turns it
                         // off; f64 kernels never fuse, they match the interpreter to 1e-12)
    int with_adjoint;    // also compile the adjoint kernels
    int scalar;          // no explicit vectors (for tests of the remainder path)
    int vector_bits;     // 256: AVX2 vector loops even on an AVX-512 host; any other value
                         // (default 0): the widest the host has ($HAM_VECTOR_BITS)
    int precisions;      // bit 1 << HAM_F32, 1 << HAM_F64: which kernels to make (default both)
    int libm_math;       // f32 exp/log/log1p/tanh through libm/libmvec calls, not inline
                         // polynomials (default 0; HAM_VECMATH=libmvec sets it, for benchmarks)
    int generic_math;    // inline exp without AVX-512's vscalefps even where the host has it
                         // (default 0; tests compare the two, which agree bit for bit)
    int gemm;            // StageMode (stage.h): lower large param-matrix products to BLAS
                         // GEMMs between staged kernels (default STAGE_AUTO; $HAM_GEMM)
    int plan_order;      // stage kernels' forward bodies in the plan's order rather than
                         // kernel_schedule's (default 0; HAM_SCHEDULE=plan sets it, for
                         // comparisons: the results are the same bits)
} JitOptions;

typedef struct JitStats {
    double build_ms, optimize_ms, codegen_ms;   // IR construction, passes, machine code
    int ir_instructions;                        // before the passes
    int cached;                                 // 1 if served from the cache
    int stages, gemms, gemm_macs;               // staged steps: stages, GEMMs, MACs per coordinate
} JitStats;

void jit_default_options(JitOptions *o);

/* jit_vector_bits: the register width o's kernels use on this host (512, 256), 0 if scalar. */
int jit_vector_bits(const Jit *j, const JitOptions *o);

/* jit_create: NULL with the reason in err if LLVM cannot target this host. */
Jit *jit_create(char *err, size_t errlen);
void jit_destroy(Jit *j);

/* jit_compile: fill out->forward/adjoint for both precisions, and out->info.
 * The info's strings and arrays live in `arena`.  0, or -1 with err set. */
int jit_compile(Jit *j, const StepProgram *s, const JitOptions *o, Arena *arena, HamKernel *out,
                JitStats *stats, char *err, size_t errlen);

/* jit_ir: the LLVM IR of s's kernels as text (optimized with o->opt_level), malloc'd;
 * NULL with err set on failure.  For `hamc emit-llvm`. */
char *jit_ir(Jit *j, const StepProgram *s, const JitOptions *o, char *err, size_t errlen);

/* codegen_kernel_info: the metadata of s's kernels (names, shapes, initializers,
 * hypers, spec hash), allocated in arena. */
void codegen_kernel_info(const StepProgram *s, Arena *arena, HamKernelInfo *info);
uint64_t codegen_hash(const StepProgram *s);

#endif
