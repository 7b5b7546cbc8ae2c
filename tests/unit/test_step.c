/* test_step.c: the derived steps against known closed forms.
 *
 *   - heavy ball under euler equals PyTorch's momentum recurrence;
 *   - symplectic Euler on the harmonic oscillator conserves its modified energy
 *     q^2 + p^2 - dt q p to 1e-12 over 10^5 steps;
 *   - rk4 has order 4 (the error ratio when dt halves is ~16), euler order 1;
 *   - leapfrog is time-reversible and second order;
 *   - conformal symplectic Euler applies the exact friction e^(-gamma dt);
 *   - the energy balance dH/dx . f = -dissipated + supplied holds at random points;
 *   - defs called twice with the same arguments lower once (no exponential blowup). */
#include <math.h>
#include <stdlib.h>

#include "derive.h"
#include "test.h"

typedef struct Compiled {
    Arena arena;
    Diag diag;
    Program *prog;
    StepProgram *step;
} Compiled;

static StepProgram *compile(Compiled *c, const char *text, const char *opt, int integrator)
{
    arena_init(&c->arena);
    diag_init(&c->diag, &c->arena, stderr);
    c->prog = load_program(&c->arena, &c->diag, "test.ham", text, 1);
    sema_program(c->prog);
    if (c->diag.nerrors) return c->step = NULL;
    Optimizer *o = load_find_optimizer(c->prog, opt);
    StepOptions so;
    step_default_options(&so);
    so.integrator = integrator;
    return c->step = step_build(c->prog, o->info, &c->arena, &c->diag, &so);
}

static void release(Compiled *c)
{
    step_free(c->step);
    arena_free(&c->arena);
}

/* One step in place: state <- next(state), returns the update. */
static double run_step(StepProgram *s, double *state, const double *param, double g, double t)
{
    double input[INPUT_KIND_COUNT] = {g, t, 0};
    DagEnv env = {0};
    env.values[SYM_STATE] = state, env.count[SYM_STATE] = s->nstate;
    env.values[SYM_PARAM] = param, env.count[SYM_PARAM] = s->nparam;
    env.values[SYM_HYPER] = s->hyper_values, env.count[SYM_HYPER] = s->nhyper;
    env.values[SYM_INPUT] = input, env.count[SYM_INPUT] = INPUT_KIND_COUNT;
    double out[64];
    const DagNode *roots[64];
    for (int k = 0; k < s->nstate; k++) roots[k] = s->next[k];
    roots[s->nstate] = s->update;
    dag_eval(s->nstate + 1, roots, &env, out);
    for (int k = 0; k < s->nstate; k++) state[k] = out[k];
    return out[s->nstate];
}

static const char *heavy_ball =
    "optimizer hb {\n"
    "  hyper lr = 0.05, mu = 0.9\n  input g\n  state p = 0\n"
    "  hamiltonian H = p^2 / 2\n  dissipation R = 1 - mu\n  port G = -1\n"
    "  integrator euler(dt = 1)\n  update = lr * p'\n}\n";

static void test_heavy_ball_is_momentum(void)
{
    Compiled c;
    StepProgram *s = compile(&c, heavy_ball, "hb", -1);
    ASSERT(s != NULL);
    if (!s) return;
    Rng rng = {7};
    double p = 0, buf = 0, theta_ham = 0, theta_torch = 0;
    for (int t = 1; t <= 200; t++) {
        double g = rng_normal(&rng);
        theta_ham += run_step(s, &p, NULL, g, t);
        buf = 0.9 * buf + g;   // torch.optim.SGD(momentum=0.9, dampening=0)
        theta_torch -= 0.05 * buf;
    }
    ASSERT_CLOSE(theta_torch, theta_ham, 1e-12);
    release(&c);
}

static const char *oscillator =
    "optimizer osc {\n  input g\n  state q = 1, p = 0\n"
    "  hamiltonian H = (q^2 + p^2) / 2\n  integrator symplectic_euler(dt = 0.1)\n"
    "  update = 0 * g\n}\n";

