/* repl_cmd.c: the REPL's session and its command language.
 *
 * The session is a set of entries, one per top-level item typed in or loaded (an
 * optimizer, a def, an import), keyed by kind and name: a new definition of a name
 * replaces the old entry.  The compiler takes one text, so each use composes one from
 * the entries (.ham items may come in any order):
 *
 *     text(X) = padding, X's entry, then every def and import entry
 *
 * The padding (newlines and spaces) puts X's first character where it stood in its
 * origin, so diagnostics about X read `file:line:col` of the file it came from (or
 * `<repl>:line:col` of the entry).  Other optimizers stay out, so that one broken
 * optimizer does not stop the others.  An optimizer named nowhere in the session but
 * found as stdlib/NAME.ham is imported on demand: `run adam` just works.
 *
 * Each entry has its own arena, freed when it is replaced; each compiled optimizer owns
 * its Compiled (compile.h), kept until the session changes (a generation counter) or its
 * hyper overrides do.  Learned params are kept per optimizer across recompilations as
 * long as their layout (names and sizes) stays the same.
 *
 * `copy SRC NEW` makes NEW a second name for SRC's definition with hyper overrides and
 * params of its own (ReplOpt.base), so that a baseline can stand in one table at two
 * learning rates.
 *
 * Check mode (`hamc run-script --check`) goes through a script without running it:
 * definitions, load and copy are done (they are cheap and later commands need them),
 * every other command checks its arguments, that the optimizers it names load and
 * check, that its task parses and can be created, that the files it reads exist (or
 * were written by an earlier command, or an earlier script of the same check) and
 * that the directories it writes to exist, and then stops short of the work.
 *
 * Errors of a script's entries read `file:line: error: ...` (fail_file, fail_line).
 *
 * Every command is a function in the table `commands`, with its usage and help. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "c_emit.h"
#include "batch.h"
#include "checkpoint.h"
#include "commands.h"
#include "compile.h"
#include "derive.h"
#include "eval.h"
#include "fmt.h"
#include "meta_opt.h"
#include "meta_train.h"
#include "parse.h"
#include "pool.h"
#include "repl_impl.h"
#include "sema.h"

#define REPL_ORIGIN "<repl>"   // the name of typed entries in diagnostics
#define MAX_ARGS 64            // words in one command line; more is surely a mistake

/* One top-level item of the session. */
typedef struct ReplEntry {
    Arena arena;          // this entry's strings; freed when the entry is replaced
    TopKind kind;         // TOP_OPTIMIZER, TOP_DEF, TOP_IMPORT
    const char *name;     // the optimizer's or def's name; an import's resolved path
    const char *text;     // its source (an import: with the resolved path)
    const char *origin;   // REPL_ORIGIN or the file it was loaded from
    int line, col;        // where it starts in origin, from 1
} ReplEntry;

/* What the session keeps about one optimizer it has used. */
typedef struct ReplOpt {
    char *name;
    Compiled c;           // valid when compiled
    int compiled;
    long gen;             // the session generation c was compiled at
    int adjoint;          // c has the adjoint kernels
    char *base;           // `copy`: the optimizer whose definition this name compiles (else NULL)
    double *params;       // [nparam]: initial, trained or loaded
    int nparam;
    uint64_t layout;      // hash of the param arrays' names and sizes
    double best_loss;     // from the last `train` (NaN: not trained)
    char **set_names;     // hyper overrides, in the order set
    double *set_values;
    int nset;
} ReplOpt;

/* One optimizer's result in the last run or compare: its mean loss curve for `plot`,
 * its row for `table`. */
typedef struct ReplCurve {
    char *name;
    int steps, runs;
    double *mean, *lo, *hi;   // [steps + 1]: mean and its 95% interval at each step
    Summary final, over;      // the final loss, and the mean loss over steps 1..steps
    double test_loss, test_acc;   // means over the runs with a test measure, else NaN
} ReplCurve;

struct ReplSession {
    ReplEntry **entries;
    int nentries;
    ReplOpt **opts;
    int nopts;
    long gen;             // bumped whenever the entries change
    Jit *jit;             // made on first use: LLVM's start-up is not free
    HamPool *pool;
    TaskConfig task;
    char task_text[256];
    ReplCurve *curves;
    int ncurves;
    char curves_task[256];   // the task and seed the curves were measured with
    uint64_t curves_seed;
    int timing, interactive;
    int restricted;       // fuzzing mode: commands that run jobs or touch files refused
    char *script;         // the script file entries come from (NULL: typed or piped)
    int line;             // the line the current entry starts at in script
    int checking;         // check mode: commands check their arguments and stop there
    int check_curves;     // check mode: a run or compare came before (plot and table need one)
    char **written;       // check mode: files that commands so far would have written
    int nwritten;
};

volatile int repl_sigint;

/* Where the entry being executed came from, for fail()'s `file:line: ` prefix: set by
 * repl_exec from the session (a script's file and line), NULL for typed entries.  One
 * entry executes at a time in the process, so one static pair suffices. */
static const char *fail_file;
static int fail_line;

static void entry_free(ReplEntry *e)
{
    if (!e) return;
    arena_free(&e->arena);
    free(e);
}

static void opt_free(ReplOpt *o)
{
    if (o->compiled) compiled_free(&o->c);
    for (int i = 0; i < o->nset; i++) free(o->set_names[i]);
    free(o->set_names);
    free(o->set_values);
    free(o->params);
    free(o->base);
    free(o->name);
    free(o);
}

static void curves_free(ReplSession *s)
{
    for (int i = 0; i < s->ncurves; i++) {
        free(s->curves[i].name);
        free(s->curves[i].mean);
        free(s->curves[i].lo);
        free(s->curves[i].hi);
    }
    free(s->curves);
    s->curves = NULL;
    s->ncurves = 0;
}

ReplSession *repl_session_new(int interactive)
{
    ReplSession *s = xcalloc(1, sizeof *s);
    s->interactive = interactive;
    task_default_config(&s->task, TASK_QUADRATIC);
    snprintf(s->task_text, sizeof s->task_text, "quadratic");
    return s;
}

void repl_session_restrict(ReplSession *s)
{
    s->restricted = 1;
}

void repl_session_free(ReplSession *s)
{
    if (!s) return;
    for (int i = 0; i < s->nentries; i++) entry_free(s->entries[i]);
    free(s->entries);
    for (int i = 0; i < s->nopts; i++) opt_free(s->opts[i]);
    free(s->opts);
    curves_free(s);
    if (s->pool) ham_pool_destroy(s->pool);
    jit_destroy(s->jit);
    for (int i = 0; i < s->nwritten; i++) free(s->written[i]);
    free(s->written);
    free(s->script);
    free(s);
}

void repl_session_locate(ReplSession *s, const char *file, int line)
{
    if (!s->script || strcmp(s->script, file) != 0) {
        free(s->script);
        s->script = strdup(file);
    }
    s->line = line;
}

void repl_session_check(ReplSession *s, const ReplSession *before)
{
    s->checking = 1;
    for (int i = 0; before && i < before->nwritten; i++) {
        s->written = xrealloc(s->written, (size_t)(s->nwritten + 1) * sizeof *s->written);
        s->written[s->nwritten++] = strdup(before->written[i]);
    }
}

/* ---- helpers ---- */

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ReplStatus fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static ReplStatus fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (fail_file) fprintf(stderr, "%s:%d: ", fail_file, fail_line);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return REPL_ERROR;
}

static ReplEntry *find_entry(ReplSession *s, TopKind kind, const char *name)
{
    for (int i = 0; i < s->nentries; i++)
        if (s->entries[i]->kind == kind && strcmp(s->entries[i]->name, name) == 0) return s->entries[i];
    return NULL;
}

static ReplOpt *find_opt(ReplSession *s, const char *name, int create)
{
    for (int i = 0; i < s->nopts; i++)
        if (strcmp(s->opts[i]->name, name) == 0) return s->opts[i];
    if (!create) return NULL;
    ReplOpt *o = xcalloc(1, sizeof *o);
    o->name = strdup(name);
    o->best_loss = NAN;
    s->opts = xrealloc(s->opts, (size_t)(s->nopts + 1) * sizeof *s->opts);
    s->opts[s->nopts++] = o;
    return o;
}

/* The name whose definition optimizer `name` compiles: a copy's base, else name. */
static const char *def_name(ReplSession *s, const char *name)
{
    ReplOpt *o = find_opt(s, name, 0);
    return o && o->base ? o->base : name;
}

/* stdlib/NAME.ham, when NAME is a plain name and that file exists (into buf). */
static const char *stdlib_file(const char *name, char *buf, size_t len)
{
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_') return NULL;
    snprintf(buf, len, "%s/%s.ham", load_stdlib_dir(), name);
    return *name && strcmp(name, "prelude") != 0 && is_file(buf) ? buf : NULL;
}

