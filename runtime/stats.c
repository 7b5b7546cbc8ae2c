/* stats.c: summaries with a two-sided 95% interval mean +- t(0.975, n-1) sd / sqrt(n). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double stats_t975(int dof)
{
    static const double table[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                   2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110,
                                   2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
                                   2.052, 2.048, 2.045, 2.042};
    if (dof <= 0) return NAN;
    if (dof <= 30) return table[dof];
    if (dof <= 60) return 2.042 - (dof - 30) * (2.042 - 2.000) / 30;
    if (dof <= 120) return 2.000 - (dof - 60) * (2.000 - 1.980) / 60;
    return 1.960;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_summarize(const double *x, int n, Summary *s)
{
    memset(s, 0, sizeof *s);
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    for (int i = 0; i < n; i++) {
        if (isfinite(x[i])) v[s->n++] = x[i];
        else s->nonfinite++;
    }
    if (s->n == 0) {
        s->mean = s->median = s->sd = s->ci_lo = s->ci_hi = NAN;
        free(v);
        return;
    }
    double sum = 0;
    for (int i = 0; i < s->n; i++) sum += v[i];
    s->mean = sum / s->n;
    double ss = 0;
    for (int i = 0; i < s->n; i++) ss += (v[i] - s->mean) * (v[i] - s->mean);
    s->sd = s->n > 1 ? sqrt(ss / (s->n - 1)) : 0;
    qsort(v, (size_t)s->n, sizeof *v, cmp_double);
    s->median = s->n % 2 ? v[s->n / 2] : 0.5 * (v[s->n / 2 - 1] + v[s->n / 2]);
    double half = s->n > 1 ? stats_t975(s->n - 1) * s->sd / sqrt(s->n) : NAN;
    s->ci_lo = s->mean - half;
    s->ci_hi = s->mean + half;
    free(v);
}
