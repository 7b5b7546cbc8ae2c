/* progress.c: "epoch 12/100  meta-loss 3.21  eval 0.45  1.9 epochs/s  ETA 0:46". */
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
    char text[256], eta[32] = "?";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    double el = now - p->start, rate = el > 0 ? done / el : 0;
    if (rate > 0) clock_text(eta, sizeof eta, (p->total - done) / rate);
    fprintf(stderr, "\r\033[K%s %ld/%ld  %s  %.3g %s/s  ETA %s", p->unit, done, p->total, text, rate, p->unit, eta);
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