/* ---- composing the session's text ---- */

/* The text for `first` (or none) with the session's defs and imports, and an import
 * of `extra` (a stdlib name) when given; malloc'd. */
static char *session_text(ReplSession *s, const ReplEntry *first, const char *extra)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (first) {
        for (int i = 1; i < first->line; i++) fputc('\n', f);
        for (int i = 1; i < first->col; i++) fputc(' ', f);
        fprintf(f, "%s\n", first->text);
    }
    for (int i = 0; i < s->nentries; i++) {
        const ReplEntry *e = s->entries[i];
        if (e != first && e->kind != TOP_OPTIMIZER) fprintf(f, "%s\n", e->text);
    }
    if (extra) fprintf(f, "import \"%s\"\n", extra);
    fclose(f);
    return buf;
}

/* Load (and check, when `check`) a text into a fresh program; the arena is the
 * caller's to free.  Diagnostics go to `out` (NULL: nowhere). */
static Program *load_text(Arena *a, Diag *d, FILE *out, const char *origin, const char *text, int check)
{
    arena_init(a);
    diag_init(d, a, out ? out : stderr);
    d->warnings_off = 1;
    Program *p = load_program(a, d, origin, text, 1);
    if (check && p->main && d->nerrors == 0) sema_program(p);
    return p;
}

/* What to compile for optimizer `name`: its text (malloc'd) and the name it goes by;
 * NULL (with a message unless quiet) when the session knows no such optimizer. */
static char *text_for(ReplSession *s, const char *name, const char **origin, int quiet)
{
    ReplEntry *e = find_entry(s, TOP_OPTIMIZER, name);
    *origin = e ? e->origin : REPL_ORIGIN;
    if (e) return session_text(s, e, NULL);
    char *text = session_text(s, NULL, NULL);
    Arena a;
    Diag d;
    FILE *devnull = fopen("/dev/null", "w");
    Program *p = load_text(&a, &d, devnull, REPL_ORIGIN, text, 0);
    int found = load_find_optimizer(p, name) != NULL;
    arena_free(&a);
    if (devnull) fclose(devnull);
    if (found) return text;
    free(text);
    char path[PATH_MAX];
    if (stdlib_file(name, path, sizeof path)) return session_text(s, NULL, name);
    if (!quiet) fail("no optimizer '%s' (see 'list')", name);
    return NULL;
}

/* A checked program holding optimizer `name`, for show, derive, set and completion.
 * NULL (arena freed) when it does not load and check; diagnostics to `out`. */
static Program *program_for(ReplSession *s, const char *name, Arena *a, Diag *d, FILE *out, Optimizer **o)
{
    const char *origin;
    name = def_name(s, name);
    char *text = text_for(s, name, &origin, out != stderr);
    if (!text) return NULL;
    Program *p = load_text(a, d, out, origin, text, 1);
    free(text);
    *o = load_find_optimizer(p, name);
    if (d->nerrors || !*o) {
        arena_free(a);
        return NULL;
    }
    return p;
}

/* ---- compiling an optimizer, and its params ---- */

static uint64_t param_layout(const HamKernelInfo *info)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)info->nparam;
    for (int i = 0; i < info->nparam_arrays; i++) {
        for (const char *c = info->params[i].name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001B3ull;
        h = (h ^ (uint64_t)info->params[i].size) * 0x100000001B3ull;
    }
    return h;
}

/* The optimizer `name`, compiled against the session as it is now (with the adjoint
 * when asked); NULL with the diagnostics printed. */
static ReplOpt *compile(ReplSession *s, const char *name, int adjoint)
{
    char err[1024];
    if (!s->jit && !(s->jit = jit_create(err, sizeof err))) {
        fail("%s", err);
        return NULL;
    }
    ReplOpt *o = find_opt(s, name, 1);
    if (o->compiled && o->gen == s->gen && (o->adjoint || !adjoint)) return o;
    if (o->compiled) compiled_free(&o->c);
    o->compiled = 0;
    const char *origin, *def = o->base ? o->base : name;
    char *text = text_for(s, def, &origin, 0);
    if (!text) return NULL;
    CompileRequest req = {origin, text, def, (const char **)o->set_names, o->set_values, o->nset, adjoint, 0, 0};
    int rc = compile_optimizer(s->jit, &req, stderr, &o->c, err, sizeof err);
    free(text);
    if (rc != 0) {
        compiled_free(&o->c);
        fail("%s", err);
        return NULL;
    }
    o->compiled = 1;
    o->gen = s->gen;
    o->adjoint = adjoint;
    const HamKernelInfo *info = &o->c.kernel.info;
    uint64_t layout = param_layout(info);
    if (!o->params || o->layout != layout) {
        if (o->params && s->interactive) printf("note: the params of '%s' changed shape; starting afresh\n", name);
        free(o->params);
        o->params = xcalloc((size_t)info->nparam + 1, sizeof *o->params);
        o->nparam = info->nparam;
        o->layout = layout;
        o->best_loss = NAN;
        cmd_setup_params(info, 1, o->params);
    }
    return o;
}

/* ---- definitions ---- */

/* An import's path made absolute when it names a file beside `origin` (or the working
 * directory for typed entries), so that it means the same from any entry; a stdlib
 * name stays as written. */
static const char *resolve_import(Arena *a, const char *origin, const char *path)
{
    size_t n = strlen(path);
    const char *ext = n > 4 && strcmp(path + n - 4, ".ham") == 0 ? "" : ".ham";
    const char *slash = strrchr(origin, '/');
    char *cand = path[0] == '/' || !slash || strcmp(origin, REPL_ORIGIN) == 0
                     ? arena_printf(a, "%s%s", path, ext)
                     : arena_printf(a, "%.*s/%s%s", (int)(slash - origin), origin, path, ext);
    char real[PATH_MAX];
    if (is_file(cand) && realpath(cand, real)) return arena_strdup(a, real);
    return arena_strdup(a, path);
}

static SrcLoc item_loc(const TopItem *t)
{
    switch (t->kind) {
    case TOP_IMPORT: return ((Import *)t->item)->loc;
    case TOP_DEF: return ((Def *)t->item)->loc;
    case TOP_OPTIMIZER: return ((Optimizer *)t->item)->loc;
    }
    UNREACHABLE("top item kind");
}

/* Item k of module m as a new entry: its text runs to the next item. */
static ReplEntry *make_entry(const Diag *d, const Module *m, int k, const char *origin)
{
    const Source *src = d->files[m->file];
    const TopItem *t = &m->items[k];
    SrcLoc loc = item_loc(t);
    int end = k + 1 < m->nitems ? item_loc(&m->items[k + 1]).off : src->len;
    while (end > loc.off && (isspace((unsigned char)src->text[end - 1]) || src->text[end - 1] == ';')) end--;
    ReplEntry *e = xcalloc(1, sizeof *e);
    arena_init(&e->arena);
    e->kind = t->kind;
    e->origin = arena_strdup(&e->arena, origin);
    diag_line_col(d, loc, &e->line, &e->col);
    if (t->kind == TOP_IMPORT) {
        e->name = resolve_import(&e->arena, origin, ((Import *)t->item)->path);
        e->text = arena_printf(&e->arena, "import \"%s\"", e->name);
    } else {
        e->name = arena_strdup(&e->arena, t->kind == TOP_DEF ? ((Def *)t->item)->name : ((Optimizer *)t->item)->name);
        e->text = arena_strndup(&e->arena, src->text + loc.off, (size_t)(end - loc.off));
    }
    return e;
}

static const char *kind_name(TopKind k)
{
    return k == TOP_OPTIMIZER ? "optimizer" : k == TOP_DEF ? "def" : "import";
}

/* Put the new entries in the session, each replacing an entry of the same kind and
 * name, and check each against the others; all go in, or none (the session is then as
 * before).  Returns 0 or -1. */
