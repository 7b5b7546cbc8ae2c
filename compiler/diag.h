/* diag.h: source files, locations, and diagnostics.
 *
 * A location is a file number and a byte range; line and column are computed only
 * when a message is printed (as jq's locfile.c does), from a table of line starts.
 * Messages follow `file:line:col: error: message`, then the source line and a caret
 * under the range, then an optional hint.  Errors are counted and parsing goes on,
 * so one run reports several. */
#ifndef HAM_DIAG_H
#define HAM_DIAG_H

#include <stdio.h>

#include "arena.h"

typedef struct SrcLoc {
    int file;   // index into the SourceSet; -1 for "no location" (built-ins)
    int off;    // byte offset of the first character
    int len;    // bytes covered (at least 1 when printed)
} SrcLoc;

typedef struct Source {
    const char *path;     // as given by the user, or resolved for imports
    const char *text;     // whole file, NUL-terminated (a NUL inside is rejected)
    int len;
    int *line_starts;     // offsets where lines begin
    int nlines;
} Source;

#define DIAG_MAX_ERRORS 50   // past this many, more errors only add noise

typedef struct Diag {
    Arena *arena;         // where sources live
    Source **files;
    int nfiles, cap;
    FILE *out;            // where messages go (stderr, or a memstream in tests/REPL)
    int nerrors, nwarnings;
    int suppressed;       // errors not printed past DIAG_MAX_ERRORS
    int warnings_off;     // -w: do not print warnings
    int last_shown;       // whether the last error/warning was printed (for notes, hints)
} Diag;

void diag_init(Diag *d, Arena *arena, FILE *out);

/* diag_add_source: register text (copied) under path; returns the file number. */
int diag_add_source(Diag *d, const char *path, const char *text, int len);

/* diag_read_file: read path into the source set; -1 with a message if it cannot. */
int diag_read_file(Diag *d, const char *path, SrcLoc from);

void diag_line_col(const Diag *d, SrcLoc loc, int *line, int *col);

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* diag_hint: a `hint:` line for the message just printed. */
void diag_hint(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* loc_span: the smallest range covering a and b (same file). */
SrcLoc loc_span(SrcLoc a, SrcLoc b);

/* closest_name: the candidate within a small edit distance of name, or NULL;
 * used for "did you mean ...?" hints. */
const char *closest_name(const char *name, const char *const *cands, int n);

/* UNREACHABLE: an internal impossibility; prints file and line and aborts. */
#define UNREACHABLE(msg) diag_internal(__FILE__, __LINE__, msg)
_Noreturn void diag_internal(const char *file, int line, const char *msg);

#endif
