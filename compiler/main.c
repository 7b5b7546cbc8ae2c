/* main.c: the hamc driver: one table of commands, each a function.
 *
 *   hamc check FILE...        parse and check specs
 *   hamc fmt [-i] FILE        print a spec back in canonical form (-i: rewrite it)
 *   hamc derive FILE          print the derived dynamics, step and adjoint
 *   hamc gradcheck FILE       check the adjoint against finite differences
 *   hamc repl                 the interactive session (also: hamc alone)
 *   hamc run-script FILE      a file of REPL commands
 *   hamc help [COMMAND]
 *
 * Exit status: 0 success, 1 errors in the input, 2 bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "blas_setup.h"
#include "c_emit.h"
#include "commands.h"
#include "derive.h"
#include "fmt.h"
#include "jit.h"
#include "parse.h"
#include "repl.h"
#include "sema.h"
#include "task.h"

#define HAMC_VERSION "0.1.0"

typedef struct Command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *summary;
} Command;


/* A loaded and checked spec, for the commands that compile it further. */
typedef struct Loaded {
    Arena arena;
    Diag diag;
    Program *prog;
} Loaded;

static int load_checked(Loaded *l, const char *path)
{
    arena_init(&l->arena);
    diag_init(&l->diag, &l->arena, stderr);
    l->diag.warnings_off = 1;   // `check` is where warnings are shown
    l->prog = load_program(&l->arena, &l->diag, path, NULL, 1);
    if (l->prog->main) sema_program(l->prog);
    return l->diag.nerrors ? -1 : 0;
}

/* The optimizers a command acts on: the one named, or all of the main file's. */
static int select_optimizers(Loaded *l, const char *cmd, const char *name, Optimizer ***out)
{
    Program *p = l->prog;
    *out = arena_alloc(&l->arena, (size_t)(p->noptimizers + 1) * sizeof **out);
    int n = 0;
    for (int i = 0; i < p->noptimizers; i++) {
        Optimizer *o = p->optimizers[i];
        if (name ? strcmp(o->name, name) == 0 : o->module == p->main) (*out)[n++] = o;
    }
    if (n == 0 && name) fprintf(stderr, "hamc %s: no optimizer '%s'\n", cmd, name);
    if (n == 0 && !name) fprintf(stderr, "hamc %s: the file declares no optimizer\n", cmd);
    return n;
}

static int parse_dump(const char *list)
{
    int dump = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "field") == 0) dump |= DUMP_FIELD;
        else if (strcmp(tok, "step") == 0) dump |= DUMP_STEP;
        else if (strcmp(tok, "adjoint") == 0) dump |= DUMP_ADJOINT;
        else if (strcmp(tok, "dag") == 0) dump |= DUMP_DAG;
        else if (strcmp(tok, "all") == 0) dump |= DUMP_ALL;
        else return -1;
    }
    return dump;
}

static int parse_integrator(const char *name)
{
    for (int k = 0; k < INT_KIND_COUNT; k++)
        if (strcmp(sema_integrator_name((IntegratorKind)k), name) == 0) return k;
    return -2;
}

/* Options shared by derive and gradcheck; returns the FILE or NULL on bad usage. */
typedef struct CompileArgs {
    const char *path, *opt;
    StepOptions step;
    int dump, trials, sympy;
    unsigned long long seed;
    double tol;
} CompileArgs;