static int install(ReplSession *s, ReplEntry **fresh, int n, int verbose)
{
    int nold = s->nentries;
    ReplEntry **old = xmalloc((size_t)(nold + 1) * sizeof *old);
    if (nold) memcpy(old, s->entries, (size_t)nold * sizeof *old);
    s->entries = xrealloc(s->entries, (size_t)(nold + n + 1) * sizeof *s->entries);
    int *replaced = xcalloc((size_t)n + 1, sizeof *replaced);
    for (int k = 0; k < n; k++) {
        int i = 0;
        while (i < s->nentries && !(s->entries[i]->kind == fresh[k]->kind && !strcmp(s->entries[i]->name, fresh[k]->name))) i++;
        replaced[k] = i < nold;
        if (i == s->nentries) s->nentries++;
        s->entries[i] = fresh[k];
    }
    int errors = 0;
    for (int k = 0; k < n && !errors; k++) {
        char *text = session_text(s, fresh[k], NULL);
        Arena a;
        Diag d;
        load_text(&a, &d, stderr, fresh[k]->origin, text, 1);
        errors = d.nerrors;
        arena_free(&a);
        free(text);
    }
    if (errors) {
        if (nold) memcpy(s->entries, old, (size_t)nold * sizeof *old);
        s->nentries = nold;
        for (int k = 0; k < n; k++) entry_free(fresh[k]);
    } else {
        for (int i = 0; i < nold; i++) {
            int kept = 0;
            for (int j = 0; j < s->nentries && !kept; j++) kept = s->entries[j] == old[i];
            if (!kept) entry_free(old[i]);
        }
        s->gen++;
        for (int k = 0; k < n; k++) {   // a definition of a copy's name replaces the copy
            ReplOpt *o = fresh[k]->kind == TOP_OPTIMIZER ? find_opt(s, fresh[k]->name, 0) : NULL;
            if (o && o->base) free(o->base), o->base = NULL;
        }
        for (int k = 0; k < n && verbose; k++)
            printf("%s %s %s\n", replaced[k] ? "redefined" : "defined", kind_name(fresh[k]->kind), fresh[k]->name);
    }
    free(replaced);
    free(old);
    return errors ? -1 : 0;
}

/* Parse text (from origin) into entries and install them. */
static ReplStatus define(ReplSession *s, const char *origin, const char *text, int verbose)
{
    Arena a;
    Diag d;
    arena_init(&a);
    diag_init(&d, &a, stderr);
    int file = diag_add_source(&d, origin, text, (int)strlen(text));
    int incomplete = 0;
    Module *m = parse_module(&a, &d, file, &incomplete);
    int rc = -1;
    if (d.nerrors == 0 && m->nitems == 0) fail("%s: nothing to define", origin);
    else if (d.nerrors == 0) {
        ReplEntry **fresh = xmalloc((size_t)m->nitems * sizeof *fresh);
        for (int k = 0; k < m->nitems; k++) fresh[k] = make_entry(&d, m, k, origin);
        rc = install(s, fresh, m->nitems, verbose);
        free(fresh);
    }
    arena_free(&a);
    return rc == 0 ? REPL_OK : REPL_ERROR;
}

static int is_definition(const char *entry);

int repl_incomplete(const char *entry)
{
    if (!is_definition(entry)) return 0;
    Arena a;
    Diag d;
    arena_init(&a);
    FILE *devnull = fopen("/dev/null", "w");
    diag_init(&d, &a, devnull ? devnull : stderr);
    int file = diag_add_source(&d, REPL_ORIGIN, entry, (int)strlen(entry));
    int incomplete = 0;
    parse_module(&a, &d, file, &incomplete);
    arena_free(&a);
    if (devnull) fclose(devnull);
    return incomplete;
}

/* ---- options: key=value words ---- */

typedef struct ReplOpts {
    int n;
    const char *key[MAX_ARGS];
    const char *val[MAX_ARGS];
} ReplOpts;

/* Split argv[first..] into key=value options (allowed: a space-separated list) and
 * the plain words left in argv (their count returned), or -1 on an unknown key. */
static int split_opts(const char *cmd, const char *allowed, int argc, char **argv, ReplOpts *o, char **words)
{
    int nwords = 0;
    o->n = 0;
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            words[nwords++] = argv[i];
            continue;
        }
        *eq = 0;
        char pat[80];
        snprintf(pat, sizeof pat, " %s ", argv[i]);
        char list[512];
        snprintf(list, sizeof list, " %s ", allowed);
        if (!strstr(list, pat)) {
            fail("%s: unknown option '%s' (options: %s)", cmd, argv[i], *allowed ? allowed : "none");
            return -1;
        }
        o->key[o->n] = argv[i];
        o->val[o->n++] = eq + 1;
    }
    return nwords;
}

static const char *opt_str(const ReplOpts *o, const char *key, const char *def)
{
    for (int i = o->n - 1; i >= 0; i--)
        if (!strcmp(o->key[i], key)) return o->val[i];
    return def;
}

/* opt_int/opt_num: 0, or -1 with a message for a bad value. */
static int opt_int(const ReplOpts *o, const char *key, int lo, int *out)
{
    const char *v = opt_str(o, key, NULL);
    if (!v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v || x < lo || x > 1000000000) {
        fail("%s=%s: needs an integer >= %d", key, v, lo);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int opt_num(const ReplOpts *o, const char *key, double lo, double *out)
{
    const char *v = opt_str(o, key, NULL);
    if (!v) return 0;
    char *end;
    double x = strtod(v, &end);
    if (*end || end == v || !isfinite(x) || x < lo) {
        fail("%s=%s: needs a number >= %g", key, v, lo);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---- check mode ---- */

/* check_opt: optimizer `name` loads and checks (diagnostics printed); 0 or -1. */
static int check_opt(ReplSession *s, const char *name)
{
    Arena a;
    Diag d;
    Optimizer *o;
    if (!program_for(s, name, &a, &d, stderr, &o)) return -1;
    arena_free(&a);
    return 0;
}

static int was_written(const ReplSession *s, const char *path)
{
    for (int i = 0; i < s->nwritten; i++)
        if (!strcmp(s->written[i], path)) return 1;
    return 0;
}

/* check_input: `path`, which cmd reads, exists or an earlier command writes it. */
static int check_input(ReplSession *s, const char *cmd, const char *path)
{
    if (is_file(path) || was_written(s, path)) return 0;
    fail("%s: no file '%s' (nor does an earlier command, or script of this check, write it)", cmd, path);
    return -1;
}

/* check_output: the directory that `path`, which cmd writes, goes in exists; path is
 * noted as written, for the commands after. */
static int check_output(ReplSession *s, const char *cmd, const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fail("%s: no directory '%s' to write '%s' in", cmd, dir, path);
        return -1;
    }
    if (!was_written(s, path)) {
        s->written = xrealloc(s->written, (size_t)(s->nwritten + 1) * sizeof *s->written);
        s->written[s->nwritten++] = strdup(path);
    }
    return 0;
}

/* ---- the commands ---- */

typedef ReplStatus ReplCmdFn(ReplSession *s, int argc, char **argv, const char *rest);

typedef struct ReplCmd {
    const char *name;
    ReplCmdFn *run;
    int min_args, max_args;   // plain words after the command (options aside)
    const char *options;      // its key= options, space-separated
    ReplArg arg1, args;       // what the first word names, and the later ones
    const char *usage, *help;
    int touches;              // runs a long job or reads/writes files: refused when restricted
} ReplCmd;

static const ReplCmd *find_command(const char *name);

static ReplStatus rc_load(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)rest;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return fail("load: cannot open '%s': %s", argv[1], strerror(errno));
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, got, m);
    fclose(f);
    fclose(m);
    ReplStatus st = define(s, argv[1], buf, !s->checking);
    free(buf);
    return st;
}

static ReplStatus rc_list(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)argv;
    (void)rest;
    if (s->checking) return REPL_OK;
    for (int i = 0; i < s->nentries; i++) {
        const ReplEntry *e = s->entries[i];
        printf("%-9s %-20s %s:%d", kind_name(e->kind), e->name, e->origin, e->line);
        ReplOpt *o = e->kind == TOP_OPTIMIZER ? find_opt(s, e->name, 0) : NULL;
        for (int k = 0; o && k < o->nset; k++) printf("%s%s=%g", k ? " " : "  set ", o->set_names[k], o->set_values[k]);
        if (o && isfinite(o->best_loss)) printf("  trained (best %.5g)", o->best_loss);
        printf("\n");
    }
    // Optimizers of the stdlib or of imports: shown when the session changed them.
    for (int i = 0; i < s->nopts; i++) {
        const ReplOpt *o = s->opts[i];
        if (find_entry(s, TOP_OPTIMIZER, o->name) || (!o->base && o->nset == 0 && !isfinite(o->best_loss))) continue;
        char path[PATH_MAX];
        if (o->base) printf("%-9s %-20s copy of %s", "optimizer", o->name, o->base);
        else printf("%-9s %-20s %s", "optimizer", o->name, stdlib_file(o->name, path, sizeof path) ? "stdlib" : "imported");
        for (int k = 0; k < o->nset; k++) printf("%s%s=%g", k ? " " : "  set ", o->set_names[k], o->set_values[k]);
        if (isfinite(o->best_loss)) printf("  trained (best %.5g)", o->best_loss);
        printf("\n");
    }
    if (s->nentries == 0) printf("(no definitions yet: type an optimizer, or 'load FILE')\n");
    printf("stdlib:");
    DIR *dir = opendir(load_stdlib_dir());
    struct dirent *de;
    char *names[256];
    int n = 0;
    while (dir && (de = readdir(dir)) && n < 256) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".ham") && strcmp(de->d_name, "prelude.ham"))
            names[n++] = strndup(de->d_name, l - 4);
    }
    if (dir) closedir(dir);
    for (int i = 1; i < n; i++)   // a few names: insertion sort
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < n; i++) printf(" %s", names[i]), free(names[i]);
    printf("\ntask: %s\n", s->task_text);
    return REPL_OK;
}

