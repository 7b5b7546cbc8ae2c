/* main.c: the hamc driver: one table of commands, each a function.
 *
 *   hamc check FILE...        parse and check specs
 *   hamc fmt [-i] FILE        print a spec back in canonical form (-i: rewrite it)
 *   hamc help [COMMAND]
 *
 * Exit status: 0 success, 1 errors in the input, 2 bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "parse.h"
#include "sema.h"

#define HAMC_VERSION "0.1.0"

typedef struct Command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *summary;
} Command;

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "hamc %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see 'hamc help %s')\n", cmd);
    return 2;
}

/* Shared option: -w turns warnings off. */
static int parse_common(Diag *d, const char *arg)
{
    if (strcmp(arg, "-w") == 0) {
        d->warnings_off = 1;
        return 1;
    }
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    int nfiles = 0, failed = 0, quiet = 0, warnings_off = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) quiet = 1;
        else if (strcmp(argv[i], "-w") == 0) warnings_off = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return usage_error("check", "unknown option '%s'", argv[i]);
        else nfiles++;
    }
    if (nfiles == 0) return usage_error("check", "%sneeds at least one FILE", "");
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) continue;
        Arena a;
        arena_init(&a);
        Diag d;
        diag_init(&d, &a, stderr);
        d.warnings_off = warnings_off;
        Program *p = load_program(&a, &d, argv[i], NULL, 1);
        if (p->main) sema_program(p);
        if (d.nerrors) {
            failed = 1;
            if (d.suppressed) fprintf(stderr, "hamc: %d more errors not shown\n", d.suppressed);
            fprintf(stderr, "%s: %d error%s\n", argv[i], d.nerrors, d.nerrors == 1 ? "" : "s");
        } else if (!quiet) {
            int n = 0;
            for (int k = 0; k < p->noptimizers; k++) n += p->optimizers[k]->module == p->main;
            printf("%s: ok (%d optimizer%s)\n", argv[i], n, n == 1 ? "" : "s");
        }
        arena_free(&a);
    }
    return failed;
}

/* Write text to path atomically: a temp file beside it, then rename. */
static int write_atomic(const char *path, const char *text, size_t len)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    int ok = fwrite(text, 1, len, f) == len;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

static int cmd_fmt(int argc, char **argv)
{
    int in_place = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-i") == 0) in_place = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return usage_error("fmt", "unknown option '%s'", argv[i]);
        else if (path) return usage_error("fmt", "takes one FILE, got also '%s'", argv[i]);
        else path = argv[i];
    }
    if (!path) return usage_error("fmt", "%sneeds a FILE", "");
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, &a, stderr);
    int file = diag_read_file(&d, path, (SrcLoc){-1, 0, 0});
    int status = 1;
    if (file >= 0) {
        Module *m = parse_module(&a, &d, file, NULL);
        if (d.nerrors == 0) {
            char *buf = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&buf, &len);
            fmt_module(mem, m, &d);
            fclose(mem);
            if (!in_place) {
                fwrite(buf, 1, len, stdout);
                status = 0;
            } else if (write_atomic(path, buf, len) == 0) {
                status = 0;
            } else {
                perror(path);
            }
            free(buf);
        }
    }
    arena_free(&a);
    return status;
}

static int cmd_help(int argc, char **argv);

static const Command commands[] = {
    {"check", cmd_check, "hamc check [-q] [-w] FILE...",
     "parse and check specs; -q prints nothing on success, -w hides warnings"},
    {"fmt", cmd_fmt, "hamc fmt [-i] FILE",
     "print a spec in canonical form (comments kept); -i rewrites the file"},
    {"help", cmd_help, "hamc help [COMMAND]", "show help"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 0; i < NCOMMANDS; i++) {
            if (strcmp(commands[i].name, argv[1]) == 0) {
                printf("usage: %s\n  %s\n", commands[i].usage, commands[i].summary);
                return 0;
            }
        }
        fprintf(stderr, "hamc: no command '%s'\n", argv[1]);
        return 2;
    }
    printf("hamc %s: a compiler for learned port-Hamiltonian optimizers\n\ncommands:\n",
           HAMC_VERSION);
    for (int i = 0; i < NCOMMANDS; i++) printf("  %-34s %s\n", commands[i].usage, commands[i].summary);
    printf("\nexit status: 0 ok, 1 errors in the input, 2 bad usage\n");
    return 0;
}

int main(int argc, char **argv)
{
    (void)parse_common;
    if (argc < 2) return cmd_help(1, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return cmd_help(1, argv);
    if (strcmp(argv[1], "--version") == 0) {
        printf("hamc %s\n", HAMC_VERSION);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, argv[1]) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hamc: unknown command '%s' (see 'hamc help')\n", argv[1]);
    return 2;
}
