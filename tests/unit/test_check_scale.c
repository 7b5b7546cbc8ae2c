/* test_check_scale.c: `hamc check` on programs with very many names and defs.
 *
 * `hamc check` must finish quickly on any input up to 1 MB.  Name lookup in an
 * optimizer, load_find_def and the duplicate-def check were linear searches, so
 * checking was quadratic: a 1 MB spec of 100000 one-line lets took 80 s, one of 38000
 * defs and 79000 calls 15 s.  Here:
 *   - 100000 lets in a chain of 100-long runs, and 20000 states, check without error
 *     in well under the bound (the old code took minutes on this);
 *   - sema_lookup finds the first, a middle and the last name, and not a missing one;
 *   - a hyper redeclared 1000 times gives 1000 errors naming its kind, and stays the
 *     one symbol of that name;
 *   - 38000 defs (chains of 10, each calling the one before and the chain's head)
 *     and 79000 calls in all, under 1 MB, check without error in well under the
 *     bound (the old code took over 10 s on this);
 *   - load_find_def finds the first, a middle and the last def, from a name that is
 *     not the interned copy, and not a missing one;
 *   - a def defined 1000 more times gives 1000 errors, each with a note at the first
 *     definition, and the first definition is the one that stays;
 *   - a def named like a built-in is refused, and is not indexed. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "load.h"
#include "sema.h"
#include "test.h"

/* Text: a growing string. */
typedef struct {
    char *s;
    size_t len, cap;
} Text;

static void text_add(Text *t, const char *piece)
{
    size_t n = strlen(piece);
    if (t->len + n + 1 > t->cap) {
        t->cap = 2 * (t->len + n + 1);
        t->s = realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, piece, n + 1);
    t->len += n;
}

static double cpu_seconds(void)
{
    return (double)clock() / CLOCKS_PER_SEC;
}

/* A program loaded (and checked, with sema) with its diagnostics in a string. */
typedef struct Captured {
    Arena arena;
    Diag diag;
    Program *p;
    char *msgs;
} Captured;

static void load_captured(Captured *c, const char *name, const char *text, int sema)
{
    memset(c, 0, sizeof *c);
    size_t len = 0;
    FILE *out = open_memstream(&c->msgs, &len);
    diag_init(&c->diag, &c->arena, out);
    c->p = load_program(&c->arena, &c->diag, name, text, 0);
    if (c->p && sema) sema_program(c->p);
    fclose(out);
}

static void captured_free(Captured *c)
{
    free(c->msgs);
    arena_free(&c->arena);
}

static void test_many_names(void)
{
    enum { NLETS = 100000, NSTATES = 20000 };
    Text t = {0};
    char line[128];
    text_add(&t, "optimizer big {\n    input g\n    state ");
    for (int i = 0; i < NSTATES; i++) {
        snprintf(line, sizeof line, "%ss%d = 0", i ? ", " : "", i);
        text_add(&t, line);
    }
    text_add(&t, "\n");
    for (int i = 0; i < NSTATES; i++) {
        snprintf(line, sizeof line, "    next s%d = s%d + g\n", i, i);
        text_add(&t, line);
    }
    // Chains of 100 lets (a much longer chain is refused for its depth, on purpose);
    // the update reads the head of each, so that every let is used.
    for (int i = 0; i < NLETS; i++) {
        if (i % 100 == 99)
            snprintf(line, sizeof line, "    let l%d = g\n", i);
        else
            snprintf(line, sizeof line, "    let l%d = l%d + 1\n", i, i + 1);
        text_add(&t, line);
    }
    text_add(&t, "    update = -0.1 * (s0' + s19999'");
    for (int i = 0; i < NLETS; i += 100) {
        snprintf(line, sizeof line, " + l%d", i);
        text_add(&t, line);
    }
    text_add(&t, ")\n}\n");

    Arena a = {0};
    Diag d;
    diag_init(&d, &a, stderr);
    double t0 = cpu_seconds();
    Program *p = load_program(&a, &d, "big.ham", t.s, 0);
    ASSERT(p != NULL);
    if (p) {
        ASSERT_EQ(0, sema_program(p));
        double took = cpu_seconds() - t0;
        printf("  %d lets and %d states: checked in %.2f s of CPU\n", NLETS, NSTATES, took);
        ASSERT(took < 10);   // a few tenths of a second; minutes when it was quadratic
        ASSERT_EQ(0, d.nerrors);
        ASSERT_EQ(0, d.nwarnings);
        Optimizer *o = load_find_optimizer(p, "big");
        ASSERT(o && o->info);
        if (o && o->info) {
            const OptInfo *info = o->info;
            ASSERT_EQ(1 + NSTATES + NLETS, info->nsyms);
            Sym *first = sema_lookup(info, "g"), *mid = sema_lookup(info, "l50000");
            Sym *last = sema_lookup(info, "l99999"), *state = sema_lookup(info, "s12345");
            ASSERT(first && first->kind == SK_INPUT);
            ASSERT(mid && mid->kind == SK_LET && strcmp(mid->name, "l50000") == 0);
            ASSERT(last && last->kind == SK_LET && strcmp(last->name, "l99999") == 0);
            ASSERT(state && state->kind == SK_STATE && state->index == 12345);
            ASSERT(sema_lookup(info, "l100000") == NULL);
            ASSERT(sema_lookup(info, "") == NULL);
        }
    }
    arena_free(&a);
    free(t.s);
}