static ReplStatus rc_show(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)rest;
    if (s->checking) return check_opt(s, argv[1]) ? REPL_ERROR : REPL_OK;
    Arena a;
    Diag d;
    Optimizer *o;
    if (!program_for(s, argv[1], &a, &d, stderr, &o)) return REPL_ERROR;
    fmt_optimizer(stdout, o);
    ReplOpt *ro = find_opt(s, argv[1], 0);
    for (int k = 0; ro && k < ro->nset; k++) printf("# set %s.%s = %g\n", argv[1], ro->set_names[k], ro->set_values[k]);
    arena_free(&a);
    return REPL_OK;
}

static ReplStatus rc_derive(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)rest;
    if (s->checking) return check_opt(s, argv[1]) ? REPL_ERROR : REPL_OK;
    Arena a;
    Diag d;
    Optimizer *o;
    Program *p = program_for(s, argv[1], &a, &d, stderr, &o);
    if (!p) return REPL_ERROR;
    StepOptions plain, simple;
    step_default_options(&simple);
    plain = simple;
    plain.rules = DAG_RULES_NONE;
    StepProgram *raw = step_build(p, o->info, &a, &d, &plain);
    StepProgram *st = raw ? step_build(p, o->info, &a, &d, &simple) : NULL;
    if (st) {
        int unsimplified = 0;
        if (raw->adj_state) {
            int nroots = 2 * raw->nstate + 1 + raw->nparam + 2;
            const DagNode **all = arena_alloc(&a, (size_t)(nroots + 1) * sizeof *all);
            memcpy(all, raw->next, (size_t)raw->nstate * sizeof *all);
            all[raw->nstate] = raw->update;
            memcpy(all + raw->nstate + 1, raw->adj_state, (size_t)(raw->nstate + raw->nparam + 2) * sizeof *all);
            unsimplified = dag_count(nroots, all);
        }
        derive_print(stdout, st, DUMP_ALL, unsimplified);
    }
    step_free(raw);
    step_free(st);
    arena_free(&a);
    return st ? REPL_OK : fail("derive: cannot derive '%s'", argv[1]);
}

/* set NAME.HYPER = VALUE (spaces optional); `set` alone lists the overrides. */
static ReplStatus rc_set(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)argv;
    char buf[256], *w = buf;
    for (const char *c = rest; *c && w < buf + sizeof buf - 1; c++)
        if (!isspace((unsigned char)*c)) *w++ = *c;
    *w = 0;
    if (!*buf) {
        if (s->checking) return REPL_OK;
        int any = 0;
        for (int i = 0; i < s->nopts; i++)
            for (int k = 0; k < s->opts[i]->nset; k++, any = 1)
                printf("%s.%s = %g\n", s->opts[i]->name, s->opts[i]->set_names[k], s->opts[i]->set_values[k]);
        if (!any) printf("(no hypers set)\n");
        return REPL_OK;
    }
    char *dot = strchr(buf, '.'), *eq = strchr(buf, '=');
    if (!dot || !eq || eq < dot || dot == buf || eq == dot + 1) return fail("set: write set NAME.HYPER = VALUE");
    *dot = *eq = 0;
    char *end;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !isfinite(v)) return fail("set: '%s' is not a finite number", eq + 1);
    Arena a;
    Diag d;
    Optimizer *o;
    if (!program_for(s, buf, &a, &d, stderr, &o)) return REPL_ERROR;
    Sym *sym = sema_lookup(o->info, arena_intern(&a, dot + 1, strlen(dot + 1)));
    int is_hyper = sym && sym->kind == SK_HYPER;
    arena_free(&a);
    if (!is_hyper) return fail("set: optimizer '%s' has no hyper '%s'", buf, dot + 1);
    ReplOpt *ro = find_opt(s, buf, 1);
    int k = 0;
    while (k < ro->nset && strcmp(ro->set_names[k], dot + 1)) k++;
    int added = k == ro->nset;
    if (added) {
        ro->set_names = xrealloc(ro->set_names, (size_t)(k + 1) * sizeof *ro->set_names);
        ro->set_values = xrealloc(ro->set_values, (size_t)(k + 1) * sizeof *ro->set_values);
        ro->set_names[ro->nset++] = strdup(dot + 1);
    }
    double old = ro->set_values[k];
    ro->set_values[k] = v;
    ro->gen = -1;   // recompile with the override: sema's checks see the value
    if (s->checking) return REPL_OK;   // (so those checks wait for the run)
    if (!compile(s, buf, 0)) {   // say, R = 1 - mu no longer PSD: keep what was
        ro->set_values[k] = old;
        if (added) free(ro->set_names[--ro->nset]);
        ro->gen = -1;
        return REPL_ERROR;
    }
    printf("%s.%s = %g\n", buf, dot + 1, v);
    return REPL_OK;
}

static ReplStatus rc_task(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argv;
    if (argc < 2) {
        printf("task: %s\n", s->task_text);
        return REPL_OK;
    }
    TaskConfig t;
    char err[512];
    if (cmd_parse_task(rest, &t, err, sizeof err) != 0) return fail("task: %s", err);
    Task *probe = task_create(&t, err, sizeof err);   // fail now (say, MNIST's files), not at the first run
    if (!probe) return fail("task: %s", err);
    task_destroy(probe);
    s->task = t;
    while (isspace((unsigned char)*rest)) rest++;
    snprintf(s->task_text, sizeof s->task_text, "%s", rest);
    size_t n = strlen(s->task_text);
    while (n && isspace((unsigned char)s->task_text[n - 1])) s->task_text[--n] = 0;
    if (!s->checking) printf("task: %s\n", s->task_text);
    return REPL_OK;
}

static HamPool *pool(ReplSession *s, int threads)
{
    if (s->pool && threads && ham_pool_threads(s->pool) != threads) {
        ham_pool_destroy(s->pool);
        s->pool = NULL;
    }
    if (!s->pool) s->pool = ham_pool_create(threads);
    return s->pool;
}

/* Keep r's mean curve with its per-step 95% interval, for plot. */
static void keep_curve(ReplSession *s, const char *name, const EvalResult *r)
{
    s->curves = xrealloc(s->curves, (size_t)(s->ncurves + 1) * sizeof *s->curves);
    ReplCurve *c = &s->curves[s->ncurves++];
    c->name = strdup(name);
    c->steps = r->steps;
    c->runs = r->runs;
    size_t n = (size_t)r->steps + 1;
    c->mean = xmalloc(n * sizeof(double));
    c->lo = xmalloc(n * sizeof(double));
    c->hi = xmalloc(n * sizeof(double));
    double *col = xmalloc(((size_t)r->runs + 1) * sizeof *col);
    for (size_t t = 0; t < n; t++) {
        for (int i = 0; i < r->runs; i++) col[i] = r->curve[(size_t)i * n + t];
        Summary sm;
        stats_summarize(col, r->runs, &sm);
        c->mean[t] = sm.mean, c->lo[t] = sm.ci_lo, c->hi[t] = sm.ci_hi;
    }
    free(col);
    c->final = r->final;
    c->over = r->mean_over_steps;
    double tl = 0, ta = 0;
    int tested = 0;
    for (int i = 0; i < r->runs; i++)
        if (isfinite(r->test_acc[i])) tl += r->test_loss[i], ta += r->test_acc[i], tested++;
    c->test_loss = tested ? tl / tested : NAN;
    c->test_acc = tested ? ta / tested : NAN;
}

/* The table of compare and `table`: a header, then one row per result. */
static void print_header(void)
{
    printf("%-20s %12s %27s %12s %16s\n", "optimizer", "final mean", "95% interval", "median", "mean over steps");
}

static void print_row(const ReplCurve *c)
{
    printf("%-20s %12.5g   [%11.5g, %11.5g] %12.5g %16.5g", c->name, c->final.mean, c->final.ci_lo, c->final.ci_hi,
           c->final.median, c->over.mean);
    if (c->final.nonfinite) printf("  (%d diverged)", c->final.nonfinite);
    if (isfinite(c->test_acc)) printf("  test: loss %.5g, accuracy %.4f", c->test_loss, c->test_acc);
    printf("\n");
}

