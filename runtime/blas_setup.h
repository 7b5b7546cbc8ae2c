/* blas_setup.h: the process's OpenBLAS: which kernels it runs and on how many threads.
 *
 * Kernels.  A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels when it is loaded,
 * from the CPU's vendor, family and model; a model it does not know gets its generic
 * SSE3 kernels ("Prescott").  Debian 12's 0.3.21 does not know the Xeons of family 6,
 * model 207 that some of our machines are, and its sgemm runs 2-3x slower there (the
 * MNIST Adam run 3x, the LSTM's staged step 2.5x; README, Performance).  So every
 * executable linking this file chooses for it when the user has not (OPENBLAS_CORETYPE
 * unset): from the CPU's features, the kernels OpenBLAS itself gives the CPUs it knows
 * with those features: AVX-512 with BF16 -> Cooperlake, AVX-512 -> SkylakeX, and on
 * Intel AVX2 with FMA -> Haswell; AMD CPUs without AVX-512 are left to OpenBLAS (its
 * Zen kernels).  Since OpenBLAS reads the variable as it loads, before main, the
 * program is executed again with it set (about 16 ms for hamc, which loads LLVM).
 * Setting OPENBLAS_CORETYPE (to any name OpenBLAS knows) overrides the choice, and
 * HAM_BLAS_CHOOSE=0 leaves it to OpenBLAS.
 *
 * Threads.  ham parallelizes over runs and coordinate blocks itself, so every BLAS call
 * it makes is single-threaded: ham_blas_setup sets that once, process-wide. */
#ifndef HAM_BLAS_SETUP_H
#define HAM_BLAS_SETUP_H

/* Once per process (thread-safe): OpenBLAS single-threaded. */
void ham_blas_setup(void);

/* The kernels ham chose before OpenBLAS loaded ("Cooperlake", ...), or NULL when it
 * chose none (the user's OPENBLAS_CORETYPE, HAM_BLAS_CHOOSE=0, or a CPU left to
 * OpenBLAS).  openblas_get_corename() says what OpenBLAS runs. */
const char *ham_blas_chosen(void);

/* Whether OpenBLAS runs its AVX-512 kernels, which multiply small matrices (M N K <=
 * HAM_BLAS_SMALL_MNK, not transposed or only B) in place, without packing them: there
 * a product with beta 0 writes C without a pass of its own over it.  (OpenBLAS 0.3.21's
 * sgemm_small_kernel_permit for these cores; larger products are packed.) */
int ham_blas_small_kernels(void);
#define HAM_BLAS_SMALL_MNK 1e6

/* The kernels ham would have chosen ("Cooperlake", ...) where the user's
 * OPENBLAS_CORETYPE names others, or NULL (no such variable, the same kernels, or a CPU
 * ham leaves to OpenBLAS): `hamc --version` and the bench say so. */
const char *ham_blas_overridden(void);

#endif
