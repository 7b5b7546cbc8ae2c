/* load.c: reads, parses and links the files of a program.
 *
 * Linking here means only collecting names: every def and optimizer of every loaded
 * module goes in one table, and a name defined twice is an error that points at both
 * places.  Type checking is sema's job. */
#include "load.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"
#include "sema_impl.h"

typedef struct Loader {
    Program *prog;
    PtrVec modules, defs, optimizers;
    PtrVec real_paths;     // realpath of each loaded file, parallel to modules
    const char *stdlib;
} Loader;

/* The defs have a hash index (Program.def_table), one for the whole program since
 * names are global.  A linear search made `hamc check` quadratic: a 1 MB spec of
 * 38000 defs and 79000 calls took 15 s. */
static unsigned name_hash(const char *name)
{
    unsigned h = 2166136261u;   // FNV-1a
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = (h ^ *c) * 16777619u;
    return h;
}

/* def_slot: the slot of name in the table, or the empty slot where it would go. */
static int *def_slot(Def *const *defs, int *table, unsigned mask, const char *name)
{
    unsigned i = name_hash(name) & mask;
    while (table[i] && strcmp(defs[table[i] - 1]->name, name) != 0) i = (i + 1) & mask;
    return &table[i];
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *load_stdlib_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("HAM_STDLIB");
    if (env && *env) return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        const char *tries[] = {"%s/../stdlib", "%s/../share/ham/stdlib", "%s/../../stdlib",
                               "%s/../../../stdlib"};
        for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
            char probe[PATH_MAX + 64];
            snprintf(probe, sizeof probe, tries[i], exe);
            char prelude[PATH_MAX + 96];
            snprintf(prelude, sizeof prelude, "%s/prelude.ham", probe);
            if (is_file(prelude) && realpath(probe, dir)) return dir;
        }
    }
    return "stdlib";
}

/* Where `import "name"` written in `from` points: relative to the importing file,
 * then in the stdlib; ".ham" is added when missing. */
static char *resolve_import(Loader *l, const char *from, const char *name)
{
    Arena *a = l->prog->arena;
    size_t n = strlen(name);
    const char *ext = n > 4 && strcmp(name + n - 4, ".ham") == 0 ? "" : ".ham";
    const char *slash = strrchr(from, '/');
    char *cand;
    if (name[0] == '/') {
        cand = arena_printf(a, "%s%s", name, ext);
        return is_file(cand) ? cand : NULL;
    }
    cand = slash ? arena_printf(a, "%.*s/%s%s", (int)(slash - from), from, name, ext)
                 : arena_printf(a, "%s%s", name, ext);
    if (is_file(cand)) return cand;
    cand = arena_printf(a, "%s/%s%s", l->stdlib, name, ext);
    return is_file(cand) ? cand : NULL;
}

static Module *load_file(Loader *l, const char *path, const char *text, SrcLoc from);

static void link_names(Loader *l, Module *m)
{
    Diag *d = l->prog->diag;
    for (int i = 0; i < m->nitems; i++) {
        TopItem *t = &m->items[i];
        if (t->kind == TOP_DEF) {
            Def *def = t->item;
            if (sema_builtin_id(def->name) >= 0) {
                diag_error(d, def->name_loc, "'%s' is a built-in function; a def cannot replace it",
                           def->name);
                continue;
            }
            Program *p = l->prog;
            int *slot = def_slot((Def **)l->defs.items, p->def_table, p->def_mask, def->name);
            if (*slot) {
                Def *old = l->defs.items[*slot - 1];
                diag_error(d, def->name_loc, "def '%s' is already defined", def->name);
                diag_note(d, old->name_loc, "the first definition is here");
                continue;
            }
            ptrvec_push(p->arena, &l->defs, def);
            *slot = l->defs.n;
        } else if (t->kind == TOP_OPTIMIZER) {
            Optimizer *o = t->item;
            for (int k = 0; k < l->optimizers.n; k++) {
                Optimizer *old = l->optimizers.items[k];
                if (old->name == o->name) {
                    diag_error(d, o->name_loc, "optimizer '%s' is already defined", o->name);
                    diag_note(d, old->name_loc, "the first definition is here");
                    goto next;
                }
            }
            ptrvec_push(l->prog->arena, &l->optimizers, o);
        }
    next:;
    }
}

