/* blas_setup.c: choosing OpenBLAS's kernels before it loads, and its thread count.
 *
 * The choice (blas_setup.h says which and why) is made by a function in the executable's
 * .preinit_array, which the dynamic loader runs with main's arguments before the
 * initializer of any shared library, OpenBLAS's included (it reads OPENBLAS_CORETYPE
 * once, there).  The linker keeps the entry in every executable that pulls this object
 * from libham.a, which every caller of ham_blas_setup does.  Not under valgrind
 * (LD_PRELOAD names its vgpreload): the exec would run the program outside it. */
#define _POSIX_C_SOURCE 200809L
#include "blas_setup.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <unistd.h>

static const char *chosen;

/* The kernels OpenBLAS gives known CPUs with this CPU's features, or NULL to leave the
 * choice to it.  The AVX-512 kernels use F, CD, BW, DQ and VL; the OS saving the
 * registers is part of what __builtin_cpu_supports reports. */
static const char *kernels_for_this_cpu(void)
{
    __builtin_cpu_init();   // we run before libgcc's own constructor
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vl");
    if (avx512 && __builtin_cpu_supports("avx512bf16")) return "Cooperlake";
    if (avx512) return "SkylakeX";
    if (__builtin_cpu_is("intel") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    return NULL;
}

/* envp's value of name, or NULL. */
static const char *env_value(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

/* Run by the loader with main's arguments.  When we choose, the program is executed
 * again with OPENBLAS_CORETYPE added to its environment: setenv here would not do, as
 * libc's own initializer, which runs after this and before OpenBLAS's, resets the
 * environment to the one the kernel passed.  The second execution finds the variable
 * set and goes on; a failed exec goes on with OpenBLAS's own choice. */
static void choose_kernels(int argc, char **argv, char **envp)
{
    (void)argc;
    const char *user = env_value(envp, "OPENBLAS_CORETYPE"), *mark = env_value(envp, "HAM_BLAS_CHOSEN");
    if (user) {   // ours if the mark says so (the second execution), else the user's
        if (mark && strcmp(mark, user) == 0) chosen = mark;
        return;
    }
    const char *off = env_value(envp, "HAM_BLAS_CHOOSE"), *preload = env_value(envp, "LD_PRELOAD");
    if ((off && strcmp(off, "0") == 0) || (preload && strstr(preload, "vgpreload"))) return;
    const char *k = kernels_for_this_cpu();
    const char *exe = (const char *)getauxval(AT_EXECFN);
    if (!k || !exe || !argv) return;
    static char core_var[64], mark_var[64];
    snprintf(core_var, sizeof core_var, "OPENBLAS_CORETYPE=%s", k);
    snprintf(mark_var, sizeof mark_var, "HAM_BLAS_CHOSEN=%s", k);
    size_t n = 0;
    while (envp && envp[n]) n++;
    char **env = malloc((n + 3) * sizeof *env);
    if (!env) return;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)   // a mark without the variable is stale: dropped
        if (strncmp(envp[i], "HAM_BLAS_CHOSEN=", strlen("HAM_BLAS_CHOSEN=")) != 0) env[m++] = envp[i];
    env[m++] = core_var;
    env[m++] = mark_var;
    env[m] = NULL;
    execve(exe, argv, env);
    free(env);   // the exec failed: OpenBLAS chooses
}

__attribute__((used, section(".preinit_array"))) static void (*const preinit_choose_kernels)(int, char **,
                                                                                              char **) = choose_kernels;

const char *ham_blas_chosen(void)
{
    return chosen;
}

const char *ham_blas_overridden(void)
{
    const char *user = getenv("OPENBLAS_CORETYPE"), *ours = kernels_for_this_cpu();
    return !chosen && user && ours && strcasecmp(user, ours) != 0 ? ours : NULL;
}

int ham_blas_small_kernels(void)
{
    static const char *const cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    const char *core = openblas_get_corename();
    for (size_t i = 0; core && i < sizeof cores / sizeof *cores; i++)
        if (strcasecmp(core, cores[i]) == 0) return 1;
    return 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void single_thread(void) { openblas_set_num_threads(1); }

void ham_blas_setup(void)
{
    pthread_once(&once, single_thread);
}