static void test_symplectic_euler_modified_energy(void)
{
    Compiled c;
    StepProgram *s = compile(&c, oscillator, "osc", -1);
    ASSERT(s != NULL);
    if (!s) return;
    double x[2] = {1, 0}, h = 0.1;
    double e0 = x[0] * x[0] + x[1] * x[1] - h * x[0] * x[1], worst = 0, plain = 0;
    for (int t = 0; t < 100000; t++) {
        run_step(s, x, NULL, 0, t + 1);
        double e = x[0] * x[0] + x[1] * x[1] - h * x[0] * x[1];
        worst = fmax(worst, fabs(e - e0));
        plain = fmax(plain, fabs(x[0] * x[0] + x[1] * x[1] - 1));
    }
    ASSERT(worst < 1e-12);
    ASSERT(plain > 1e-3);   // the plain energy is not conserved: the test can tell them apart
    release(&c);
}

/* Error at T = 1 of the oscillator from (1, 0) against (cos T, -sin T). */
static double oscillator_error(int integrator, double dt)
{
    char text[512];
    snprintf(text, sizeof text,
             "optimizer osc {\n  input g\n  state q = 1, p = 0\n"
             "  hamiltonian H = (q^2 + p^2) / 2\n  integrator euler(dt = %.17g)\n"
             "  update = 0 * g\n}\n", dt);
    Compiled c;
    StepProgram *s = compile(&c, text, "osc", integrator);
    if (!s) return NAN;
    double x[2] = {1, 0};
    int steps = (int)lround(1 / dt);
    for (int t = 0; t < steps; t++) run_step(s, x, NULL, 0, t + 1);
    release(&c);
    return hypot(x[0] - cos(1.0), x[1] + sin(1.0));
}

static void test_orders(void)
{
    double r_rk4 = oscillator_error(INT_RK4, 0.1) / oscillator_error(INT_RK4, 0.05);
    double r_euler = oscillator_error(INT_EULER, 0.01) / oscillator_error(INT_EULER, 0.005);
    double r_leap = oscillator_error(INT_LEAPFROG, 0.01) / oscillator_error(INT_LEAPFROG, 0.005);
    ASSERT(r_rk4 > 15 && r_rk4 < 17);
    ASSERT(r_euler > 1.9 && r_euler < 2.1);
    ASSERT(r_leap > 3.8 && r_leap < 4.2);
}

/* Leapfrog is reversible: stepping with -p brings the state back. */
static void test_leapfrog_reversible(void)
{
    const char *text =
        "optimizer lf {\n  input g\n  state q = 0.3, p = 0.2\n"
        "  hamiltonian H = p^2 / 2 + cos(q) + q^4 / 4\n  integrator leapfrog(dt = 0.05)\n"
        "  update = 0 * g\n}\n";
    Compiled c;
    StepProgram *s = compile(&c, text, "lf", -1);
    ASSERT(s != NULL);
    if (!s) return;
    double x[2] = {0.3, 0.2};
    for (int t = 0; t < 1000; t++) run_step(s, x, NULL, 0, 1);
    x[1] = -x[1];
    for (int t = 0; t < 1000; t++) run_step(s, x, NULL, 0, 1);
    ASSERT_CLOSE(0.3, x[0], 1e-10);
    ASSERT_CLOSE(-0.2, x[1], 1e-10);
    release(&c);
}

/* Conformal symplectic Euler with H = p^2/2 + q^2/2, friction gamma:
 * p+ = e^(-gamma dt) p, p' = p+ - dt q, q' = q + dt p'. */
static void test_conformal_friction(void)
{
    const char *text =
        "optimizer cs {\n  hyper gamma = 0.7\n  input g\n  state q = 1, p = 0.5\n"
        "  hamiltonian H = (q^2 + p^2) / 2\n  dissipation R = blockdiag(0, gamma)\n"
        "  integrator conformal_symplectic(dt = 0.2)\n  update = 0 * g\n}\n";
    Compiled c;
    StepProgram *s = compile(&c, text, "cs", -1);
    ASSERT(s != NULL);
    if (!s) return;
    double x[2] = {1, 0.5}, q = 1, p = 0.5;
    for (int t = 0; t < 50; t++) {
        run_step(s, x, NULL, 0, 1);
        p = exp(-0.7 * 0.2) * p - 0.2 * q;
        q = q + 0.2 * p;
    }
    ASSERT_CLOSE(q, x[0], 1e-13);
    ASSERT_CLOSE(p, x[1], 1e-13);
    release(&c);
}