static void test_redeclared(void)
{
    Text t = {0};
    text_add(&t, "optimizer dup {\n    input g\n    hyper h = 1\n");
    for (int i = 0; i < 1000; i++) text_add(&t, "    let h = g\n");
    text_add(&t, "    update = h * g\n}\n");
    Captured c;
    load_captured(&c, "dup.ham", t.s, 1);
    ASSERT(c.p != NULL);
    ASSERT_EQ(1000, c.diag.nerrors);
    ASSERT(c.msgs && strstr(c.msgs, "'h' is already declared (as a hyper)") != NULL);
    Optimizer *o = c.p ? load_find_optimizer(c.p, "dup") : NULL;
    if (o && o->info) {
        Sym *h = sema_lookup(o->info, "h");
        ASSERT(h && h->kind == SK_HYPER);
        ASSERT_EQ(2, o->info->nsyms);
    }
    captured_free(&c);
    free(t.s);
}

/* def_name: "f" and i in base 36, so that 1 MB holds 38000 defs and 79000 calls
 * (the defs take no arguments for the same reason). */
static const char *def_name(char *buf, int i)
{
    char digits[16];
    int n = 0;
    do digits[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36];
    while ((i /= 36) > 0);
    buf[0] = 'f';
    for (int k = 0; k < n; k++) buf[1 + k] = digits[n - 1 - k];
    buf[1 + n] = 0;
    return buf;
}

static void test_many_defs(void)
{
    enum { NDEFS = 38000, NCALLS = 79000, CHAIN = 10, PER_LET = 10 };
    Text t = {0};
    char line[256], a[16], b[16], c[16];
    int calls = 0;
    for (int i = 0; i < NDEFS; i++) {
        if (i % CHAIN == 0) {
            snprintf(line, sizeof line, "def %s()=1\n", def_name(a, i));
        } else {
            snprintf(line, sizeof line, "def %s()=%s()*%s()\n", def_name(a, i),
                     def_name(b, i - 1), def_name(c, i - i % CHAIN));
            calls += 2;
        }
        text_add(&t, line);
    }
    // The other calls are in lets of PER_LET calls of chains' tails each; the update
    // reads every let.
    int nlets = (NCALLS - calls) / PER_LET;
    text_add(&t, "optimizer o {\n    input g\n");
    for (int k = 0; k < nlets; k++) {
        snprintf(line, sizeof line, "    let l%d = ", k);
        text_add(&t, line);
        for (int j = 0; j < PER_LET; j++) {
            int tail = ((k * PER_LET + j) % (NDEFS / CHAIN)) * CHAIN + CHAIN - 1;
            snprintf(line, sizeof line, "%s%s()", j ? "+" : "", def_name(a, tail));
            text_add(&t, line);
            calls++;
        }
        text_add(&t, "\n");
    }
    text_add(&t, "    update = -0.1 * g * (l0");
    for (int k = 1; k < nlets; k++) {
        snprintf(line, sizeof line, "+l%d", k);
        text_add(&t, line);
    }
    text_add(&t, ")\n}\n");
    ASSERT_EQ(NCALLS, calls);
    ASSERT(t.len <= 1 << 20);

    Arena ar = {0};
    Diag d;
    diag_init(&d, &ar, stderr);
    double t0 = cpu_seconds();
    Program *p = load_program(&ar, &d, "defs.ham", t.s, 0);
    ASSERT(p != NULL);
    if (p) {
        ASSERT_EQ(0, sema_program(p));
        double took = cpu_seconds() - t0;
        printf("  %d defs and %d calls (%zu bytes): checked in %.2f s of CPU\n", NDEFS, calls,
               t.len, took);
        ASSERT(took < 8);   // 1.5 s at -O2; 24 s with linear searches
        ASSERT_EQ(0, d.nerrors);
        ASSERT_EQ(NDEFS, p->ndefs);
        char name[16];
        int probes[] = {0, 1, NDEFS / 2, NDEFS - 1};
        for (size_t k = 0; k < sizeof probes / sizeof *probes; k++) {
            strcpy(name, def_name(a, probes[k]));   // not the interned copy
            Def *def = load_find_def(p, name);
            ASSERT(def && strcmp(def->name, name) == 0 && def == p->defs[probes[k]]);
        }
        ASSERT(load_find_def(p, def_name(a, NDEFS)) == NULL);
        ASSERT(load_find_def(p, "") == NULL);
        ASSERT(load_find_def(p, "exp") == NULL);
    }
    arena_free(&ar);
    free(t.s);
}

static void test_redefined(void)
{
    Text t = {0};
    text_add(&t, "def h(x) = x\ndef exp(x) = x\n");
    for (int i = 0; i < 1000; i++) text_add(&t, "def h(x) = x + 1\n");
    Captured c;
    load_captured(&c, "dup.ham", t.s, 0);
    Program *p = c.p;
    const char *msgs = c.msgs;
    ASSERT(p != NULL);
    ASSERT_EQ(1001, c.diag.nerrors);
    ASSERT(msgs && strstr(msgs, "dup.ham:3:5: error: def 'h' is already defined") != NULL);
    // (Diag prints the first 50 errors and counts the rest.)
    ASSERT(msgs && strstr(msgs, "dup.ham:51:5: error: def 'h' is already defined") != NULL);
    ASSERT(msgs && strstr(msgs, "dup.ham:1:5: note: the first definition is here") != NULL);
    ASSERT(msgs && strstr(msgs, "'exp' is a built-in function; a def cannot replace it") != NULL);
    if (p) {
        ASSERT_EQ(1, p->ndefs);
        Def *h = load_find_def(p, "h");
        ASSERT(h && h->name_loc.off == 4);   // the first: "def h" on line 1
        ASSERT(load_find_def(p, "exp") == NULL);
    }
    captured_free(&c);
    free(t.s);
}

int main(void)
{
    test_many_names();
    test_redeclared();
    test_many_defs();
    test_redefined();
    return test_summary();
}