static void print_footer(const ReplSession *s)
{
    if (s->ncurves) printf("(%d runs of %d steps each on %s)\n", s->curves[0].runs, s->curves[0].steps, s->curves_task);
}

/* The run and compare options into ec and threads; 0, or -1 with the message printed. */
static int eval_config(ReplSession *s, const ReplOpts *opts, EvalConfig *ec, int *threads)
{
    eval_default_config(ec);
    ec->task = s->task;
    task_role_split(&ec->task, SPLIT_META_EVAL);
    ec->runs = 100;
    ec->steps = 100;
    int test = 0;
    double seed = 1;
    *threads = 0;
    if (opt_int(opts, "runs", 1, &ec->runs) || opt_int(opts, "steps", 1, &ec->steps) ||
        opt_num(opts, "seed", 0, &seed) || opt_int(opts, "threads", 0, threads) || opt_int(opts, "test", 0, &test))
        return -1;
    ec->seed = (uint64_t)seed;
    ec->test = test;
    ec->stop = &ham_interrupted;
    ec->quiet = !s->interactive;
    return 0;
}

/* A new set of results (run, compare) measured on the session's task with seed. */
static void results_start(ReplSession *s, uint64_t seed)
{
    curves_free(s);
    snprintf(s->curves_task, sizeof s->curves_task, "%s", s->task_text);
    s->curves_seed = seed;
}

/* Evaluate `name` with the run/compare options; 0 with *r filled, or -1. */
static int evaluate(ReplSession *s, const char *name, const ReplOpts *opts, EvalResult *r)
{
    EvalConfig ec;
    int threads;
    if (eval_config(s, opts, &ec, &threads)) return -1;
    ReplOpt *o = compile(s, name, 0);
    if (!o) return -1;
    char err[1024];
    ham_interrupted = 0;
    if (eval_optimizer(&o->c.kernel, o->params, o->c.hypers, &ec, pool(s, threads), r, err, sizeof err) != 0) {
        fail("%s: %s", name, err);
        return -1;
    }
    if (ham_interrupted && r->runs == 0) {
        eval_result_free(r);
        fail("%s: interrupted before any run finished", name);
        return -1;
    }
    if (ham_interrupted) fprintf(stderr, "interrupted after %d runs\n", r->runs);
    cmd_print_eval_warnings("", r, s->task_text);
    return 0;
}

/* check mode: run's and compare's options, and the optimizers they name. */
static ReplStatus check_eval(ReplSession *s, int n, char **names, const ReplOpts *o)
{
    EvalConfig ec;
    int threads, bad = eval_config(s, o, &ec, &threads);
    for (int i = 0; i < n; i++) bad |= check_opt(s, names[i]);
    s->check_curves |= !bad;
    return bad ? REPL_ERROR : REPL_OK;
}

static ReplStatus rc_run(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)rest;
    EvalResult r;
    ReplOpts o;
    char *words[MAX_ARGS];
    if (split_opts("run", find_command("run")->options, argc, argv, &o, words) < 0) return REPL_ERROR;
    if (s->checking) return check_eval(s, 1, words, &o);
    EvalConfig ec;
    int threads;
    if (eval_config(s, &o, &ec, &threads) || evaluate(s, words[0], &o, &r) != 0) return REPL_ERROR;
    cmd_print_table(&r);
    results_start(s, ec.seed);
    keep_curve(s, words[0], &r);
    eval_result_free(&r);
    return REPL_OK;
}

static ReplStatus rc_compare(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)rest;
    ReplOpts o;
    char *words[MAX_ARGS];
    int n = split_opts("compare", find_command("compare")->options, argc, argv, &o, words);
    if (n < 0) return REPL_ERROR;
    if (s->checking) return check_eval(s, n, words, &o);
    EvalConfig ec;
    int threads;
    if (eval_config(s, &o, &ec, &threads)) return REPL_ERROR;
    results_start(s, ec.seed);
    print_header();
    ReplStatus st = REPL_OK;
    for (int i = 0; i < n && !ham_interrupted; i++) {
        EvalResult r;
        if (evaluate(s, words[i], &o, &r) != 0) {
            st = REPL_ERROR;
            continue;
        }
        keep_curve(s, words[i], &r);
        print_row(&s->curves[s->ncurves - 1]);
        eval_result_free(&r);
    }
    print_footer(s);
    return st;
}

/* check mode: train's meta-optimizer, the optimizer (it loads, checks, and has params
 * to learn) and where out= goes. */
static ReplStatus check_train(ReplSession *s, const char *name, const TrainConfig *tc)
{
    int bad = 0;
    if (!meta_opt_known(tc->meta_opt)) bad = fail("train: unknown meta_opt '%s' (adam or sgd)", tc->meta_opt);
    Arena a;
    Diag d;
    Optimizer *o;
    if (!program_for(s, name, &a, &d, stderr, &o)) return REPL_ERROR;
    if (o->info->count[SK_PARAM] == 0) bad = fail("train: optimizer '%s' has no params to learn", name);
    arena_free(&a);
    if (tc->out && check_output(s, "train", tc->out)) bad = REPL_ERROR;
    if (tc->log && check_output(s, "train", tc->log)) bad = REPL_ERROR;
    return bad ? REPL_ERROR : REPL_OK;
}

static ReplStatus rc_train(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)rest;
    ReplOpts o;
    char *words[MAX_ARGS];
    if (split_opts("train", find_command("train")->options, argc, argv, &o, words) < 0) return REPL_ERROR;
    TrainConfig tc;
    train_default_config(&tc);
    tc.task = s->task;
    task_role_split(&tc.task, SPLIT_META_TRAIN);
    tc.eval_task = s->task;
    tc.eval_task.split = SPLIT_META_EVAL;
    tc.eval_task.rescale = 0;   // and on them as they are: rescale= augments the training tasks
    int threads = 0;
    double seed = 1;
    if (opt_int(&o, "epochs", 0, &tc.epochs) || opt_int(&o, "unroll", 1, &tc.unroll) ||
        opt_int(&o, "steps", 1, &tc.steps) || opt_int(&o, "runs_per_epoch", 1, &tc.runs_per_epoch) ||
        opt_int(&o, "meta_batch", 1, &tc.meta_batch) || opt_num(&o, "meta_lr", 0, &tc.meta_lr) ||
        opt_num(&o, "clip", 0, &tc.clip) || opt_int(&o, "eval_every", 1, &tc.eval_every) ||
        opt_int(&o, "eval_runs", 1, &tc.eval_runs) || opt_num(&o, "seed", 0, &seed) ||
        opt_int(&o, "threads", 0, &threads))
        return REPL_ERROR;
    tc.meta_opt = opt_str(&o, "meta_opt", "adam");
    const char *meta_loss = opt_str(&o, "meta_loss", "sum");
    tc.meta_loss = meta_loss_parse(meta_loss);
    if (tc.meta_loss < 0 || tc.meta_loss == META_LOSS_IMITATE)   // imitation: hamc train --imitate
        return fail("train: unknown meta_loss '%s' (sum, log, late or loglate)", meta_loss);
    const char *meta_grad = opt_str(&o, "meta_grad", "first");
    tc.meta_grad = meta_grad_parse(meta_grad);
    if (tc.meta_grad < 0) return fail("train: unknown meta_grad '%s' (first or exact)", meta_grad);
    tc.out = opt_str(&o, "out", NULL);
    tc.log = opt_str(&o, "log", NULL);   // a CSV row per epoch, as hamc train --log
    tc.seed = (uint64_t)seed;
    tc.task_text = s->task_text;
    tc.stop = &ham_interrupted;
    tc.quiet = !s->interactive;
    if (s->checking) return check_train(s, words[0], &tc);
    ReplOpt *ro = compile(s, words[0], 1);
    if (!ro) return REPL_ERROR;
    if (ro->nparam == 0) return fail("train: optimizer '%s' has no params to learn", words[0]);
    tc.spec_text = ro->c.spec_text;
    TrainResult r;
    char err[1024];
    ham_interrupted = 0;
    if (meta_train(&ro->c.kernel, &tc, ro->params, ro->c.hypers, pool(s, threads), &r, err, sizeof err) != 0)
        return fail("train: %s", err);
    if (isfinite(r.best_loss)) ro->best_loss = r.best_loss;
    printf("%s: %d epochs, %ld meta-steps in %.1f s; best evaluation loss %.5g%s%s%s\n", words[0], r.epochs_done,
           r.meta_steps, r.seconds, r.best_loss, r.stopped ? " (interrupted: best params kept)" : "",
           tc.out ? "; saved " : "", tc.out ? tc.out : "");
    train_result_notes(&r, stdout);
    return REPL_OK;
}