static int parse_compile_args(const char *cmd, int argc, char **argv, CompileArgs *a)
{
    memset(a, 0, sizeof *a);
    step_default_options(&a->step);
    a->dump = DUMP_ALL;
    a->trials = 5;
    a->seed = 1;
    a->tol = 1e-6;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strncmp(arg, "--dump=", 7) == 0) {
            if ((a->dump = parse_dump(arg + 7)) < 0) return cmd_usage(cmd, "bad --dump list '%s'", arg + 7);
        } else if (strcmp(arg, "--format") == 0 && val) {
            if (strcmp(val, "sympy") != 0 && strcmp(val, "text") != 0 && strcmp(val, "latex") != 0)
                return cmd_usage(cmd, "--format is text, latex or sympy, not '%s'", val);
            a->sympy = strcmp(val, "sympy") == 0;
            derive_set_latex(strcmp(argv[++i], "latex") == 0);
        } else if (strcmp(arg, "--algebraic") == 0) {
            a->step.rules = DAG_RULES_ALGEBRAIC;
        } else if (strcmp(arg, "--opt") == 0 && val) {
            a->opt = argv[++i];
        } else if (strcmp(arg, "--integrator") == 0 && val) {
            if ((a->step.integrator = parse_integrator(argv[++i])) < -1)
                return cmd_usage(cmd, "unknown integrator '%s'", val);
        } else if (strcmp(arg, "--dt") == 0 && val) {
            a->step.dt = strtod(argv[++i], &end);
            if (*end || !(a->step.dt > 0)) return cmd_usage(cmd, "--dt needs a positive number, not '%s'", val);
        } else if (strcmp(arg, "--trials") == 0 && val) {
            a->trials = (int)strtol(argv[++i], &end, 10);
            if (*end || a->trials < 1) return cmd_usage(cmd, "--trials needs a positive integer, not '%s'", val);
        } else if (strcmp(arg, "--seed") == 0 && val) {
            a->seed = strtoull(argv[++i], &end, 10);
            if (*end) return cmd_usage(cmd, "--seed needs an integer, not '%s'", val);
        } else if (strcmp(arg, "--tol") == 0 && val) {
            a->tol = strtod(argv[++i], &end);
            if (*end || !(a->tol > 0)) return cmd_usage(cmd, "--tol needs a positive number, not '%s'", val);
        } else if (arg[0] == '-' && arg[1]) {
            return cmd_usage(cmd, "unknown option or missing value: '%s'", arg);
        } else if (a->path) {
            return cmd_usage(cmd, "takes one FILE, got also '%s'", arg);
        } else {
            a->path = arg;
        }
    }
    if (!a->path) return cmd_usage(cmd, "%sneeds a FILE", "");
    return 0;
}

static int cmd_derive(int argc, char **argv)
{
    CompileArgs a;
    int rc = parse_compile_args("derive", argc, argv, &a);
    if (rc) return rc;
    Loaded l;
    Optimizer **opts;
    int status = 1;
    if (load_checked(&l, a.path) == 0) {
        int n = select_optimizers(&l, "derive", a.opt, &opts);
        status = n ? 0 : 1;
        for (int i = 0; i < n; i++) {
            StepOptions plain = a.step;
            plain.rules = DAG_RULES_NONE;
            StepProgram *s = step_build(l.prog, opts[i]->info, &l.arena, &l.diag, &a.step);
            StepProgram *raw = s ? step_build(l.prog, opts[i]->info, &l.arena, &l.diag, &plain) : NULL;
            if (!s || !raw) {
                status = 1;
                step_free(raw);
                continue;
            }
            int unsimplified = 0;
            if (raw->adj_state) {
                int nroots = 2 * raw->nstate + 1 + raw->nparam + 2;
                const DagNode **all = arena_alloc(&l.arena, (size_t)(nroots + 1) * sizeof *all);
                memcpy(all, raw->next, (size_t)raw->nstate * sizeof *all);
                all[raw->nstate] = raw->update;
                memcpy(all + raw->nstate + 1, raw->adj_state, (size_t)(raw->nstate + raw->nparam + 2) * sizeof *all);
                unsimplified = dag_count(nroots, all);
            }
            if (i) printf("\n");
            if (a.sympy) derive_dump_python(stdout, s);
            else derive_print(stdout, s, a.dump, unsimplified);
            step_free(raw);
            step_free(s);
        }
    }
    arena_free(&l.arena);
    return status;
}

static int cmd_gradcheck(int argc, char **argv)
{
    CompileArgs a;
    int rc = parse_compile_args("gradcheck", argc, argv, &a);
    if (rc) return rc;
    Loaded l;
    Optimizer **opts;
    int status = 1;
    if (load_checked(&l, a.path) == 0) {
        int n = select_optimizers(&l, "gradcheck", a.opt, &opts);
        status = n ? 0 : 1;
        for (int i = 0; i < n; i++) {
            StepProgram *s = step_build(l.prog, opts[i]->info, &l.arena, &l.diag, &a.step);
            GradcheckResult r;
            if (!s || derive_gradcheck(s, a.trials, a.seed, &r) != 0) {
                fprintf(stderr, "hamc gradcheck: %s: cannot evaluate the step\n", opts[i]->name);
                status = 1;
                step_free(s);
                continue;
            }
            // Every step has derivatives (along the inputs g and theta at least, so sgd
            // too); all of them skipped is not a failure: a skipped one is not wrong.
            if (r.checked == 0)
                printf("%-20s ok    (nothing to check: all %d derivatives (%d trials) were skipped)\n",
                       opts[i]->name, r.skipped, a.trials);
            else
                printf("%-20s %s  worst relative error %.2e%s%s%s over %d derivatives (%d trials)\n",
                       opts[i]->name, r.worst_rel <= a.tol ? "ok  " : "FAIL", r.worst_rel,
                       *r.worst_at ? " (d/d" : "", r.worst_at, *r.worst_at ? ")" : "", r.checked,
                       a.trials);
            if (r.skipped)
                printf("%-20s       %d derivatives skipped at kinks (the one-sided slopes differ) "
                       "or non-finite values\n", "", r.skipped);
            if (r.checked > 0 && r.worst_rel > a.tol) status = 1;
            step_free(s);
        }
    }
    arena_free(&l.arena);
    return status;
}

