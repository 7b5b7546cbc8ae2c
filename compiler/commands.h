/* commands.h: the hamc commands that run optimizers (cmd_runtime.c); main.c holds
 * the table of all commands. */
#ifndef HAM_COMMANDS_H
#define HAM_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);

/* The flag set by SIGINT while a run or a training is going on. */
extern volatile int ham_interrupted;
void ham_catch_interrupt(int on);

/* Shared with the REPL (repl_cmd.c), so that it reads tasks, initializes params and
 * prints results exactly as `hamc run` and `hamc train` do. */
struct TaskConfig;
struct HamKernelInfo;
struct Compiled;
struct EvalResult;
/* cmd_parse_task: "mnist activation=relu hidden=40" -> *t; -1 with a reason in err. */
int cmd_parse_task(const char *text, struct TaskConfig *t, char *err, size_t errlen);
/* cmd_setup_params: params[info->nparam] from the initializers, draws seeded by seed. */
void cmd_setup_params(const struct HamKernelInfo *info, uint64_t seed, double *params);
/* cmd_load_params: the best (else last) params of a checkpoint made for c's kernel. */
int cmd_load_params(const char *path, const struct Compiled *c, double *params, char *err, size_t errlen);
/* cmd_usage: "hamc CMD: <fmt with arg> (see 'hamc help CMD')" on one line of stderr;
 * returns 2, the exit status of bad usage. */
int cmd_usage(const char *cmd, const char *fmt, const char *arg);
/* cmd_print_table: `hamc run`'s table: loss at 0, 1/4, 1/2, 3/4 and all steps, the final
 * loss with its 95% interval, the mean over steps, and the test set when measured. */
void cmd_print_table(const struct EvalResult *r);
/* cmd_print_eval_warnings: to stderr, prefixed by who ("hamc run: "), the runs whose task
 * gave a non-finite gradient (where: run, step, task, coordinates) and the runs that
 * ended with NaN/Inf in the optimizer's state. */
void cmd_print_eval_warnings(const char *who, const struct EvalResult *r, const char *task);

#endif
