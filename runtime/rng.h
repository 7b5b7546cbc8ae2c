/* rng.h: the project's random numbers: splitmix64, uniform doubles, Box-Muller normals.
 *
 * One generator everywhere (initializers, tasks, gradient checks) so that a seed means
 * the same numbers in the compiler, the runtime and the emitted C's documentation.
 * The state is one 64-bit word, cheap to store in checkpoints and to split per run
 * (rng_split: a child generator for run r that does not overlap its siblings in any
 * practical sense). */
#ifndef HAM_RNG_H
#define HAM_RNG_H

#include <stdint.h>

typedef struct Rng {
    unsigned long long state;
} Rng;

uint64_t rng_next(Rng *r);
double rng_uniform01(Rng *r);          // in (0, 1)
double rng_normal(Rng *r);             // N(0, 1)
double rng_draw(void *rng, int normal, double a, double b);   // normal(a, b) or uniform(a, b)
Rng rng_split(uint64_t seed, uint64_t stream);

#endif