static void load_imports(Loader *l, Module *m)
{
    Diag *d = l->prog->diag;
    for (int i = 0; i < m->nitems; i++) {
        if (m->items[i].kind != TOP_IMPORT) continue;
        Import *im = m->items[i].item;
        char *path = resolve_import(l, m->path, im->path);
        if (!path) {
            // The stdlib's path is in the hint, not the message: it depends on the machine.
            diag_error(d, im->path_loc, "cannot find '%s' beside this file or in the stdlib",
                       im->path);
            diag_hint(d, "the stdlib is %s (set HAM_STDLIB to use another)", l->stdlib);
            continue;
        }
        im->target = load_file(l, path, NULL, im->loc);
    }
}

static Module *load_file(Loader *l, const char *path, const char *text, SrcLoc from)
{
    Arena *a = l->prog->arena;
    Diag *d = l->prog->diag;
    char real[PATH_MAX];
    const char *key = text ? path : realpath(path, real) ? real : path;
    for (int i = 0; i < l->real_paths.n; i++)
        if (strcmp(l->real_paths.items[i], key) == 0) return l->modules.items[i];
    int file = text ? diag_add_source(d, path, text, (int)strlen(text))
                    : diag_read_file(d, path, from);
    if (file < 0) return NULL;
    int incomplete = 0;
    Module *m = parse_module(a, d, file, &incomplete);
    m->incomplete = incomplete;
    ptrvec_push(a, &l->real_paths, arena_strdup(a, key));
    ptrvec_push(a, &l->modules, m);
    load_imports(l, m);
    return m;
}

Program *load_program(Arena *a, Diag *d, const char *path, const char *text, int with_prelude)
{
    Program *p = arena_alloc(a, sizeof *p);
    p->arena = a;
    p->diag = d;
    Loader l = {.prog = p, .stdlib = load_stdlib_dir()};
    SrcLoc none = {-1, 0, 0};
    char *prelude = with_prelude ? resolve_import(&l, "", "prelude") : NULL;
    char real_main[PATH_MAX], real_prelude[PATH_MAX];
    if (prelude && !(text == NULL && realpath(path, real_main) && realpath(prelude, real_prelude) &&
                     strcmp(real_main, real_prelude) == 0)) {
        Module *pm = load_file(&l, prelude, NULL, none);
        if (pm) pm->is_prelude = 1;
    } else if (with_prelude && !prelude) {
        diag_error(d, none, "cannot find the prelude in %s (set HAM_STDLIB)", l.stdlib);
    }
    p->main = load_file(&l, path, text, none);
    p->incomplete = p->main && p->main->incomplete;
    size_t ndefs = 0, slots = 4;
    for (int i = 0; i < l.modules.n; i++) {
        Module *m = l.modules.items[i];
        for (int k = 0; k < m->nitems; k++) ndefs += m->items[k].kind == TOP_DEF;
    }
    while (slots < 2 * ndefs + 2) slots *= 2;
    p->def_mask = (unsigned)(slots - 1);
    p->def_table = arena_alloc(a, slots * sizeof *p->def_table);
    for (int i = 0; i < l.modules.n; i++) link_names(&l, l.modules.items[i]);
    p->modules = (Module **)l.modules.items;
    p->nmodules = l.modules.n;
    p->defs = (Def **)l.defs.items;
    p->ndefs = l.defs.n;
    p->optimizers = (Optimizer **)l.optimizers.items;
    p->noptimizers = l.optimizers.n;
    return p;
}

Def *load_find_def(const Program *p, const char *name)
{
    int k = *def_slot(p->defs, p->def_table, p->def_mask, name);
    return k ? p->defs[k - 1] : NULL;
}

Optimizer *load_find_optimizer(const Program *p, const char *name)
{
    for (int i = 0; i < p->noptimizers; i++)
        if (strcmp(p->optimizers[i]->name, name) == 0) return p->optimizers[i];
    return NULL;
}
