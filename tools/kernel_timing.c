/* kernel_timing.c: one compiled kernel timed alone, on n coordinates in cache
 * (tools/kernel_timing.sh builds it, with runtime/rng.c, and the kernel).
 *
 *   kernel_timing --host        the CPU name and features the JIT compiles for (one line
 *                               each), for llc to compile the same way
 *   kernel_timing SO SYMBOL [N] [ROUNDS]
 *                               dlopen SO, call SYMBOL (a HamKernelFn, runtime/kernel.h)
 *                               on coordinates [0, N) (N <= 16384, default 256: a staged
 *                               step's sub-block) over and over, and print the fastest
 *                               round's time per 16 coordinates, in ns and TSC ticks
 *
 * Every array the ABI names is allocated large enough for the stdlib's optimizers
 * (1024 state arrays, 1024 aux columns, 65536 params; nothing checks a kernel stays
 * inside) and filled with values in [-0.1, 0.1] (rng.h, a fixed seed), so that no exp
 * overflows and no value is subnormal; the kernel's outputs are not checked.  The aux
 * stride is the runtime's (ham_staged_leading_dim) for N up to a sub-block, the only
 * sizes the runtime gives a stage kernel; past that, N rounded up to 16, so that
 * columns do not overlap.  This is a microscope for
 * compiler work on one kernel (the body's order, LLVM's options: the script passes
 * flags to llc); the runtime's own timings are bench/race_ham.c's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __x86_64__
#include <x86intrin.h>
#endif

#include "rng.h"
#include "staged.h"

enum { MAX_ARRAYS = 1024, MAX_PARAMS = 65536, MAX_N = 16384 };

static Rng rng = {3};

/* count elements of es bytes, each in [-0.1, 0.1]. */
static void *filled(size_t count, size_t es)
{
    void *p = aligned_alloc(64, (count * es + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "kernel_timing: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++) {
        double v = 0.2 * rng_uniform01(&rng) - 0.1;
        if (es == sizeof(float)) ((float *)p)[i] = (float)v;
        else ((double *)p)[i] = v;
    }
    return p;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e9 * (double)t.tv_sec + (double)t.tv_nsec;
}

static uint64_t ticks(void)
{
#ifdef __x86_64__
    return __rdtsc();
#else
    return 0;
#endif
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--host")) {
        char *cpu = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
        printf("%s\n%s\n", cpu, features);
        LLVMDisposeMessage(cpu), LLVMDisposeMessage(features);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: kernel_timing --host | kernel_timing SO SYMBOL [N] [ROUNDS]\n");
        return 2;
    }
    long n = argc > 3 ? atol(argv[3]) : 256;
    int rounds = argc > 4 ? atoi(argv[4]) : 30;
    if (n < 1 || n > MAX_N || rounds < 1) {
        fprintf(stderr, "kernel_timing: N must be in [1, %d] and ROUNDS >= 1\n", MAX_N);
        return 2;
    }
    void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fprintf(stderr, "kernel_timing: %s\n", dlerror());
        return 1;
    }
    HamKernelFn fn;
    void *sym = dlsym(so, argv[2]);
    if (!sym) {
        fprintf(stderr, "kernel_timing: %s has no symbol %s\n", argv[1], argv[2]);
        return 1;
    }
    memcpy(&fn, &sym, sizeof fn);
    size_t es = strstr(argv[2], "_f64") ? sizeof(double) : sizeof(float);
    int64_t ld = n <= HAM_STAGED_SUB ? ham_staged_leading_dim(n) : (n + 15) / 16 * 16;
    size_t arrays = (size_t)MAX_ARRAYS * (size_t)(n > ld ? n : ld);
    HamStepArgs a = {0};
    a.begin = 0, a.end = n, a.stride = n, a.t = 1, a.aux_stride = ld;
    a.state = filled(arrays, es), a.state_next = filled(arrays, es);
    a.state_next_bar = filled(arrays, es), a.state_bar = filled(arrays, es);
    a.g = filled((size_t)n, es), a.theta = filled((size_t)n, es), a.update = filled((size_t)n, es);
    a.update_bar = filled((size_t)n, es), a.g_bar = filled((size_t)n, es), a.theta_bar = filled((size_t)n, es);
    a.params = filled(MAX_PARAMS, es), a.hypers = filled(64, es), a.param_bar = filled(MAX_PARAMS, es);
    a.aux = filled(arrays, es), a.aux_bar = filled(arrays, es);
    // Calls per round: about 2 ms of work, measured on a first call.
    double t0 = now_ns();
    fn(&a);
    double once = now_ns() - t0;
    long calls = once > 0 ? (long)(2e6 / once) + 1 : 1000;
    double best_ns = 1e300, best_ticks = 1e300;
    for (int r = 0; r < rounds; r++) {
        uint64_t k0 = ticks();
        double s0 = now_ns();
        for (long c = 0; c < calls; c++) fn(&a);
        double ns = (now_ns() - s0) / (double)calls, tk = (double)(ticks() - k0) / (double)calls;
        if (ns < best_ns) best_ns = ns, best_ticks = tk;
    }
    double per16 = 16.0 / (double)n;
    printf("%s: n %ld, %.1f ns (%.0f TSC ticks) per 16 coordinates, fastest of %d rounds of %ld calls\n", argv[2],
           n, best_ns * per16, best_ticks * per16, rounds, calls);
    return 0;
}
