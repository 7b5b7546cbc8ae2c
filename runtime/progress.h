/* progress.h: one self-rewriting status line for long runs, on a terminal only.
 *
 * progress_update redraws at most every 100 ms; when stderr is not a terminal (CI,
 * a pipe) nothing is drawn, and progress_note lines still go out whole. */
#ifndef HAM_PROGRESS_H
#define HAM_PROGRESS_H

typedef struct Progress {
    int tty;
    double start, last_draw;
    long total;            // units of work in all (epochs, runs)
    const char *unit;
} Progress;

void progress_start(Progress *p, long total, const char *unit);
/* progress_update: done units so far and a free text (loss, eval...). */
void progress_update(Progress *p, long done, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void progress_note(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_end(Progress *p);
double progress_now(void);

#endif