/* ---- plot ---- */

/* A text plot of the curves: log10 of the mean loss against the step. */
static void text_plot(const ReplSession *s)
{
    enum { W = 64, H = 14 };   // fits an 80-column terminal with the axis labels
    static const char marks[] = "*+ox#@%&=~";
    double lo = INFINITY, hi = -INFINITY;
    for (int c = 0; c < s->ncurves; c++)
        for (int t = 0; t <= s->curves[c].steps; t++) {
            double v = s->curves[c].mean[t];
            if (isfinite(v) && v > 0) lo = fmin(lo, log10(v)), hi = fmax(hi, log10(v));
        }
    if (!(lo <= hi)) {
        printf("(nothing positive to plot on a log scale)\n");
        return;
    }
    if (hi - lo < 1e-9) hi = lo + 1;
    char grid[H][W + 1];
    memset(grid, ' ', sizeof grid);
    for (int c = 0; c < s->ncurves; c++) {
        const ReplCurve *cv = &s->curves[c];
        for (int x = 0; x < W; x++) {
            int t = (int)lround((double)x * cv->steps / (W - 1));
            double v = cv->mean[t];
            if (!isfinite(v) || v <= 0) continue;
            int y = (int)lround((hi - log10(v)) / (hi - lo) * (H - 1));
            grid[y][x] = marks[c % (sizeof marks - 1)];
        }
    }
    for (int y = 0; y < H; y++) {
        grid[y][W] = 0;
        if (y == 0 || y == H - 1) printf("%10.3g |%s\n", pow(10, y == 0 ? hi : lo), grid[y]);
        else printf("%10s |%s\n", "", grid[y]);
    }
    printf("%10s +", "");
    for (int x = 0; x < W; x++) putchar('-');
    printf("\n%10s 0%*d  (step; mean loss, log scale)\n", "", W - 1, s->curves[0].steps);
    for (int c = 0; c < s->ncurves; c++) printf("%10s %c %s\n", "", marks[c % (sizeof marks - 1)], s->curves[c].name);
}

/* The curves to `path` (.png or .svg) with gnuplot: mean lines and shaded bands. */
static int gnuplot_plot(const ReplSession *s, const char *path)
{
    size_t n = strlen(path);
    int svg = n > 4 && !strcmp(path + n - 4, ".svg");
    if (!svg && !(n > 4 && !strcmp(path + n - 4, ".png"))) return fail("plot: the file must end in .png or .svg"), -1;
    if (strchr(path, '\'') || strchr(path, '\n')) return fail("plot: quotes are not allowed in the file name"), -1;
    char data[] = "/tmp/ham-plot-XXXXXX";
    int fd = mkstemp(data);
    if (fd < 0) return fail("plot: cannot make a temporary file: %s", strerror(errno)), -1;
    FILE *f = fdopen(fd, "w");
    for (int c = 0; c < s->ncurves; c++) {
        const ReplCurve *cv = &s->curves[c];
        for (int t = 0; t <= cv->steps; t++) {
            double m = cv->mean[t], lo = cv->lo[t] > 0 ? cv->lo[t] : m * 1e-3;   // the log axis needs lo > 0
            fprintf(f, "%d %.10g %.10g %.10g\n", t, m, lo, cv->hi[t]);
        }
        fprintf(f, "\n\n");
    }
    fclose(f);
    FILE *g = popen("gnuplot", "w");
    if (!g) {
        remove(data);
        return fail("plot: cannot start gnuplot"), -1;
    }
    if (svg) fprintf(g, "set terminal svg size 800,500 dynamic\n");
    else fprintf(g, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {set terminal pngcairo size 800,500} "
                    "else {set terminal png size 800,500}\n");
    fprintf(g, "set output '%s'\nset logscale y\nset xlabel 'step'\nset ylabel 'mean loss (95%% band)'\n"
               "set key top right\nset grid\nset style fill transparent solid 0.2 noborder\nplot ", path);
    for (int c = 0; c < s->ncurves; c++)
        fprintf(g, "%s'%s' index %d using 1:3:4 with filledcurves lc %d notitle, '%s' index %d using 1:2 with lines lw 2 lc %d title '%s'",
                c ? ", " : "", data, c, c + 1, data, c, c + 1, s->curves[c].name);
    fprintf(g, "\nset output\n");
    int rc = pclose(g);
    remove(data);
    struct stat st;
    if (rc != 0 || stat(path, &st) != 0 || st.st_size == 0) return fail("plot: gnuplot did not write '%s'", path), -1;
    printf("wrote %s\n", path);
    return 0;
}

/* check mode: plot and table need an earlier run or compare, and a FILE with the
 * extension ext1 (or ext2) in a directory that exists. */
static ReplStatus check_results(ReplSession *s, const char *cmd, const char *path, const char *ext1, const char *ext2)
{
    if (!s->check_curves) return fail("%s: nothing to %s yet (run or compare first)", cmd, cmd);
    if (!path) return REPL_OK;
    size_t n = strlen(path), l1 = strlen(ext1), l2 = ext2 ? strlen(ext2) : 0;
    if (!(n > l1 && !strcmp(path + n - l1, ext1)) && !(ext2 && n > l2 && !strcmp(path + n - l2, ext2)))
        return ext2 ? fail("%s: the file must end in %s or %s", cmd, ext1, ext2) : fail("%s: the file must end in %s", cmd, ext1);
    return check_output(s, cmd, path) ? REPL_ERROR : REPL_OK;
}

static ReplStatus rc_plot(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)rest;
    if (s->checking) return check_results(s, "plot", argc > 1 ? argv[1] : NULL, ".png", ".svg");
    if (s->ncurves == 0) return fail("plot: nothing to plot yet (run or compare first)");
    text_plot(s);
    return argc > 1 && gnuplot_plot(s, argv[1]) != 0 ? REPL_ERROR : REPL_OK;
}

/* A CSV field: quoted, with quotes doubled, when it holds a comma, quote or newline. */
static void csv_field(FILE *f, const char *v)
{
    if (!strpbrk(v, ",\"\n\r")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '"') fputc('"', f);
        fputc(*v, f);
    }
    fputc('"', f);
}

/* The last run's or compare's table to path as CSV, one row per optimizer. */
static int write_table_csv(const ReplSession *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return fail("table: cannot write '%s': %s", path, strerror(errno)), -1;
    fprintf(f, "optimizer,task,seed,runs,steps,final_mean,final_ci_lo,final_ci_hi,final_median,"
               "mean_over_steps,mean_over_steps_ci_lo,mean_over_steps_ci_hi,diverged,test_loss,test_accuracy\n");
    for (int i = 0; i < s->ncurves; i++) {
        const ReplCurve *c = &s->curves[i];
        csv_field(f, c->name);
        fputc(',', f);
        csv_field(f, s->curves_task);
        fprintf(f, ",%llu,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%.9g,%.9g\n", (unsigned long long)s->curves_seed,
                c->runs, c->steps, c->final.mean, c->final.ci_lo, c->final.ci_hi, c->final.median, c->over.mean,
                c->over.ci_lo, c->over.ci_hi, c->final.nonfinite, c->test_loss, c->test_acc);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return fail("table: could not write '%s'", path), -1;
    printf("wrote %s\n", path);
    return 0;
}

/* table [FILE.csv]: the last run's or compare's table again, or as CSV to FILE. */
static ReplStatus rc_table(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)rest;
    if (s->checking) return check_results(s, "table", argc > 1 ? argv[1] : NULL, ".csv", NULL);
    if (s->ncurves == 0) return fail("table: nothing to table yet (run or compare first)");
    if (argc < 2) {
        print_header();
        for (int i = 0; i < s->ncurves; i++) print_row(&s->curves[i]);
        print_footer(s);
        return REPL_OK;
    }
    size_t n = strlen(argv[1]);
    if (!(n > 4 && !strcmp(argv[1] + n - 4, ".csv"))) return fail("table: the file must end in .csv");
    return write_table_csv(s, argv[1]) != 0 ? REPL_ERROR : REPL_OK;
}

/* ---- params and code ---- */

static int is_name(const char *w)
{
    if (!isalpha((unsigned char)*w) && *w != '_') return 0;
    for (; *w; w++)
        if (!isalnum((unsigned char)*w) && *w != '_') return 0;
    return 1;
}

/* copy SRC NEW: NEW compiles SRC's definition (a copy's: its base's), starting from
 * SRC's hyper overrides and params, and has its own from then on. */
