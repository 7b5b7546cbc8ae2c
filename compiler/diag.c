/* diag.c: source registry, line/column computation and message printing.
 *
 * Columns count Unicode code points (UTF-8 continuation bytes are skipped), so a
 * caret lands under the right character in a terminal.  Tabs in the echoed source
 * line are kept and mirrored in the caret line, so the caret stays aligned. */
#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void diag_init(Diag *d, Arena *arena, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->arena = arena;
    d->out = out;
}

int diag_add_source(Diag *d, const char *path, const char *text, int len)
{
    Source *s = arena_alloc(d->arena, sizeof *s);
    s->path = arena_strdup(d->arena, path);
    s->text = arena_strndup(d->arena, text, (size_t)len);
    s->len = len;
    int n = 1;
    for (int i = 0; i < len; i++) n += text[i] == '\n';
    s->line_starts = arena_alloc(d->arena, (size_t)n * sizeof(int));
    s->line_starts[0] = 0;
    for (int i = 0, k = 1; i < len; i++)
        if (text[i] == '\n') s->line_starts[k++] = i + 1;
    s->nlines = n;
    if (d->nfiles == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        Source **files = arena_alloc(d->arena, (size_t)d->cap * sizeof *files);
        if (d->nfiles) memcpy(files, d->files, (size_t)d->nfiles * sizeof *files);
        d->files = files;
    }
    d->files[d->nfiles] = s;
    return d->nfiles++;
}

/* Files larger than this are refused: specs are small, and the parser's work is
 * linear, but a cap keeps a mistaken argument (a data file) from eating memory. */
#define MAX_SOURCE_BYTES (64 << 20)

int diag_read_file(Diag *d, const char *path, SrcLoc from)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, from, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;   // a directory opens, and then fails to read with a vague EISDIR
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        diag_error(d, from, "cannot read '%s': it is a directory", path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_SOURCE_BYTES) {
                fclose(f);
                free(buf);
                diag_error(d, from, "'%s' is larger than %d MiB; is it a spec?", path,
                           MAX_SOURCE_BYTES >> 20);
                return -1;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        diag_error(d, from, "cannot read '%s'", path);
        return -1;
    }
    int id = diag_add_source(d, path, buf, (int)n);
    free(buf);
    return id;
}

