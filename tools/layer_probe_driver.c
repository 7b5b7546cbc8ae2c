/* layer_probe_driver.c: what an optimizer does to each layer of the MNIST MLP, on real
 * gradient streams (tools/layer_probe.sh).
 *
 * Linked with one optimizer emitted by `hamc emit-c --float` (params baked in), named
 * by -DPROBE_STEP, -DPROBE_INIT and -DPROBE_NSTATE as in tools/probe_driver.c, and with
 * libham's tasks.  It runs the optimizer on RUNS fresh MNIST instances for STEPS steps,
 * as `hamc run` does, and groups the coordinates by the MLP's arrays (W1, b1, W2, b2,
 * ...: theta holds each layer's W, out x in row-major, then its b).  Per group:
 *
 *   |g| t=1, |g|   mean |gradient| at the first step, and over all steps
 *   |d| t=K        mean |update| at step K (theta_{K+1} - theta_K), K = 1, 5, 20, STEPS
 *   |th-th0|       mean distance each coordinate travelled from its start
 *   -d.g/step      the first-order decrease the group's updates bought per step
 *                  (sum over its coordinates of -update * gradient), mean over runs
 *   cos(d,-g)      how much the updates point down the gradient: sum d.(-g) over
 *                  sqrt(sum d^2 sum g^2), all steps and runs pooled (1 for SGD)
 *   cos(d,-sgn)    the same against -sign(g) (1 for signSGD)
 *   d2@g=0         the share of the group's sum of d^2 on coordinates whose gradient
 *                  was exactly 0 that step (a pixel dark in the whole minibatch)
 *
 * with a last row for the whole network, and the mean loss after the last step.  For seeing where a learned optimizer puts
 * its steps: results/mnist_sigmoid/policy_study/ compares the MNIST LSTM with phnn_rms.
 *
 * usage: layer_probe TASK RUNS STEPS   (TASK as for --task, e.g. "mnist split=eval") */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "task.h"

void PROBE_INIT(float *state, int64_t n, int64_t stride);
void PROBE_STEP(float *theta, const float *g, float *state, float *scratch, int64_t n, double t);

enum { MAXG = 2 * (TASK_MAX_LAYERS + 1) + 1, NMARK = 4 };

typedef struct Group {
    char name[8];
    int64_t begin, end;
    double g1, g, d[NMARK], travel, decrease;
    double dd, gg, ds, ss, dzero;   // the sums of the alignment columns (with decrease)
} Group;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "layer_probe: out of memory\n");
        exit(1);
    }
    return p;
}