static ReplStatus rc_copy(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)rest;
    const char *src = argv[1], *dst = argv[2], *origin;
    if (!is_name(dst)) return fail("copy: '%s' is not a name (a letter or _, then letters, digits, _)", dst);
    char *taken = text_for(s, dst, &origin, 1);
    ReplOpt *to = find_opt(s, dst, 0);
    if (taken || (to && to->base)) {
        free(taken);
        return fail("copy: '%s' already names an optimizer", dst);
    }
    if (check_opt(s, src)) return REPL_ERROR;
    ReplOpt *from = find_opt(s, src, 0);
    to = find_opt(s, dst, 1);
    to->base = strdup(def_name(s, src));
    to->gen = -1;
    for (int k = 0; from && k < from->nset; k++) {
        to->set_names = xrealloc(to->set_names, (size_t)(to->nset + 1) * sizeof *to->set_names);
        to->set_values = xrealloc(to->set_values, (size_t)(to->nset + 1) * sizeof *to->set_values);
        to->set_names[to->nset] = strdup(from->set_names[k]);
        to->set_values[to->nset++] = from->set_values[k];
    }
    if (from && from->params) {   // trained or loaded: the copy starts from them
        to->params = xmalloc(((size_t)from->nparam + 1) * sizeof *to->params);
        memcpy(to->params, from->params, (size_t)from->nparam * sizeof *to->params);
        to->nparam = from->nparam;
        to->layout = from->layout;
        to->best_loss = from->best_loss;
    }
    if (!s->checking) printf("copied %s to %s\n", src, dst);
    return REPL_OK;
}

static ReplStatus rc_save(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)rest;
    if (s->checking) return check_opt(s, argv[1]) | check_output(s, "save", argv[2]) ? REPL_ERROR : REPL_OK;
    ReplOpt *o = compile(s, argv[1], 0);
    if (!o) return REPL_ERROR;
    Checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.opt_name = strdup(o->c.kernel.info.name);   // a copy's base: what `hamc run SPEC` will find
    ck.spec_hash = o->c.kernel.info.spec_hash;
    ck.spec_text = strdup(o->c.spec_text);
    ck.meta_opt = strdup("none");
    ck.task = strdup(s->task_text);
    char err[1024];
    int rc = ckpt_set_params(&ck, (size_t)o->nparam, o->params, isfinite(o->best_loss) ? o->params : NULL,
                             o->best_loss);
    for (int k = 0; k < o->nset && rc == 0; k++) rc = ckpt_add_hyper(&ck, o->set_names[k], o->set_values[k]);
    if (rc == 0) rc = ckpt_write(argv[2], &ck, err, sizeof err);
    else snprintf(err, sizeof err, "out of memory");
    ckpt_free(&ck);
    if (rc != 0) return fail("save: %s", err);
    printf("saved %d params of %s to %s\n", o->nparam, argv[1], argv[2]);
    return REPL_OK;
}

static ReplStatus rc_load_params(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)rest;
    if (s->checking) return check_opt(s, argv[1]) | check_input(s, "load-params", argv[2]) ? REPL_ERROR : REPL_OK;
    ReplOpt *o = compile(s, argv[1], 0);
    if (!o) return REPL_ERROR;
    char err[1024];
    if (cmd_load_params(argv[2], &o->c, o->params, err, sizeof err) != 0) return fail("load-params: %s", err);
    printf("loaded %d params of %s from %s\n", o->nparam, argv[1], argv[2]);
    return REPL_OK;
}

static ReplStatus rc_emit_c(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)rest;
    ReplOpts opts;
    char *words[MAX_ARGS];
    if (split_opts("emit-c", find_command("emit-c")->options, argc, argv, &opts, words) < 0) return REPL_ERROR;
    const char *prec = opt_str(&opts, "precision", "f64");
    if (strcmp(prec, "f32") && strcmp(prec, "f64")) return fail("emit-c: precision is f32 or f64, not '%s'", prec);
    int adjoint = 0;
    if (opt_int(&opts, "adjoint", 0, &adjoint)) return REPL_ERROR;
    if (s->checking) return check_opt(s, words[0]) | check_output(s, "emit-c", words[1]) ? REPL_ERROR : REPL_OK;
    ReplOpt *o = compile(s, words[0], 0);
    if (!o) return REPL_ERROR;
    CEmitOptions eo;
    c_emit_default_options(&eo);
    eo.precision = strcmp(prec, "f32") ? HAM_F64 : HAM_F32;
    eo.with_adjoint = adjoint;
    eo.params = o->params;
    eo.hypers = o->c.hypers;
    eo.spec_path = find_entry(s, TOP_OPTIMIZER, words[0]) ? find_entry(s, TOP_OPTIMIZER, words[0])->origin : "stdlib";
    FILE *f = fopen(words[1], "w");
    if (!f) return fail("emit-c: cannot write '%s': %s", words[1], strerror(errno));
    int rc = c_emit(f, o->c.step, &eo);
    if (fclose(f) != 0) rc = -1;
    if (rc != 0) return fail("emit-c: could not write '%s'", words[1]);
    printf("wrote %s\n", words[1]);
    return REPL_OK;
}

static ReplStatus rc_time(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)argc;
    (void)argv;
    (void)rest;
    s->timing = !s->timing;
    if (!s->checking) printf("timing %s\n", s->timing ? "on" : "off");
    return REPL_OK;
}

static ReplStatus rc_quit(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)s;
    (void)argc;
    (void)argv;
    (void)rest;
    return REPL_QUIT;
}

static ReplStatus rc_help(ReplSession *s, int argc, char **argv, const char *rest);

static const ReplCmd commands[] = {
    {"load", rc_load, 1, 1, "", REPL_ARG_FILE, REPL_ARG_NONE, "load FILE",
     "read a .ham file: its optimizers, defs and imports join the session", 1},
    {"list", rc_list, 0, 0, "", REPL_ARG_NONE, REPL_ARG_NONE, "list",
     "the session's definitions (with hypers set and training), the stdlib, the task", 0},
    {"show", rc_show, 1, 1, "", REPL_ARG_OPT, REPL_ARG_NONE, "show NAME", "print an optimizer in canonical form", 0},
    {"derive", rc_derive, 1, 1, "", REPL_ARG_OPT, REPL_ARG_NONE, "derive NAME",
     "the derived vector field, energy balance, discrete step and adjoint", 0},
    {"set", rc_set, 0, 3, "", REPL_ARG_OPT, REPL_ARG_NONE, "set NAME.HYPER = VALUE",
     "override a hyper of an optimizer for this session (`set` alone lists them)", 0},
    {"task", rc_task, 0, MAX_ARGS, "", REPL_ARG_TASK, REPL_ARG_TASK, "task NAME [key=value ...]",
     "the task of run, compare and train, e.g. `task mnist activation=relu hidden=40` (`task` alone shows it)", 0},
    {"copy", rc_copy, 2, 2, "", REPL_ARG_OPT, REPL_ARG_NONE, "copy NAME NEW",
     "NEW: optimizer NAME under a second name, with hypers set and params of its own (`set NEW.lr = 0.3`)", 0},
    {"run", rc_run, 1, 1, "runs steps seed threads test", REPL_ARG_OPT, REPL_ARG_NONE,
     "run NAME [runs=100] [steps=100] [seed=1] [threads=N] [test=1]",
     "evaluate an optimizer on fresh task instances: the table of `hamc run`", 1},
    {"compare", rc_compare, 1, MAX_ARGS, "runs steps seed threads test", REPL_ARG_OPT, REPL_ARG_OPT,
     "compare A B ... [runs=100] [steps=100] [seed=1]",
     "evaluate several optimizers on the same instances: final mean, 95% interval, median, mean over steps", 1},
    {"train", rc_train, 1, 1,
     "epochs unroll steps runs_per_epoch meta_batch meta_lr meta_opt meta_loss meta_grad clip eval_every eval_runs seed threads out log",
     REPL_ARG_OPT, REPL_ARG_NONE,
     "train NAME [epochs=100] [unroll=20] [steps=100] [meta_lr=0.01] [runs_per_epoch=20] [out=CKPT] [log=CSV] ...",
     "meta-train the params of a learned optimizer on the task; they stay in the session "
     "(Ctrl-C stops and keeps the best so far)", 1},
    {"plot", rc_plot, 0, 1, "", REPL_ARG_FILE, REPL_ARG_NONE, "plot [FILE.png|FILE.svg]",
     "the last run or compare: mean loss against step (log scale), as text, and with gnuplot to FILE", 1},
    {"table", rc_table, 0, 1, "", REPL_ARG_FILE, REPL_ARG_NONE, "table [FILE.csv]",
     "the last run's or compare's table again, or as CSV to FILE (optimizer, task, seed, runs, steps, "
     "final mean, its 95% interval, median, mean over steps and its interval, diverged, test loss and accuracy)", 1},
    {"save", rc_save, 2, 2, "", REPL_ARG_OPT, REPL_ARG_FILE, "save NAME FILE",
     "write an optimizer's params (and spec) to a checkpoint", 1},
    {"load-params", rc_load_params, 2, 2, "", REPL_ARG_OPT, REPL_ARG_FILE, "load-params NAME FILE",
     "read an optimizer's params from a checkpoint (from save, or hamc train)", 1},
    {"emit-c", rc_emit_c, 2, 2, "precision adjoint", REPL_ARG_OPT, REPL_ARG_FILE,
     "emit-c NAME FILE [precision=f64|f32] [adjoint=1]",
     "write an optimizer, with its current params and hypers baked in, as one C file", 1},
    {"time", rc_time, 0, 0, "", REPL_ARG_NONE, REPL_ARG_NONE, "time", "toggle timing of each command", 0},
    {"help", rc_help, 0, 1, "", REPL_ARG_COMMAND, REPL_ARG_NONE, "help [COMMAND]", "list the commands, or explain one", 0},
    {"quit", rc_quit, 0, 0, "", REPL_ARG_NONE, REPL_ARG_NONE, "quit", "leave (so does Ctrl-D)", 0},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static const ReplCmd *find_command(const char *name)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    if (!strcmp(name, "exit")) return find_command("quit");
    return NULL;
}

