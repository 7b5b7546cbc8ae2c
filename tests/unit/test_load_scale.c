/* test_load_scale.c: linking and checking a program with very many defs.
 *
 * `hamc check` must finish quickly on any input up to 1 MB.  load_find_def and the
 * duplicate-def check were linear searches over the defs, so a 1 MB spec of 38000
 * defs and 79000 calls took 15 s.  Here:
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
    Arena a = {0};
    Diag d;
    char *msgs = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&msgs, &len);
    diag_init(&d, &a, out);
    Program *p = load_program(&a, &d, "dup.ham", t.s, 0);
    fclose(out);
    ASSERT(p != NULL);
    ASSERT_EQ(1001, d.nerrors);
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
    free(msgs);
    arena_free(&a);
    free(t.s);
}

int main(void)
{
    test_many_defs();
    test_redefined();
    return test_summary();
}
