/* probe_driver.c: what an optimizer does with synthetic gradient streams (tools/probe.sh).
 *
 * Linked with one optimizer emitted by `hamc emit-c --float` (params baked in), whose
 * step and state initializer tools/probe.sh names with -DPROBE_STEP, -DPROBE_INIT and
 * -DPROBE_NSTATE.  Every coordinate is an independent copy of the optimizer, so one
 * call steps many experiments at once.  Three tables, the update (theta_{t+1} - theta_t)
 * at chosen steps t:
 *
 *   constant   g_t = 10^k for k = -6..0: the step size the optimizer settles on for a
 *              steady gradient, by its scale
 *   noise      g_t = s (r + N(0, 1)), s = 10^-3, for signal-to-noise ratios r: the mean
 *              update (its drift along the signal) and the mean |update|, over 2000
 *              coordinates each; an optimizer that tells signal from noise drifts
 *              where r is large and sits still where r = 0
 *   flip       g_t = +10^k for t <= 6, -10^k for t = 7..9, + again after: how fast it
 *              turns around after overshooting
 *
 * The noise is a fixed-seed xorshift with Box-Muller, so a run is reproducible. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void PROBE_INIT(float *state, int64_t n, int64_t stride);
void PROBE_STEP(float *theta, const float *g, float *state, float *scratch, int64_t n, double t);

enum { STEPS = 30, NOISE_COORDS = 2000 };

static const int shown[] = {1, 2, 3, 5, 10, 20, 30};
enum { NSHOWN = sizeof shown / sizeof *shown };

static int is_shown(int t)
{
    for (int i = 0; i < NSHOWN; i++)
        if (shown[i] == t) return 1;
    return 0;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform01(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

/* One optimizer state per coordinate, n coordinates; theta kept at 0 before each step so
 * that after it theta is the update. */
typedef struct Probe {
    int64_t n;
    float *theta, *g, *state, *scratch;
} Probe;

static int probe_init(Probe *p, int64_t n)
{
    p->n = n;
    p->theta = calloc((size_t)n, sizeof *p->theta);
    p->g = calloc((size_t)n, sizeof *p->g);
    p->state = calloc((size_t)(PROBE_NSTATE > 0 ? PROBE_NSTATE : 1) * (size_t)n, sizeof *p->state);
    p->scratch = calloc((size_t)(PROBE_NSTATE + 1) * (size_t)n, sizeof *p->scratch);
    if (!p->theta || !p->g || !p->state || !p->scratch) return -1;
    PROBE_INIT(p->state, n, n);
    return 0;
}

static void probe_step(Probe *p, int t)
{
    for (int64_t i = 0; i < p->n; i++) p->theta[i] = 0;
    PROBE_STEP(p->theta, p->g, p->state, p->scratch, p->n, t);
}

static void probe_free(Probe *p)
{
    free(p->theta), free(p->g), free(p->state), free(p->scratch);
}

/* The header's gradient scales 10^first .. 10^(first + count - 1), then a newline. */
static void print_scales(int count, int first)
{
    for (int k = 0; k < count; k++) printf(" %10.0e", pow(10, k + first));
    printf("\n");
}

/* The updates of the probe's coordinates, then a newline. */
static void print_updates(const Probe *p)
{
    for (int64_t k = 0; k < p->n; k++) printf(" %+10.3e", p->theta[k]);
    printf("\n");
}

static int constant_table(void)
{
    enum { K = 7 };
    Probe p;
    if (probe_init(&p, K) != 0) return -1;
    printf("constant gradient g = 10^k: update at step t\n%6s", "t \\ g");
    print_scales(K, -6);
    for (int t = 1; t <= STEPS; t++) {
        for (int k = 0; k < K; k++) p.g[k] = (float)pow(10, k - 6);
        probe_step(&p, t);
        if (!is_shown(t)) continue;
        printf("%6d", t);
        print_updates(&p);
    }
    probe_free(&p);
    return 0;
}

static int noise_table(void)
{
    static const double ratio[] = {0, 0.3, 1, 3, 10};
    enum { R = sizeof ratio / sizeof *ratio };
    const double s = 1e-3;
    Probe p;
    if (probe_init(&p, (int64_t)R * NOISE_COORDS) != 0) return -1;
    printf("\nnoisy gradient g = %g (r + N(0,1)): mean update / mean |update| over %d coordinates\n%6s",
           s, NOISE_COORDS, "t \\ r");
    for (int r = 0; r < R; r++) printf(" %21g", ratio[r]);
    printf("\n");
    for (int t = 1; t <= STEPS; t++) {
        for (int64_t i = 0; i < p.n; i++) p.g[i] = (float)(s * (ratio[i / NOISE_COORDS] + gauss()));
        probe_step(&p, t);
        if (!is_shown(t)) continue;
        printf("%6d", t);
        for (int r = 0; r < R; r++) {
            double sum = 0, abs_sum = 0;
            for (int64_t i = (int64_t)r * NOISE_COORDS; i < (int64_t)(r + 1) * NOISE_COORDS; i++)
                sum += p.theta[i], abs_sum += fabs(p.theta[i]);
            printf("  %+9.2e / %9.2e", sum / NOISE_COORDS, abs_sum / NOISE_COORDS);
        }
        printf("\n");
    }
    probe_free(&p);
    return 0;
}

static int flip_table(void)
{
    enum { K = 4 };
    Probe p;
    if (probe_init(&p, K) != 0) return -1;
    printf("\nsign flip: g = +10^k for t <= 6, -10^k for t = 7..9, then + again: update at step t\n%6s", "t \\ g");
    print_scales(K, -4);
    for (int t = 1; t <= 14; t++) {
        float sign = t >= 7 && t <= 9 ? -1.0f : 1.0f;
        for (int k = 0; k < K; k++) p.g[k] = sign * (float)pow(10, k - 4);
        probe_step(&p, t);
        printf("%4d %c", t, sign > 0 ? '+' : '-');
        print_updates(&p);
    }
    probe_free(&p);
    return 0;
}

int main(void)
{
    if (constant_table() != 0 || noise_table() != 0 || flip_table() != 0) {
        fprintf(stderr, "probe: out of memory\n");
        return 1;
    }
    return 0;
}