static int line_index(const Source *s, int off)
{
    int lo = 0, hi = s->nlines - 1;
    while (lo < hi) {   // last line start <= off
        int mid = (lo + hi + 1) / 2;
        if (s->line_starts[mid] <= off) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static int utf8_width(const char *p, int n)
{
    int w = 0;
    for (int i = 0; i < n; i++) w += ((unsigned char)p[i] & 0xC0) != 0x80;
    return w;
}

void diag_line_col(const Diag *d, SrcLoc loc, int *line, int *col)
{
    *line = *col = 0;
    if (loc.file < 0 || loc.file >= d->nfiles) return;
    const Source *s = d->files[loc.file];
    int off = loc.off < 0 ? 0 : loc.off > s->len ? s->len : loc.off;
    int li = line_index(s, off);
    *line = li + 1;
    *col = 1 + utf8_width(s->text + s->line_starts[li], off - s->line_starts[li]);
}

/* Echo the source line of loc and a caret/underline under its range (clipped to
 * the line: a multi-line range is underlined to the end of its first line). */
static void print_excerpt(Diag *d, SrcLoc loc)
{
    const Source *s = d->files[loc.file];
    int off = loc.off < 0 ? 0 : loc.off > s->len ? s->len : loc.off;
    int li = line_index(s, off);
    int start = s->line_starts[li], end = start;
    while (end < s->len && s->text[end] != '\n') end++;
    if (end > start && s->text[end - 1] == '\r') end--;
    const int max_echo = 300;   // a minified one-line file must not flood the terminal
    if (end - start > max_echo) {
        int from = off - max_echo / 2;
        if (from > start) start = from;
        if (end - start > max_echo) end = start + max_echo;
        if (off > end) off = end;
    }
    // Control bytes are echoed as '?': an ESC from a stray binary file must not reach
    // the terminal.  One byte for one keeps the caret aligned.
    fprintf(d->out, "%5d | ", li + 1);
    for (int i = start; i < end; i++) {
        unsigned char c = (unsigned char)s->text[i];
        fputc((c < 0x20 && c != '\t') || c == 0x7f ? '?' : c, d->out);
    }
    fputs("\n      | ", d->out);
    for (int i = start; i < off; i++) {
        if (((unsigned char)s->text[i] & 0xC0) == 0x80) continue;
        fputc(s->text[i] == '\t' ? '\t' : ' ', d->out);
    }
    int stop = off + (loc.len > 0 ? loc.len : 1);
    if (stop > end) stop = end > off ? end : off + 1;
    int width = utf8_width(s->text + off, (stop > s->len ? s->len : stop) - off);
    fputc('^', d->out);
    for (int i = 1; i < width; i++) fputc('~', d->out);
    fputc('\n', d->out);
}

/* Messages quote names and source text, which a hostile file can make a megabyte
 * long: past this many bytes a message is cut, and ends in "...". */
#define MAX_MESSAGE 400

static void report(Diag *d, SrcLoc loc, const char *kind, const char *fmt, va_list ap)
{
    char msg[MAX_MESSAGE + 4];
    if (vsnprintf(msg, MAX_MESSAGE + 1, fmt, ap) > MAX_MESSAGE) strcpy(msg + MAX_MESSAGE, "...");
    for (char *c = msg; *c; c++)   // quoted source text: no control bytes to the terminal
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    if (loc.file >= 0 && loc.file < d->nfiles) {
        int line, col;
        diag_line_col(d, loc, &line, &col);
        fprintf(d->out, "%s:%d:%d: %s: %s\n", d->files[loc.file]->path, line, col, kind, msg);
        print_excerpt(d, loc);
    } else {
        fprintf(d->out, "hamc: %s: %s\n", kind, msg);
    }
}

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    d->nerrors++;
    d->last_shown = d->nerrors <= DIAG_MAX_ERRORS;
    if (!d->last_shown) {
        d->suppressed++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    report(d, loc, "error", fmt, ap);
    va_end(ap);
}

void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    d->nwarnings++;
    d->last_shown = !d->warnings_off;
    if (!d->last_shown) return;
    va_list ap;
    va_start(ap, fmt);
    report(d, loc, "warning", fmt, ap);
    va_end(ap);
}

void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    if (!d->last_shown) return;
    va_list ap;
    va_start(ap, fmt);
    report(d, loc, "note", fmt, ap);
    va_end(ap);
}

void diag_hint(Diag *d, const char *fmt, ...)
{
    if (!d->last_shown) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("      = hint: ", d->out);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    va_end(ap);
}

SrcLoc loc_span(SrcLoc a, SrcLoc b)
{
    if (a.file != b.file || a.file < 0) return a;
    int lo = a.off < b.off ? a.off : b.off;
    int hi = a.off + a.len > b.off + b.len ? a.off + a.len : b.off + b.len;
    return (SrcLoc){a.file, lo, hi - lo};
}

/* Optimal string alignment distance, capped: names are short. */
static int edit_distance(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > 40 || m > 40) return 99;
    int dp[41][41];
    for (int i = 0; i <= n; i++) dp[i][0] = i;
    for (int j = 0; j <= m; j++) dp[0][j] = j;
    for (int i = 1; i <= n; i++) {
        for (int j = 1; j <= m; j++) {
            int c = dp[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (dp[i - 1][j] + 1 < c) c = dp[i - 1][j] + 1;
            if (dp[i][j - 1] + 1 < c) c = dp[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                dp[i - 2][j - 2] + 1 < c)
                c = dp[i - 2][j - 2] + 1;
            dp[i][j] = c;
        }
    }
    return dp[n][m];
}

const char *closest_name(const char *name, const char *const *cands, int n)
{
    int limit = (int)strlen(name) <= 3 ? 1 : 2;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; i < n; i++) {
        if (!cands[i] || strcmp(cands[i], name) == 0) continue;
        int dist = edit_distance(name, cands[i]);
        if (dist < best_d) best = cands[i], best_d = dist;
    }
    return best;
}

_Noreturn void diag_internal(const char *file, int line, const char *msg)
{
    fprintf(stderr, "hamc: internal error at %s:%d: %s\n", file, line, msg);
    abort();
}
