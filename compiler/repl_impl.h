/* repl_impl.h: between the REPL's reader (repl.c: lines, readline, completion) and its
 * command language (repl_cmd.c: the session, its definitions and experiments).
 *
 * Ownership: a ReplSession owns everything it holds (entries, compiled kernels, params,
 * the last results); repl_session_free releases all of it.  Strings passed in are
 * copied; names handed to a ReplNameFn live only for the call. */
#ifndef HAM_REPL_IMPL_H
#define HAM_REPL_IMPL_H

#include <stddef.h>

typedef struct ReplSession ReplSession;

/* What an entry did: go on, it failed (already reported), or `quit`. */
typedef enum { REPL_OK, REPL_ERROR, REPL_QUIT } ReplStatus;

ReplSession *repl_session_new(int interactive);
void repl_session_free(ReplSession *s);

/* repl_session_restrict: from now on refuse, with a one-line error, the commands that
 * run long jobs or read or write files (run, compare, train, plot, table, save, load,
 * load-params, emit-c), leaving definitions, set, show, derive, list, task, copy, help:
 * what the fuzz target tests/fuzz/fuzz_script.c exercises. */
void repl_session_restrict(ReplSession *s);

/* repl_session_locate: the next entry comes from `file`, starting at `line` (from 1):
 * its errors read `file:line: error: ...`, and a definition's diagnostics point into
 * the file. */
void repl_session_locate(ReplSession *s, const char *file, int line);

/* repl_session_check: check mode (`hamc run-script --check`): every command checks its
 * arguments, names and files and runs nothing; definitions, load and copy are done.
 * The files that `before`'s commands would have written (NULL: none) count as there. */
void repl_session_check(ReplSession *s, const ReplSession *before);

/* repl_script_text: run the len bytes at text as a script (`hamc run-script`, with
 * --keep-going) in a fresh session, restricted if asked.  Returns the number of failed
 * entries.  Output goes to stdout and stderr as in a script. */
int repl_script_text(const char *text, size_t len, int restricted);

/* repl_exec: one complete entry, a command line or definitions (possibly several
 * lines).  Errors are printed (diagnostics, or one line) and leave the session as it
 * was. */
ReplStatus repl_exec(ReplSession *s, const char *entry);

/* repl_incomplete: 1 when entry is a definition that ended inside a construct (an open
 * brace or bracket, a trailing operator): the reader should read another line. */
int repl_incomplete(const char *entry);

/* Names for tab completion. */
typedef enum {
    REPL_NAMES_COMMANDS,    // the command words
    REPL_NAMES_OPTIMIZERS,  // session, imported and stdlib optimizers
    REPL_NAMES_HYPERS,      // the hypers of optimizer `opt`
    REPL_NAMES_TASKS,       // the registry's task names; with opt = a task's name, its key= options
    REPL_NAMES_OPTIONS,     // the key= options of command `opt`
} ReplNames;
typedef void ReplNameFn(void *ctx, const char *name);
void repl_names(ReplSession *s, ReplNames what, const char *opt, ReplNameFn *add, void *ctx);

/* How the first word of a line is completed further: what the later words name. */
typedef enum { REPL_ARG_NONE, REPL_ARG_OPT, REPL_ARG_FILE, REPL_ARG_TASK, REPL_ARG_COMMAND } ReplArg;
/* repl_arg_kind: what word number `index` (1 = first after the command) of `cmd` is. */
ReplArg repl_arg_kind(const char *cmd, int index);

/* The SIGINT flag of the REPL reader (set while a command runs, too). */
extern volatile int repl_sigint;

#endif
