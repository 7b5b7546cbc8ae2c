/* repl.h: the interactive ham session (`hamc`, `hamc repl`) and its scripts
 * (`hamc run-script FILE`).
 *
 * A session holds definitions (optimizers, defs, imports), typed in or loaded from
 * files, and runs experiments on them: run, compare, train, plot.  On a terminal it
 * reads with GNU readline (editing, history in ~/.ham_history or $HAM_HISTORY, tab
 * completion); otherwise it reads plain lines, so the same command language serves
 * scripts (examples/NAME.repl, and the experiments in examples/experiments/).  `help`
 * inside the session lists the commands. */
#ifndef HAM_REPL_H
#define HAM_REPL_H

/* repl_command: `hamc repl` (argv[0] "repl") and `hamc` alone.  Exit status 0, or 1
 * when stdin is not a terminal and some command failed. */
int repl_command(int argc, char **argv);

/* repl_script_command: `hamc run-script FILE [--keep-going]`: the commands of FILE in
 * one session; stops at the first failing command with status 1 unless --keep-going
 * (then the status is 1 if any failed); errors read `FILE:LINE: error: ...`.
 * `hamc run-script --check FILE...`: runs nothing, but checks every command of each
 * file (in order, in a session each; a file may read what the ones before it write)
 * and reports each bad one; status 1 if any. */
int repl_script_command(int argc, char **argv);

#endif
