/* meta_opt.c: Adam and SGD on double vectors.
 *
 * Adam (torch.optim.Adam):  m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   phi -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
#include "meta_opt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int meta_opt_known(const char *name)
{
    return name && (strcmp(name, "adam") == 0 || strcmp(name, "sgd") == 0);
}

int meta_opt_init(MetaOpt *o, const char *name, int n, double lr)
{
    memset(o, 0, sizeof *o);
    if (!meta_opt_known(name)) return -1;
    o->kind = strcmp(name, "adam") == 0 ? META_ADAM : META_SGD;
    o->n = n;
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->m = calloc((size_t)n + 1, sizeof *o->m);
    o->v = calloc((size_t)n + 1, sizeof *o->v);
    return 0;
}

void meta_opt_free(MetaOpt *o)
{
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

const char *meta_opt_name(const MetaOpt *o)
{
    return o->kind == META_ADAM ? "adam" : "sgd";
}

void meta_opt_step(MetaOpt *o, double *params, const double *grad)
{
    o->step += 1;
    if (o->kind == META_SGD) {
        for (int i = 0; i < o->n; i++) params[i] -= o->lr * grad[i];
        return;
    }
    double c1 = 1 - pow(o->beta1, o->step), c2 = sqrt(1 - pow(o->beta2, o->step));
    // Locals, so that the loop vectorizes (o's fields could alias params otherwise).
    double b1 = o->beta1, b2 = o->beta2, rate = o->lr / c1, eps = o->eps;
    double *restrict m = o->m, *restrict v = o->v, *restrict p = params;
    const double *restrict g = grad;
    for (int i = 0; i < o->n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= rate * m[i] / (sqrt(v[i]) / c2 + eps);
    }
}
