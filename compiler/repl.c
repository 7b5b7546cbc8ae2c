/* repl.c: the REPL's reader: lines in, entries out, each handed to repl_exec.
 *
 * On a terminal, lines come from GNU readline through its callback interface, so that
 * a select loop sees SIGINT (Ctrl-C) as EINTR and can drop the line being typed without
 * readline's own handlers (which would re-raise the signal and kill the process):
 *
 *     install the line handler with the prompt -> select on stdin -> feed readline
 *     one char at a time -> the handler receives the line -> remove the handler
 *
 * An entry is one line, or for a definition, as many lines as it takes to be complete
 * (parse.h's `incomplete`: an open brace or bracket, a trailing operator), as Lua's REPL
 * does; the prompt turns from "ham> " to "...> " meanwhile.  History holds whole
 * entries and is appended to the history file after each one.  Completion goes by the
 * position on the line: the command word, then what that command's arguments name
 * (repl_arg_kind), hypers after `set NAME.`, key= options anywhere.
 *
 * Off a terminal, lines are read plainly, with no prompt, so scripts and pipes work.
 * From a script file the reader counts lines, and tells the session where each entry
 * starts (repl_session_locate), for `file:line: error` messages.  `hamc run-script
 * --check FILE...` reads each file in a session in check mode (repl_impl.h), in order,
 * so that a script may read what an earlier one writes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "commands.h"
#include "repl.h"
#include "repl_impl.h"

#define HISTORY_MAX 1000   // entries kept in the history file

static volatile sig_atomic_t winch;

static void on_sigint(int sig)
{
    (void)sig;
    repl_sigint = 1;
    ham_interrupted = 1;   // a run or a training in progress stops at its next check
}

static void on_sigwinch(int sig)
{
    (void)sig;
    winch = 1;
}

/* SIGINT without SA_RESTART: a blocked select or read returns EINTR. */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_sigwinch;
    sigaction(SIGWINCH, &sa, NULL);
}

/* ---- lines ---- */

typedef struct Reader {
    FILE *in;
    int tty;
    ReplSession *session;   // for completion
    int continuing;         // inside a multi-line entry
    const char *path;       // the script file, or NULL (typed or piped)
    int line;               // lines read so far
    int entry_line;         // the line the last entry started at
} Reader;

static Reader *active;      // the reader readline's callbacks serve
static char *got_line;      // the line handler's result
static int got_eof, got_any;

static void line_handler(char *line)
{
    got_any = 1;
    got_eof = line == NULL;
    got_line = line;
    rl_callback_handler_remove();   // restores the terminal; reinstalled per line
}

/* read_line: a malloc'd line without its newline; NULL at end of input, or with
 * *interrupted set when Ctrl-C dropped the line. */
static char *read_line(Reader *r, const char *prompt, int *interrupted)
{
    *interrupted = 0;
    if (!r->tty) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, r->in);
        if (n < 0) {
            free(line);
            *interrupted = repl_sigint;
            return NULL;
        }
        r->line++;
        if (n && line[n - 1] == '\n') line[n - 1] = 0;
        return line;
    }
    got_any = got_eof = 0;
    got_line = NULL;
    rl_callback_handler_install(prompt, line_handler);
    while (!got_any) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fileno(rl_instream), &fds);
        int rc = select(fileno(rl_instream) + 1, &fds, NULL, NULL, NULL);
        if (winch) {
            winch = 0;
            rl_resize_terminal();
        }
        if (repl_sigint) {   // Ctrl-C: drop the line, a fresh prompt
            repl_sigint = 0;
            rl_free_line_state();
            rl_callback_sigcleanup();
            rl_replace_line("", 0);
            rl_callback_handler_remove();
            printf("^C\n");
            *interrupted = 1;
            return NULL;
        }
        if (rc < 0 && errno != EINTR) {
            rl_callback_handler_remove();
            return NULL;
        }
        if (rc > 0) rl_callback_read_char();
    }
    if (got_eof) printf("\n");
    return got_line;
}

/* read_entry: the next complete entry (malloc'd; "" after Ctrl-C), NULL at the end. */
static char *read_entry(Reader *r)
{
    char *entry = NULL;
    size_t len = 0;
    r->continuing = 0;
    r->entry_line = r->line + 1;
    for (;;) {
        int interrupted;
        char *line = read_line(r, r->continuing ? "...> " : "ham> ", &interrupted);
        if (interrupted) {
            free(entry);
            return r->tty ? strdup("") : NULL;
        }
        if (!line) return entry;   // an incomplete entry at the end: let it report
        size_t n = strlen(line);
        entry = realloc(entry, len + n + 2);
        memcpy(entry + len, line, n);
        len += n;
        entry[len++] = '\n';
        entry[len] = 0;
        free(line);
        if (!repl_incomplete(entry)) return entry;
        r->continuing = 1;
    }
}

/* ---- completion ---- */

typedef struct Matches {
    char **v;
    int n, cap;
    const char *prefix;   // prepended to each name ("adam." for hypers)
    const char *text;     // what is being completed
} Matches;

