/* test_hints.c: the "did you mean" hints of the front end, and where they point.
 *
 * The golden tests (tests/golden/) pin every diagnostic's line, column and message but
 * not the hints under them.  Here each case is a small spec with one mistake, checked
 * through load_program and sema_program with messages captured in memory; the case
 * passes when the output holds the expected `LINE:COL: error: ...` prefix and the
 * expected hint.  Cases: a misspelled keyword (a declaration, 'then', 'optimizer'), a
 * misspelled function, name, input and integrator, and a keyword used as a name. */
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "sema.h"
#include "test.h"

typedef struct HintCase {
    const char *text;
    const char *where;   // "L:C: error: " prefix, after the file name
    const char *hint;    // the hint line's text after "= hint: "
} HintCase;

static const HintCase cases[] = {
    {"optimizer o {\n    input g\n    state m = 0\n    hamiltonain H = m^2\n"
     "    next m = m + g\n    update = -0.1 * m\n}\n",
     "4:5: error: unexpected identifier 'hamiltonain'", "did you mean 'hamiltonian'?"},
    {"optimizer o {\n    input g\n    update = if g > 0 than g else 0\n}\n",
     "3:23: error: unexpected identifier 'than'", "did you mean 'then'?"},
    {"optimizer o {\n    input g\n    update = g\n}\nopimizer z {\n    input g\n"
     "    update = g\n}\n",
     "5:1: error: unexpected identifier 'opimizer'", "did you mean 'optimizer'?"},
    {"optimizer o {\n    input g\n    udpate = g\n}\n",
     "3:5: error: unexpected identifier 'udpate'", "did you mean 'update'?"},
    {"optimizer o {\n    input g\n    update = -0.1 * sofplus(g)\n}\n",
     "3:21: error: unknown function 'sofplus'", "did you mean 'softplus'?"},
    {"optimizer o {\n    hyper rate = 0.1\n    input g\n    update = -rat * g\n}\n",
     "4:15: error: unknown name 'rat'", "did you mean 'rate'?"},
    {"optimizer o {\n    input gg\n    update = -0.1 * gg\n}\n",
     "2:11: error: unknown input 'gg'", "did you mean 'g'?"},
    {"optimizer o {\n    input g\n    state p = 0\n    hamiltonian H = p^2 / 2\n"
     "    port G = -1\n    integrator eulr\n    update = p'\n}\n",
     "6:16: error: unknown integrator 'eulr'", "did you mean 'euler'?"},
    {"optimizer o {\n    input g\n    let next = g\n    update = g\n}\n",
     "3:9: error: unexpected 'next', expected identifier", "'next' is a keyword and cannot be a name"},
};

static void check_case(const HintCase *c)
{
    Arena a = {0};
    Diag d;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    diag_init(&d, &a, f);
    Program *p = load_program(&a, &d, "t.ham", c->text, 0);
    if (p) sema_program(p);
    fclose(f);
    char where[160], hint[160];
    snprintf(where, sizeof where, "t.ham:%s", c->where);
    snprintf(hint, sizeof hint, "= hint: %s\n", c->hint);
    const char *at = out ? strstr(out, where) : NULL;
    // the hint must follow its error, before the next diagnostic
    const char *next = at ? strstr(at + 1, "t.ham:") : NULL;
    const char *h = at ? strstr(at, hint) : NULL;
    int ok = at && h && (!next || h < next);
    ASSERT(ok);
    if (!ok)
        fprintf(stderr, "    want \"%s\" then \"%s\"; got:\n%s\n", where, c->hint, out ? out : "");
    free(out);
    arena_free(&a);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
    return test_summary();
}
