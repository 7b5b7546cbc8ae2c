/* train_quadratic.c: Adam, compiled from stdlib/adam.ham by `hamc emit-c`, training a
 * 10-d quadratic in plain C: no compiler, no runtime, only the emitted file.
 *
 *     f(x) = 1/2 sum_i a_i (x_i - b_i)^2,   a_i = i + 1,   b_i = sin(i + 1)
 *     grad_i = a_i (x_i - b_i)
 *
 * Run 1 calls the convenience step with the hypers baked in (lr = 0.001); run 2 fills
 * a HamStepArgs and calls the forward kernel itself with lr = 0.05, as a runtime that
 * overrides hypers or splits coordinates into blocks would. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adam_f64.h"

#define N 10

static double loss(const double *x, double *grad)
{
    double f = 0;
    for (int i = 0; i < N; i++) {
        double a = i + 1, d = x[i] - sin(i + 1.0);
        f += 0.5 * a * d * d;
        grad[i] = a * d;
    }
    return f;
}

int main(void)
{
    double x[N], g[N], state[HAM_ADAM_NSTATE * N], scratch[(HAM_ADAM_NSTATE + 1) * N];

    printf("run 1: ham_adam_step_f64, baked hypers (lr = 0.001)\n");
    memset(x, 0, sizeof x);
    ham_adam_init_state_f64(state, N, N);
    for (int t = 1; t <= 3000; t++) {
        double f = loss(x, g);
        if (t == 1 || t % 300 == 0) printf("  step %4d  loss %.6e\n", t, f);
        ham_adam_step_f64(x, g, state, scratch, N, t);
    }

    printf("run 2: ham_adam_forward_f64, hypers given (lr = 0.05)\n");
    const double hypers[HAM_ADAM_NHYPER] = {0.05, 0.9, 0.999, 1e-8};   // lr, b1, b2, eps
    double next[HAM_ADAM_NSTATE * N], update[N];
    memset(x, 0, sizeof x);
    ham_adam_init_state_f64(state, N, N);
    for (int t = 1; t <= 300; t++) {
        double f = loss(x, g);
        if (t == 1 || t % 30 == 0) printf("  step %4d  loss %.6e\n", t, f);
        HamStepArgs a = {0};
        a.begin = 0, a.end = N, a.stride = N;
        a.state = state, a.g = g, a.theta = x, a.t = t;
        a.hypers = hypers;               // adam has no params: a.params stays NULL
        a.state_next = next, a.update = update;
        ham_adam_forward_f64(&a);
        for (int i = 0; i < N; i++) x[i] += update[i];
        memcpy(state, next, sizeof next);
    }
    return 0;
}
