/* test_sema_scale.c: the semantic pass on optimizers with very many names.
 *
 * `hamc check` must finish quickly on any input up to 1 MB.  Name lookup in an
 * optimizer was a linear search, so checking was quadratic in the declarations: a
 * 1 MB spec of 100000 one-line lets took 80 s.  Here:
 *   - 100000 lets in a chain of 100-long runs, and 20000 states, check without error
 *     in well under the bound (the old code took minutes on this);
 *   - sema_lookup finds the first, a middle and the last name, and not a missing one;
 *   - a hyper redeclared 1000 times gives 1000 errors naming its kind, and stays the
 *     one symbol of that name. */
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
    Arena a = {0};
    Diag d;
    char *msgs = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&msgs, &len);
    diag_init(&d, &a, out);
    Program *p = load_program(&a, &d, "dup.ham", t.s, 0);
    ASSERT(p != NULL);
    if (p) sema_program(p);
    fclose(out);
    ASSERT_EQ(1000, d.nerrors);
    ASSERT(msgs && strstr(msgs, "'h' is already declared (as a hyper)") != NULL);
    Optimizer *o = p ? load_find_optimizer(p, "dup") : NULL;
    if (o && o->info) {
        Sym *h = sema_lookup(o->info, "h");
        ASSERT(h && h->kind == SK_HYPER);
        ASSERT_EQ(2, o->info->nsyms);
    }
    free(msgs);
    arena_free(&a);
    free(t.s);
}

int main(void)
{
    test_many_names();
    test_redeclared();
    return test_summary();
}
