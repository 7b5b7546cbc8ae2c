/* stats.h: summaries of many runs: mean, median, and a 95% confidence interval of
 * the mean (Student's t for small samples, the normal quantile beyond 120 runs). */
#ifndef HAM_STATS_H
#define HAM_STATS_H

typedef struct Summary {
    int n;                 // finite values summarized
    int nonfinite;         // NaN or Inf values left out (diverged runs)
    double mean, median, sd;
    double ci_lo, ci_hi;   // 95% interval of the mean
} Summary;

void stats_summarize(const double *x, int n, Summary *s);
double stats_t975(int dof);   // the 97.5% quantile of Student's t

#endif