/* The MLP's arrays in theta, from the task's layer sizes (runtime/mlp.c's layout). */
static int layer_groups(const TaskConfig *c, int64_t dim, Group *gr)
{
    int size[TASK_MAX_LAYERS + 2], nl = c->nhidden + 1, ng = 0;
    size[0] = MNIST_PIXELS;
    for (int l = 0; l < c->nhidden; l++) size[l + 1] = c->hidden[l];
    size[nl] = MNIST_CLASSES;
    int64_t off = 0;
    for (int l = 0; l < nl; l++) {
        int64_t w = (int64_t)size[l] * size[l + 1];
        gr[ng] = (Group){.begin = off, .end = off + w};
        snprintf(gr[ng++].name, sizeof gr[0].name, "W%d", l + 1);
        gr[ng] = (Group){.begin = off + w, .end = off + w + size[l + 1]};
        snprintf(gr[ng++].name, sizeof gr[0].name, "b%d", l + 1);
        off += w + size[l + 1];
    }
    gr[ng] = (Group){.begin = 0, .end = off};   // the whole network
    snprintf(gr[ng++].name, sizeof gr[0].name, "all");
    return off == dim ? ng : -1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: layer_probe TASK RUNS STEPS\n");
        return 2;
    }
    int runs = atoi(argv[2]), steps = atoi(argv[3]);
    char err[256];
    TaskConfig c;
    task_default_config(&c, TASK_MNIST);
    if (task_config_parse(&c, argv[1], err, sizeof err) != 0 || runs < 1 || steps < 1) {
        fprintf(stderr, "layer_probe: %s\n", runs < 1 || steps < 1 ? "RUNS and STEPS must be positive" : err);
        return 2;
    }
    if (c.kind != TASK_MNIST) {
        fprintf(stderr, "layer_probe: the task must be mnist, not '%s'\n", argv[1]);
        return 2;
    }
    Task *task = task_create(&c, err, sizeof err);
    if (!task) {
        fprintf(stderr, "layer_probe: %s\n", err);
        return 1;
    }
    int64_t n = task_dim(task);
    Group gr[MAXG];
    int ng = layer_groups(&c, n, gr);
    if (ng < 0) {
        fprintf(stderr, "layer_probe: internal error: the MLP's layout does not add up to %lld params\n", (long long)n);
        return 1;
    }
    int mark[NMARK] = {1, 5, 20, steps};
    float *theta = xcalloc((size_t)n, sizeof *theta), *theta0 = xcalloc((size_t)n, sizeof *theta);
    float *prev = xcalloc((size_t)n, sizeof *prev), *g = xcalloc((size_t)n, sizeof *g);
    float *state = xcalloc((size_t)PROBE_NSTATE * (size_t)n, sizeof *state);
    float *scratch = xcalloc((size_t)(PROBE_NSTATE + 1) * (size_t)n, sizeof *scratch);
    double final = 0;
    for (int r = 0; r < runs; r++) {
        task_reset(task, 1000 + (uint64_t)r, theta);
        memcpy(theta0, theta, (size_t)n * sizeof *theta);
        PROBE_INIT(state, n, n);
        for (int t = 1; t <= steps; t++) {
            task_loss_grad(task, theta, g);
            memcpy(prev, theta, (size_t)n * sizeof *theta);
            PROBE_STEP(theta, g, state, scratch, n, t);
            for (int k = 0; k < ng; k++) {
                Group *G = &gr[k];
                double ga = 0, da = 0, dec = 0;
                for (int64_t i = G->begin; i < G->end; i++) {
                    double d = (double)theta[i] - prev[i], sg = g[i] > 0 ? 1 : g[i] < 0 ? -1 : 0;
                    ga += fabs(g[i]);
                    da += fabs(d);
                    dec -= d * g[i];
                    G->dd += d * d, G->gg += (double)g[i] * g[i], G->ds -= d * sg, G->ss += sg * sg;
                    if (g[i] == 0) G->dzero += d * d;
                }
                G->g += ga;
                if (t == 1) G->g1 += ga;
                for (int m = 0; m < NMARK; m++)
                    if (t == mark[m]) G->d[m] += da;
                G->decrease += dec;
            }
        }
        final += task_loss_grad(task, theta, g);
        for (int k = 0; k < ng; k++)
            for (int64_t i = gr[k].begin; i < gr[k].end; i++) gr[k].travel += fabs((double)theta[i] - theta0[i]);
    }
    printf("final loss %.4f (mean of %d runs of %d steps, task %s)\n", final / runs, runs, steps, argv[1]);
    char last[24];
    snprintf(last, sizeof last, "|d| t=%d", steps);
    printf("%-5s %7s %10s %10s %10s %10s %10s %10s %10s %10s %10s %11s %8s\n", "group", "coords", "|g| t=1", "|g|",
           "|d| t=1", "|d| t=5", "|d| t=20", last, "|th-th0|", "-d.g/step", "cos(d,-g)", "cos(d,-sgn)", "d2@g=0");
    for (int k = 0; k < ng; k++) {
        const Group *G = &gr[k];
        double m = (double)(G->end - G->begin) * runs;
        double cg = G->dd > 0 && G->gg > 0 ? G->decrease / sqrt(G->dd * G->gg) : 0;
        double cs = G->dd > 0 && G->ss > 0 ? G->ds / sqrt(G->dd * G->ss) : 0;
        printf("%-5s %7lld %10.3e %10.3e %10.3e %10.3e %10.3e %10.3e %10.3e %10.3e %10.3f %11.3f %8.3f\n", G->name,
               (long long)(G->end - G->begin), G->g1 / m, G->g / m / steps, G->d[0] / m, G->d[1] / m, G->d[2] / m,
               G->d[3] / m, G->travel / m, G->decrease / runs / steps, cg, cs, G->dd > 0 ? G->dzero / G->dd : 0);
    }
    task_destroy(task);
    free(theta), free(theta0), free(prev), free(g), free(state), free(scratch);
    return 0;
}