/* dH/dx . f = -dH/dx^T R dH/dx + y^T u, at random points of a learned spec. */
static void test_energy_balance(void)
{
    const char *text =
        "optimizer phnn {\n  input g\n  let u = logsign(g, 10)\n  state q[2] = 0, p[2] = 0\n"
        "  param W[6,2] ~ normal(0, 0.5), b[6] = 0, w[6] ~ normal(0, 0.5)\n"
        "  param r[2] = -1, K[2,2] ~ normal(0, 0.5), L[4,4] ~ normal(0, 0.3)\n"
        "  hamiltonian H = dot(p, p) / 2 + mlp1(q, W, b, w)\n"
        "  structure J = canonical(q, p)\n"
        "  dissipation R = blockdiag(zeros(2,2), diag(softplus(r))) + L @ transpose(L)\n"
        "  port G = [zeros(2,2); K], u\n  integrator rk4(dt = 0.5)\n"
        "  update = 0.01 * dot(p', q')\n}\n";
    Compiled c;
    StepProgram *s = compile(&c, text, "phnn", -1);
    ASSERT(s != NULL);
    if (!s) return;
    Rng rng = {3};
    double *param = calloc((size_t)s->nparam, sizeof *param);
    step_initial_params(s, param, rng_draw, &rng);
    for (int trial = 0; trial < 20; trial++) {
        double state[4], input[3] = {rng_normal(&rng), 1, 0}, out[16];
        for (int k = 0; k < 4; k++) state[k] = rng_normal(&rng);
        DagEnv env = {0};
        env.values[SYM_STATE] = state, env.count[SYM_STATE] = 4;
        env.values[SYM_PARAM] = param, env.count[SYM_PARAM] = s->nparam;
        env.values[SYM_INPUT] = input, env.count[SYM_INPUT] = 3;
        const DagNode *roots[10];
        for (int i = 0; i < 4; i++) roots[i] = s->dHdx[i], roots[4 + i] = s->field[i];
        roots[8] = s->dissipated, roots[9] = s->supplied;
        dag_eval(10, roots, &env, out);
        double power = 0;
        for (int i = 0; i < 4; i++) power += out[i] * out[4 + i];
        ASSERT_CLOSE(-out[8] + out[9], power, 1e-12);
        ASSERT(out[8] >= -1e-15);   // R is PSD
    }
    free(param);
    release(&c);
}

static void test_def_sharing(void)
{
    // f40 would be 2^40 inlined copies without sharing.
    char text[8192];
    int k = snprintf(text, sizeof text, "def f0(x) = tanh(x)\n");
    for (int i = 1; i <= 40; i++) k += snprintf(text + k, sizeof text - k, "def f%d(x) = f%d(x) + f%d(x)\n", i, i - 1, i - 1);
    snprintf(text + k, sizeof text - k, "optimizer deep {\n  input g\n  state m = 0\n  next m = f40(g)\n  update = m'\n}\n");
    Compiled c;
    StepProgram *s = compile(&c, text, "deep", -1);
    ASSERT(s != NULL);
    if (!s) return;
    double m = 0;
    run_step(s, &m, NULL, 0.5, 1);
    ASSERT_CLOSE(ldexp(tanh(0.5), 40), m, 1e-12);
    release(&c);
}

int main(void)
{
    setenv("HAM_STDLIB", "stdlib", 0);
    test_heavy_ball_is_momentum();
    test_symplectic_euler_modified_energy();
    test_orders();
    test_leapfrog_reversible();
    test_conformal_friction();
    test_energy_balance();
    test_def_sharing();
    return test_summary();
}