static ReplStatus rc_help(ReplSession *s, int argc, char **argv, const char *rest)
{
    (void)rest;
    if (argc > 1) {
        const ReplCmd *c = find_command(argv[1]);
        if (c && s->checking) return REPL_OK;
        if (c) {
            printf("usage: %s\n  %s\n", c->usage, c->help);
            if (c->run == rc_task) printf("tasks:\n"), task_help(stdout, "  ");
            return REPL_OK;
        }
        if (!strcmp(argv[1], "optimizer") || !strcmp(argv[1], "def") || !strcmp(argv[1], "import")) {
            if (s->checking) return REPL_OK;
            printf("type a definition as in a .ham file, over several lines if need be:\n"
                   "  optimizer NAME { ... }   def NAME(ARGS) = EXPR   import NAME\n"
                   "a new definition of a name replaces the old one (see docs/language.md)\n");
            return REPL_OK;
        }
        return fail("help: no command '%s'", argv[1]);
    }
    if (s->checking) return REPL_OK;
    printf("commands:\n");
    for (int i = 0; i < NCOMMANDS; i++) printf("  %s\n", commands[i].usage);
    char names[256];
    task_names(names, sizeof names);
    printf("tasks: %s (see 'help task')\n", names);
    printf("definitions: optimizer NAME { ... }, def NAME(ARGS) = EXPR, import NAME (see 'help optimizer')\n"
           "'help COMMAND' explains one; Ctrl-C stops a run or a training; Ctrl-D or 'quit' leaves\n");
    return REPL_OK;
}

/* ---- dispatch ---- */

static int is_definition(const char *entry)
{
    while (isspace((unsigned char)*entry)) entry++;
    static const char *const kw[] = {"optimizer", "def", "import"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(kw[i]);
        if (!strncmp(entry, kw[i], n) && (isspace((unsigned char)entry[n]) || entry[n] == '"' || !entry[n])) return 1;
    }
    return 0;
}

static ReplStatus exec_command(ReplSession *s, char *line)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    char *save = NULL, *copy = strdup(line);
    for (char *w = strtok_r(copy, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (argc == MAX_ARGS) {
            free(copy);
            return fail("too many words (at most %d)", MAX_ARGS);
        }
        argv[argc++] = w;
    }
    argv[argc] = NULL;
    ReplStatus st = REPL_OK;
    const ReplCmd *c = argc ? find_command(argv[0]) : NULL;
    if (!argc) st = REPL_OK;
    else if (!c) st = fail("unknown command '%s' (type 'help')", argv[0]);
    else if (s->restricted && c->touches)
        st = fail("%s: not available in this session (it runs jobs or touches files)", argv[0]);
    else {
        int words = 0;
        for (int i = 1; i < argc; i++) words += !strchr(argv[i], '=') || !*c->options;
        const char *rest = strstr(line, argv[0]) + strlen(argv[0]);
        if (words < c->min_args || words > c->max_args) st = fail("usage: %s", c->usage);
        else st = c->run(s, argc, argv, rest);
    }
    free(copy);
    return st;
}

ReplStatus repl_exec(ReplSession *s, const char *entry)
{
    double t0 = now_seconds();
    ReplStatus st;
    fail_file = s->script;
    fail_line = s->line;
    if (is_definition(entry) && s->script) {
        // From a script: diagnostics point into the script file, at the entry's lines.
        size_t n = strlen(entry);
        char *padded = xmalloc((size_t)s->line + n + 1);
        memset(padded, '\n', (size_t)s->line - 1);
        memcpy(padded + s->line - 1, entry, n + 1);
        st = define(s, s->script, padded, !s->checking);
        free(padded);
    } else if (is_definition(entry)) {
        st = define(s, REPL_ORIGIN, entry, 1);
    } else {
        char *line = strdup(entry);
        char *hash = line;   // a comment runs from # to the end of the line
        while (*hash && *hash != '#') hash++;
        while (hash > line && isspace((unsigned char)hash[-1])) hash--;
        *hash = 0;
        st = exec_command(s, line);
        free(line);
    }
    fflush(stdout);
    if (s->timing && !s->checking) printf("time: %.3f s\n", now_seconds() - t0);
    fail_file = NULL;
    return st;
}

/* ---- completion ---- */

static void add_stdlib(ReplNameFn *add, void *ctx)
{
    DIR *dir = opendir(load_stdlib_dir());
    struct dirent *de;
    while (dir && (de = readdir(dir))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".ham") && strcmp(de->d_name, "prelude.ham")) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(l - 4), de->d_name);
            add(ctx, name);
        }
    }
    if (dir) closedir(dir);
}

/* A task key as completion offers it: "dim=". */
typedef struct KeyAdder { ReplNameFn *add; void *ctx; } KeyAdder;
static void add_task_key(void *ctx, const char *key)
{
    KeyAdder *k = ctx;
    char kv[80];
    snprintf(kv, sizeof kv, "%s=", key);
    k->add(k->ctx, kv);
}

void repl_names(ReplSession *s, ReplNames what, const char *opt, ReplNameFn *add, void *ctx)
{
    switch (what) {
    case REPL_NAMES_COMMANDS:
        for (int i = 0; i < NCOMMANDS; i++) add(ctx, commands[i].name);
        add(ctx, "optimizer"), add(ctx, "def"), add(ctx, "import");
        break;
    case REPL_NAMES_OPTIMIZERS:
        for (int i = 0; i < s->nentries; i++)
            if (s->entries[i]->kind == TOP_OPTIMIZER) add(ctx, s->entries[i]->name);
        for (int i = 0; i < s->nopts; i++)
            if (s->opts[i]->base) add(ctx, s->opts[i]->name);
        add_stdlib(add, ctx);
        break;
    case REPL_NAMES_HYPERS: {
        Arena a;
        Diag d;
        Optimizer *o;
        FILE *devnull = fopen("/dev/null", "w");
        Program *p = devnull ? program_for(s, opt, &a, &d, devnull, &o) : NULL;
        if (p) {
            for (int i = 0; i < o->info->count[SK_HYPER]; i++) add(ctx, o->info->by_kind[SK_HYPER][i]->name);
            arena_free(&a);
        }
        if (devnull) fclose(devnull);
        break;
    }
    case REPL_NAMES_TASKS: {   // the task names, or with opt a task's name, its key= options
        int kind = opt ? task_find(opt) : -1;
        KeyAdder k = {add, ctx};
        if (kind >= 0) task_keys((TaskKind)kind, add_task_key, &k);
        else if (!opt)
            for (int i = 0; i < TASK_NKINDS; i++) add(ctx, task_def((TaskKind)i)->name);
        break;
    }
    case REPL_NAMES_OPTIONS: {
        const ReplCmd *c = find_command(opt);
        char buf[512], *save = NULL;
        snprintf(buf, sizeof buf, "%s", c ? c->options : "");
        for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            char kv[80];
            snprintf(kv, sizeof kv, "%s=", w);
            add(ctx, kv);
        }
        break;
    }
    }
}

ReplArg repl_arg_kind(const char *cmd, int index)
{
    const ReplCmd *c = find_command(cmd);
    if (!c) return REPL_ARG_NONE;
    return index == 1 ? c->arg1 : c->args;
}