static int cmd_check(int argc, char **argv)
{
    int nfiles = 0, failed = 0, quiet = 0, warnings_off = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) quiet = 1;
        else if (strcmp(argv[i], "-w") == 0) warnings_off = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return cmd_usage("check", "unknown option '%s'", argv[i]);
        else nfiles++;
    }
    if (nfiles == 0) return cmd_usage("check", "%sneeds at least one FILE", "");
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
        else if (argv[i][0] == '-' && argv[i][1]) return cmd_usage("fmt", "unknown option '%s'", argv[i]);
        else if (path) return cmd_usage("fmt", "takes one FILE, got also '%s'", argv[i]);
        else path = argv[i];
    }
    if (!path) return cmd_usage("fmt", "%sneeds a FILE", "");
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

/* hamc emit-llvm: the kernels' IR, optimized as the JIT compiles it (-O0: as built). */
static int cmd_emit_llvm(int argc, char **argv)
{
    CompileArgs a;
    int opt_level = 2, keep = 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "-O", 2) == 0 && argv[i][2] >= '0' && argv[i][2] <= '3' && !argv[i][3])
            opt_level = argv[i][2] - '0';
        else
            rest[keep++] = argv[i];
    }
    int rc = parse_compile_args("emit-llvm", keep, rest, &a);
    free(rest);
    if (rc) return rc;
    Loaded l;
    Optimizer **opts;
    int status = 1;
    char err[1024];
    Jit *jit = NULL;
    if (load_checked(&l, a.path) == 0 && (jit = jit_create(err, sizeof err))) {
        int n = select_optimizers(&l, "emit-llvm", a.opt, &opts);
        status = n ? 0 : 1;
        for (int i = 0; i < n; i++) {
            StepProgram *s = step_build(l.prog, opts[i]->info, &l.arena, &l.diag, &a.step);
            JitOptions jo;
            jit_default_options(&jo);
            jo.opt_level = opt_level;
            char *ir = s ? jit_ir(jit, s, &jo, err, sizeof err) : NULL;
            if (ir) fputs(ir, stdout);
            else if (s) fprintf(stderr, "hamc emit-llvm: %s\n", err);
            if (!ir) status = 1;
            free(ir);
            step_free(s);
        }
    } else if (!jit && l.diag.nerrors == 0) {
        fprintf(stderr, "hamc emit-llvm: %s\n", err);
    }
    jit_destroy(jit);
    arena_free(&l.arena);
    return status;
}

static int cmd_help(int argc, char **argv);