static void add_match(void *ctx, const char *name)
{
    Matches *m = ctx;
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", m->prefix, name);
    if (strncmp(buf, m->text, strlen(m->text)) != 0) return;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->v[i], buf)) return;
    if (m->n + 2 > m->cap) m->v = realloc(m->v, (size_t)(m->cap = 2 * m->cap + 16) * sizeof *m->v);
    m->v[m->n++] = strdup(buf);
}

static Matches pending;   // handed out one by one by the generator

static char *match_generator(const char *text, int state)
{
    (void)text;
    static int next;
    if (state == 0) next = 0;
    return next < pending.n ? pending.v[next++] : NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;   // no file names unless we say so
    ReplSession *s = active->session;
    pending = (Matches){NULL, 0, 0, "", text};
    if (active->continuing) return NULL;
    char cmd[64] = "", arg1[64] = "";
    int index = 0;   // which word is being completed (0: the command)
    for (int i = 0; i < start;) {
        while (i < start && (rl_line_buffer[i] == ' ' || rl_line_buffer[i] == '\t')) i++;
        if (i >= start) break;
        int w = i;
        while (i < start && rl_line_buffer[i] != ' ' && rl_line_buffer[i] != '\t') i++;
        if (index == 0) snprintf(cmd, sizeof cmd, "%.*s", i - w, rl_line_buffer + w);
        if (index == 1) snprintf(arg1, sizeof arg1, "%.*s", i - w, rl_line_buffer + w);
        index++;
    }
    const char *dot = strchr(text, '.');
    if (index == 0) {
        repl_names(s, REPL_NAMES_COMMANDS, NULL, add_match, &pending);
    } else if (!strcmp(cmd, "set") && index == 1 && dot) {
        char opt[256];
        snprintf(opt, sizeof opt, "%.*s", (int)(dot - text), text);
        char prefix[260];
        snprintf(prefix, sizeof prefix, "%s.", opt);
        pending.prefix = prefix;
        repl_names(s, REPL_NAMES_HYPERS, opt, add_match, &pending);
        pending.prefix = "";
    } else {
        switch (repl_arg_kind(cmd, index)) {
        case REPL_ARG_FILE:
            rl_attempted_completion_over = 0;   // readline's file names
            return NULL;
        case REPL_ARG_OPT: repl_names(s, REPL_NAMES_OPTIMIZERS, NULL, add_match, &pending); break;
        case REPL_ARG_TASK:   // the task's name, then its options
            repl_names(s, REPL_NAMES_TASKS, index == 1 ? NULL : arg1, add_match, &pending);
            break;
        case REPL_ARG_COMMAND: repl_names(s, REPL_NAMES_COMMANDS, NULL, add_match, &pending); break;
        case REPL_ARG_NONE: break;
        }
        repl_names(s, REPL_NAMES_OPTIONS, cmd, add_match, &pending);
        if (!strcmp(cmd, "set") && index == 1) {   // "set ad<TAB>" -> "set adam."
            for (int i = 0; i < pending.n; i++) {
                size_t n = strlen(pending.v[i]);
                pending.v[i] = realloc(pending.v[i], n + 2);
                strcpy(pending.v[i] + n, ".");
            }
        }
    }
    int all_open = pending.n > 0;   // key= or NAME.: no space after
    for (int i = 0; i < pending.n; i++) {
        size_t n = strlen(pending.v[i]);
        all_open &= n && (pending.v[i][n - 1] == '=' || pending.v[i][n - 1] == '.');
    }
    if (all_open) rl_completion_suppress_append = 1;
    char **out = pending.n ? rl_completion_matches(text, match_generator) : NULL;
    for (int i = 0; i < pending.n && !out; i++) free(pending.v[i]);   // else readline owns them
    free(pending.v);
    pending.v = NULL;
    return out;
}

/* ---- history ---- */

static char history_path[4096];

static void history_start(void)
{
    const char *env = getenv("HAM_HISTORY"), *home = getenv("HOME");
    if (env && *env) snprintf(history_path, sizeof history_path, "%s", env);
    else if (home && *home) snprintf(history_path, sizeof history_path, "%s/.ham_history", home);
    using_history();
    stifle_history(HISTORY_MAX);
    if (*history_path) read_history(history_path);
}

static void history_add(const char *entry)
{
    size_t n = strlen(entry);
    while (n && (entry[n - 1] == '\n' || entry[n - 1] == ' ')) n--;
    if (!n) return;
    char *e = strndup(entry, n);
    // A multi-line entry goes in as one line (the file keeps one entry a line), unless
    // a comment would then swallow the rest.
    if (!strchr(e, '#'))
        for (char *c = e; *c; c++)
            if (*c == '\n') *c = ' ';
    HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;
    if (!last || strcmp(last->line, e) != 0) {
        add_history(e);
        // Append, so that a crash loses nothing; the first entry creates the file.
        if (*history_path && append_history(1, history_path) != 0) write_history(history_path);
    }
    free(e);
}

/* ---- the loop ---- */

