/* fuzz_spec.c: libFuzzer target for the front end: lexer, parser, loader, sema, fmt.
 *
 * The input is one .ham file.  It goes through the same steps as `hamc check`:
 * load_program (with the prelude, found through $HAM_STDLIB) and sema_program, with
 * messages thrown away on /dev/null.  Two extra checks turn silent bugs into crashes:
 *
 *   - raw bytes: load_program takes NUL-terminated text (the REPL's path), so an
 *     embedded NUL ends the text there.  `hamc check FILE` instead reads the raw bytes
 *     (diag_read_file), NULs included; when the input holds a NUL, the raw bytes are
 *     parsed as well, and diag.h promises that such a file is rejected with an error.
 *   - fmt round trip: when the input checks without errors, fmt_module prints it; the
 *     printed text must load and check without errors too (fmt keeps the meaning),
 *     and printing it again must give the same text (fmt is idempotent).  A failure
 *     is a fmt bug: the texts go to stderr and the target aborts.
 *
 * Everything lives in one Arena per input and is freed at the end, so LeakSanitizer
 * sees any allocation that escapes the arena. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "load.h"
#include "parse.h"
#include "sema.h"

static FILE *devnull;   // where diagnostics go: opened once, kept for the process

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Without the prelude every input stops at "cannot find the prelude" and the fuzzer
 * explores nothing: refuse to start. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    if (!devnull) {
        perror("fuzz_spec: /dev/null");
        exit(1);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/prelude.ham", load_stdlib_dir());
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fuzz_spec: no prelude at %s: set HAM_STDLIB to the repo's stdlib\n", path);
        exit(1);
    }
    fclose(f);
    return 0;
}

/* fmt of the main module of p, as a malloc'd NUL-terminated string. */
static char *print_main(const Program *p, Diag *d, size_t *len)
{
    char *buf = NULL;
    *len = 0;
    FILE *mem = open_memstream(&buf, len);
    if (!mem) abort();
    fmt_module(mem, p->main, d);
    fclose(mem);
    return buf;
}

static _Noreturn void fmt_failure(const char *what, const char *first, const char *second)
{
    fprintf(stderr, "fuzz_spec: fmt %s\n--- first print ---\n%s--- second ---\n%s---\n", what,
            first, second ? second : "(none)");
    abort();
}

/* The fmt round trip of a program that checked without errors. */
static void check_fmt(const Program *p, Diag *d)
{
    size_t len1, len2;
    char *first = print_main(p, d, &len1);
    if (strlen(first) != len1) fmt_failure("printed a NUL byte", first, NULL);

    Arena a2;
    arena_init(&a2);
    Diag d2;
    diag_init(&d2, &a2, devnull);
    Program *p2 = load_program(&a2, &d2, "fuzz.ham", first, 1);
    if (p2->main) sema_program(p2);
    if (!p2->main || d2.nerrors) {
        diag_init(&d2, &a2, stderr);   // show why, then fail
        p2 = load_program(&a2, &d2, "fuzz.ham", first, 1);
        if (p2->main) sema_program(p2);
        fmt_failure("output does not check", first, NULL);
    }
    char *second = print_main(p2, &d2, &len2);
    if (len1 != len2 || memcmp(first, second, len1) != 0)
        fmt_failure("is not idempotent", first, second);
    free(second);
    free(first);
    arena_free(&a2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0;   // diag keeps int offsets; -max_len is far below
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;

    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, &a, devnull);
    Program *p = load_program(&a, &d, "fuzz.ham", text, 1);
    if (p->main) sema_program(p);
    int clean = p->main && d.nerrors == 0;

    // The bytes as `hamc check FILE` reads them: NULs included, and rejected.
    if (memchr(data, 0, size)) {
        int before = d.nerrors;
        int file = diag_add_source(&d, "fuzz-raw.ham", text, (int)size);
        parse_module(&a, &d, file, NULL);
        if (d.nerrors == before) {
            fprintf(stderr, "fuzz_spec: a file with a NUL byte parsed without an error\n");
            abort();
        }
    }
    if (clean) check_fmt(p, &d);

    arena_free(&a);
    free(text);
    return 0;
}
