/* progress.c: the status line of a long job on a terminal, the caller's text first,
 * then the rate of its units of work and the time left:
 *
 *     epoch 13/100  run 3/20  meta-loss 0.61  eval 0.25 (best 0.24)  31042 steps/s  ETA 0:46
 *
 * `done` and `total` count the units of work (optimizee steps) of this process only,
 * from progress_start: a resumed run's earlier epochs count neither in the rate nor in
 * the ETA.  The caller's text says where the job is (epoch, run, losses). */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_start(Progress *p, long total, const char *unit)
{
    p->tty = isatty(2);
    p->start = progress_now();
    p->last_draw = 0;
    p->total = total;
    p->unit = unit;
}

static void clock_text(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void progress_update(Progress *p, long done, const char *fmt, ...)
{
    double now = progress_now();
    if (!p->tty || (now - p->last_draw < 0.1 && done < p->total)) return;
    p->last_draw = now;
    char text[256], eta[32] = "?", rate_text[32] = "?";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (done > p->total) done = p->total;
    double el = now - p->start, rate = el > 0 && done > 0 ? done / el : 0;
    if (rate > 0) {
        clock_text(eta, sizeof eta, (double)(p->total - done) / rate);
        snprintf(rate_text, sizeof rate_text, rate >= 100 ? "%.0f" : "%.3g", rate);
    }
    fprintf(stderr, "\r\033[K%s  %s %s/s  ETA %s", text, rate_text, p->unit, eta);
    fflush(stderr);
}

void progress_note(Progress *p, const char *fmt, ...)
{
    if (p->tty) fprintf(stderr, "\r\033[K");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    p->last_draw = 0;
}

void progress_end(Progress *p)
{
    if (p->tty) fprintf(stderr, "\r\033[K");
}