/* Run the entries of r in session s.  Returns the number of failed entries, or -1
 * when stopped (quit, or an error with stop_on_error, or Ctrl-C off a terminal). */
static int run_loop(Reader *r, ReplSession *s, int stop_on_error, int *quit)
{
    int failed = 0;
    *quit = 0;
    for (;;) {
        char *entry = read_entry(r);
        if (!entry) break;
        if (r->path) repl_session_locate(s, r->path, r->entry_line);
        if (r->tty) history_add(entry);
        repl_sigint = ham_interrupted = 0;
        ReplStatus st = repl_exec(s, entry);
        free(entry);
        fflush(stdout);
        if (st == REPL_QUIT) {
            *quit = 1;
            break;
        }
        if (st == REPL_ERROR) failed++;
        if (st == REPL_ERROR && stop_on_error) break;
        if (repl_sigint && !r->tty) {   // Ctrl-C stops a script
            fprintf(stderr, "interrupted\n");
            failed++;
            break;
        }
        repl_sigint = 0;
    }
    return failed;
}

static int session(FILE *in, const char *path, int tty, int stop_on_error)
{
    catch_signals();
    ReplSession *s = repl_session_new(tty);
    Reader r = {in, tty, s, 0, path, 0, 0};
    active = &r;
    if (tty) {
        rl_readline_name = "ham";
        rl_catch_signals = 0;   // ours: see the top of the file
        rl_catch_sigwinch = 0;
        rl_attempted_completion_function = complete;
        history_start();
        printf("ham repl: type 'help' for the commands, Ctrl-D to leave\n");
    }
    int quit;
    int failed = run_loop(&r, s, stop_on_error, &quit);
    if (tty && *history_path) history_truncate_file(history_path, HISTORY_MAX);
    if (tty) clear_history();
    repl_session_free(s);
    active = NULL;
    return tty ? 0 : failed ? 1 : 0;
}

int repl_command(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "hamc repl: takes no arguments (scripts: hamc run-script FILE)\n");
        return 2;
    }
    return session(stdin, NULL, isatty(0) && isatty(1), 0);
}

int repl_script_text(const char *text, size_t len, int restricted)
{
    FILE *in = fmemopen((void *)text, len, "r");
    if (!in) return 1;
    ReplSession *s = repl_session_new(0);
    if (restricted) repl_session_restrict(s);
    Reader r = {in, 0, s, 0, NULL, 0, 0};
    active = &r;
    int quit;
    int failed = run_loop(&r, s, 0, &quit);
    repl_session_free(s);
    active = NULL;
    fclose(in);
    return failed;
}

/* open_script: path opened for reading, or NULL with the reason printed. */
static FILE *open_script(const char *path)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!in) {
        fprintf(stderr, "hamc run-script: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode)) {   // fopen takes a directory
        fprintf(stderr, "hamc run-script: '%s' is a directory, not a script\n", path);
        if (in != stdin) fclose(in);
        return NULL;
    }
    return in;
}

/* check_scripts: `hamc run-script --check FILE...`: each file in a session in check
 * mode, in order, every error reported; 0 when all are clean, else 1. */
static int check_scripts(int n, char **paths)
{
    ReplSession *before = NULL;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        FILE *in = open_script(paths[i]);
        if (!in) {
            bad = 1;
            continue;
        }
        ReplSession *s = repl_session_new(0);
        repl_session_check(s, before);
        Reader r = {in, 0, s, 0, strcmp(paths[i], "-") ? paths[i] : "<stdin>", 0, 0};
        active = &r;
        int quit, failed = run_loop(&r, s, 0, &quit);
        active = NULL;
        if (in != stdin) fclose(in);
        if (failed) printf("%s: %d error%s\n", paths[i], failed, failed == 1 ? "" : "s");
        else printf("%s: ok (%d lines checked)\n", paths[i], r.line);
        bad |= failed != 0;
        repl_session_free(before);
        before = s;
    }
    repl_session_free(before);
    return bad;
}

int repl_script_command(int argc, char **argv)
{
    char **paths = calloc((size_t)argc, sizeof *paths);
    int npaths = 0, keep_going = 0, check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keep-going")) keep_going = 1;
        else if (!strcmp(argv[i], "--check")) check = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "hamc run-script: unknown option '%s' (see 'hamc help run-script')\n", argv[i]);
            free(paths);
            return 2;
        } else paths[npaths++] = argv[i];
    }
    int rc = 2;
    if (!npaths) fprintf(stderr, "hamc run-script: needs a FILE (see 'hamc help run-script')\n");
    else if (npaths > 1 && !check) fprintf(stderr, "hamc run-script: takes one FILE, got also '%s'\n", paths[1]);
    else if (check) rc = check_scripts(npaths, paths);
    else {
        FILE *in = open_script(paths[0]);
        rc = 1;
        if (in) rc = session(in, strcmp(paths[0], "-") ? paths[0] : NULL, 0, !keep_going);
        if (in && in != stdin) fclose(in);
    }
    free(paths);
    return rc;
}
