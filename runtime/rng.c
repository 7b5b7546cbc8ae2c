/* rng.c: splitmix64 (Steele, Lea, Flood 2014) and the distributions built on it. */
#include "rng.h"

#include <math.h>

uint64_t rng_next(Rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng_uniform01(Rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

double rng_normal(Rng *r)
{
    double u = rng_uniform01(r), v = rng_uniform01(r);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

double rng_draw(void *rng, int normal, double a, double b)
{
    return normal ? a + b * rng_normal(rng) : a + (b - a) * rng_uniform01(rng);
}

Rng rng_split(uint64_t seed, uint64_t stream)
{
    Rng r = {seed ^ (stream * 0xD1B54A32D192ED03ull)};
    r.state = rng_next(&r);
    return r;
}