static const Command commands[] = {
    {"check", cmd_check, "hamc check [-q] [-w] FILE...",
     "parse and check specs; -q prints nothing on success, -w hides warnings"},
    {"fmt", cmd_fmt, "hamc fmt [-i] FILE",
     "print a spec in canonical form (comments kept); -i rewrites the file"},
    {"derive", cmd_derive,
     "hamc derive FILE [--opt NAME] [--dump=dag,field,step,adjoint] [--format text|latex|sympy]\n"
     "                [--integrator NAME] [--dt X] [--algebraic]",
     "print the derived vector field, energy balance, discrete step and adjoint"},
    {"gradcheck", cmd_gradcheck,
     "hamc gradcheck FILE [--opt NAME] [--trials N] [--seed S] [--tol T]",
     "check the adjoint against central finite differences of the step (exit 1 above tol)"},
    {"emit-llvm", cmd_emit_llvm, "hamc emit-llvm FILE [--opt NAME] [-O0..3]",
     "print the LLVM IR of the forward and adjoint kernels (f32 and f64)"},
    {"emit-c", c_emit_command,
     "hamc emit-c FILE [--opt NAME] [--float|--double] [--adjoint] [--header] [--seed N] [-o OUT]",
     "write the optimizer as one self-contained C99 file (or its header)"},
    {"run", cmd_run,
     "hamc run SPEC --task T [--runs 100] [--steps 100] [--params CKPT] [--set k=v]... [--opt NAME]\n"
     "                [--seed S] [--csv CURVE.csv] [--finals FINALS.csv] [--json] [--test] [--threads N]\n"
     "                [--at K,K,...] [--verbose]   (T: \"NAME key=value ...\", e.g. \"mnist activation=relu hidden=40\")\n"
     "                (--at: the steps of the table, default 0, 1/4, 1/2, 3/4 and all of --steps)",
     "run an optimizer on many fresh tasks: loss curve, final loss with 95% interval"},
    {"train", cmd_train,
     "hamc train SPEC --task T --out CKPT [--unroll 20] [--steps 100] [--epochs 100]\n"
     "                [--runs-per-epoch 20] [--meta-batch 1] [--meta-lr 0.01] [--meta-opt adam|sgd]\n"
     "                [--meta-loss sum|log|late|loglate] [--meta-grad first|exact] [--out-mul K] [--clip C]\n"
     "                [--eval-every 1] [--eval-runs 20] [--resume CKPT | --init CKPT] [--imitate CKPT]\n"
     "                [--log CSV] [--seed S]\n"
     "                [--set k=v]... [--opt NAME] [--threads N] [--verbose]\n"
     "                (--meta-loss: sum of the losses, of their logs, or either weighted by step / steps (late,\n"
     "                loglate); sum by default; with --resume, the one the checkpoint was trained with; so is\n"
     "                --meta-opt, adam by default; and so are the task, the settings and the hypers (--set):\n"
     "                left out, the resumed run's; given, they win, but a task not the checkpoint's is refused.\n"
     "                --meta-grad: first treats the optimizee's gradients as data (Andrychowicz et al.), exact\n"
     "                backpropagates through them too, with a Hessian-vector product per run and step (MNIST:\n"
     "                about 1.5x a gradient's time); exact needs a whole-step adjoint (staged LSTMs: HAM_GEMM=off).\n"
     "                --log: a CSV row per epoch (epoch, meta_steps, meta_loss, eval_loss, best_loss, seconds),\n"
     "                the start as epoch 0; --resume appends to it.  --verbose: compile times, and without a\n"
     "                terminal for the progress line, a line per epoch on stderr.  --init: a fresh run whose\n"
     "                params start as CKPT's best, by name (CKPT may be another optimizer's: a spec that\n"
     "                extends a trained one starts where it ended; params it lacks keep their initializers).\n"
     "                --imitate: learn to reproduce the updates of CKPT's optimizer (compiled from the spec the\n"
     "                checkpoint holds, its best params) on its own runs: the meta-loss is the updates' relative\n"
     "                squared distance per unroll; evaluation still judges by the task's loss; such a run\n"
     "                resumes only with --imitate given again.  A meta-step whose unroll turns non-finite is\n"
     "                skipped and said where; after an epoch's worth of runs in a row ends so, the run restarts\n"
     "                from its best params with the meta-optimizer reset and the meta-lr halved, kept in the\n"
     "                checkpoint)",
     "meta-train a learned optimizer by truncated backpropagation through its unrolled steps"},
    {"repl", repl_command, "hamc repl", "the interactive session: define, run, compare, train, plot (also: hamc alone)"},
    {"run-script", repl_script_command, "hamc run-script FILE [--keep-going] | hamc run-script --check FILE...",
     "run a file of REPL commands, or with --check check it without running anything\n"
     "  a run stops at the first error (exit 1) unless --keep-going; --check reports FILE:LINE: error for\n"
     "  every bad command, option, optimizer, task or file (several FILEs: in order, each may read what the\n"
     "  ones before it write)"},
    {"help", cmd_help, "hamc help [COMMAND]", "show help"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

/* The tasks of --task, from the task registry (runtime/tasks.def). */
static void print_tasks(void)
{
    printf("tasks (--task \"NAME key=value ...\"; the defaults shown):\n");
    task_help(stdout, "  ");
}

/* The environment variables hamc reads, for `hamc help env`. */
static void print_env(void)
{
    printf("environment variables hamc reads:\n"
           "  HAM_STDLIB=DIR         the standard library's directory (default: found next to the binary)\n"
           "  HAM_THREADS=N          worker threads when --threads is not given (default: the online CPUs)\n"
           "  HAM_HISTORY=FILE       the REPL's history file (default ~/.ham_history; /dev/null keeps none)\n"
           "  HAM_VERBOSE=1          compile times on stderr, as --verbose\n"
           "  OPENBLAS_CORETYPE=NAME OpenBLAS's kernels (Haswell, SkylakeX, Cooperlake, Zen, ...); unset, hamc\n"
           "                         chooses from the CPU's features the ones OpenBLAS gives CPUs it knows\n"
           "  HAM_BLAS_CHOOSE=0      leave the kernels to OpenBLAS's own detection (`hamc --version` says which run)\n"
           "  HAM_GEMM=off|force     stage a step's parameter products as sgemm: never, or every linear form\n"
           "                         (default: where they are large, as the LSTM's)\n"
           "  HAM_VECTOR_BITS=256    AVX2-wide kernels on an AVX-512 host\n"
           "  HAM_VECMATH=libmvec    call glibc's vector exp/log/tanh instead of the inline ones\n"
           "  HAM_CONTRACT=0         no fused multiply-adds in the kernels\n"
           "  HAM_SCHEDULE=plan      stage kernels' bodies in the derivation's order, not scheduled to keep\n"
           "                         few values live (the same results; for comparisons)\n"
           "  HAM_CODEGEN_LEVEL=0-3  the LLVM code generator's optimization level (default 3)\n"
           "  HAM_PASSES=PIPELINE    the LLVM IR pass pipeline, in opt's syntax\n"
           "  HAM_LLVM_ARGS=\"...\"    LLVM's own command-line options (e.g. -enable-misched=false)\n"
           "  HAM_PERF_JIT=1         report the JIT's kernels to perf: a jitdump under $JITDUMPDIR/.debug/jit\n"
           "                         for `perf record -k 1` and `perf inject --jit`\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "tasks") == 0 || strcmp(argv[1], "task") == 0) {
            print_tasks();
            return 0;
        }
        if (strcmp(argv[1], "env") == 0) {
            print_env();
            return 0;
        }
        for (int i = 0; i < NCOMMANDS; i++) {
            if (strcmp(commands[i].name, argv[1]) == 0) {
                printf("usage: %s\n  %s\n", commands[i].usage, commands[i].summary);
                if (commands[i].run == cmd_run || commands[i].run == cmd_train) print_tasks();
                return 0;
            }
        }
        fprintf(stderr, "hamc: no command '%s'\n", argv[1]);
        return 2;
    }
    printf("hamc %s: a compiler for learned port-Hamiltonian optimizers\n\ncommands:\n",
           HAMC_VERSION);
    for (int i = 0; i < NCOMMANDS; i++) printf("  %-10s %.*s\n", commands[i].name,
                                               (int)strcspn(commands[i].summary, "\n"), commands[i].summary);
    char names[256];
    task_names(names, sizeof names);
    printf("\ntasks: %s ('hamc help tasks' shows their options)\n", names);
    printf("\n'hamc help COMMAND' shows a command's options, 'hamc help env' the environment variables.\n"
           "exit status: 0 ok, 1 errors in the input, 2 bad usage\n");
    return 0;
}

/* dispatch: the command's exit status. */
static int dispatch(int argc, char **argv)
{
    if (argc < 2) return repl_command(1, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return cmd_help(1, argv);
    if (strcmp(argv[1], "--version") == 0) {
        const char *chosen = ham_blas_chosen(), *user = getenv("OPENBLAS_CORETYPE");
        const char *ours = ham_blas_overridden();   // the user's choice stands, but can cost 1.5x (README)
        printf("hamc %s\n%s; %s kernels, %s", HAMC_VERSION, openblas_get_config(), openblas_get_corename(),
               chosen ? "chosen by hamc from the CPU's features" : user ? "as OPENBLAS_CORETYPE says"
                                                                 : "OpenBLAS's own choice");
        if (ours) printf(" (unset, hamc would choose %s here)", ours);
        printf("\n");
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, argv[1]) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hamc: unknown command '%s' (see 'hamc help')\n", argv[1]);
    return 2;
}

/* Output lost to a full disk or a closed pipe must not pass for success: stdout is
 * flushed here, and a failed write (now or earlier) is an error. */
int main(int argc, char **argv)
{
    int status = dispatch(argc, argv);
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hamc: error: cannot write the standard output%s%s\n", errno ? ": " : " (output was lost)",
                errno ? strerror(errno) : "");
        if (status == 0) status = 1;
    }
    return status;
}
