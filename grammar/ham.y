/* ham.y: the grammar of the .ham language (bison, pure, with locations).
 *
 * A file is a sequence of `import`, `def` and `optimizer` items.  Inside an optimizer
 * every declaration begins with a keyword, so declarations need no separator: a
 * newline is only whitespace, and a ';' between declarations is allowed.  That same
 * fact makes error recovery simple: after a syntax error the parser skips to the next
 * keyword that can begin a declaration (the `error` rules below).
 *
 * Actions are one call each into parse.c or ast.c.  All values live in the arena of
 * the compilation, so nothing needs a %destructor when recovery drops it.
 *
 * Precedence, loosest first:
 *     if-then-else < or < and < not < comparisons < + - < * / @ < unary - < ^ < call, index
 * so -x^2 is -(x^2), and `if c then a else b + 1` takes b + 1 as the else branch. */

%define api.pure full
%define api.location.type {SrcLoc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {void *scanner}
%parse-param {ParseCtx *p}

%code requires {
#include "parse.h"
}

%code provides {
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                             \
    do {                                                                        \
        if (N) {                                                                \
            (Cur).file = YYRHSLOC(Rhs, 1).file;                                 \
            (Cur).off = YYRHSLOC(Rhs, 1).off;                                   \
            (Cur).len = YYRHSLOC(Rhs, N).off + YYRHSLOC(Rhs, N).len - (Cur).off; \
        } else {                                                                \
            (Cur).file = YYRHSLOC(Rhs, 0).file;                                 \
            (Cur).off = YYRHSLOC(Rhs, 0).off + YYRHSLOC(Rhs, 0).len;            \
            (Cur).len = 0;                                                      \
        }                                                                       \
    } while (0)
}

%code {
#include <string.h>

#include "ham.lex.h"
#define A (p->arena)
static void yyerror(SrcLoc *loc, void *scanner, ParseCtx *p, const char *msg);
static void hint_keyword(ParseCtx *p, SrcLoc loc, const yysymbol_kind_t *expected, int n);
}

%union {
    const char *str;
    Expr *expr;
    PtrVec vec;
    Decl *decl;
    NamedArg *narg;
}

%token END 0            "end of file"
%token <str> IDENT      "identifier"
%token <str> PRIMED     "primed name"
%token <str> NUMBER     "number"
%token <str> STRING     "string"
%token IMPORT "import" DEF "def" OPTIMIZER "optimizer"
%token HYPER "hyper" INPUT "input" STATE "state" PARAM "param" LET "let"
%token HAMILTONIAN "hamiltonian" STRUCTURE "structure" DISSIPATION "dissipation"
%token PORT "port" INTEGRATOR "integrator" NEXT "next" UPDATE "update"
%token IF "if" THEN "then" ELSE "else" AND "and" OR "or" NOT "not"
%token LE "<=" GE ">=" EQ "==" NE "!="

%precedence ELSE
%left OR
%left AND
%precedence NOT
%nonassoc '<' '>' LE GE EQ NE
%left '+' '-'
%left '*' '/' '@'
%precedence UMINUS
%right '^'

%type <expr> expr primary matrix dist
%type <vec> args expr_list rows row idents idents_opt decls decl_stmt
%type <vec> hyper_list input_list state_list param_list named_args named_args_opt
%type <decl> hyper_item input_item state_item param_item
%type <narg> named_arg

%%

file
    : %empty
    | file item
    | file ';'
    ;

item
    : "import" STRING                { parse_new_import(p, @$, $2, @2); }
    | "import" IDENT                 { parse_new_import(p, @$, $2, @2); }
    | "def" IDENT '(' idents_opt ')' '=' expr
                                     { parse_new_def(p, @$, $2, @2, $4, $7); }
    | "optimizer" IDENT '{' decls '}'
                                     { parse_new_optimizer(p, @$, $2, @2, $4, @5); }
    | error                          { }
    ;

idents_opt
    : %empty                         { $$ = (PtrVec){0}; }
    | idents
    ;

idents
    : IDENT                          { $$ = parse_vec1(p, parse_named_arg(p, @1, $1, NULL)); }
    | idents ',' IDENT               { $$ = parse_vec_push(p, $1, parse_named_arg(p, @3, $3, NULL)); }
    ;

decls
    : %empty                         { $$ = (PtrVec){0}; }
    | decls decl_stmt                { $$ = $1; for (int i = 0; i < $2.n; i++) ptrvec_push(A, &$$, $2.items[i]); }
    | decls ';'                      { $$ = $1; }
    ;

decl_stmt
    : "hyper" hyper_list             { $$ = parse_mark_continued($2); }
    | "input" input_list             { $$ = parse_mark_continued($2); }
    | "state" state_list             { $$ = parse_mark_continued($2); }
    | "param" param_list             { $$ = parse_mark_continued($2); }
    | "let" IDENT '=' expr
        { Decl *d = parse_new_decl(p, DECL_LET, @$, $2, @2); d->value = $4; $$ = parse_vec1(p, d); }
    | "hamiltonian" IDENT '=' expr
        { Decl *d = parse_new_decl(p, DECL_HAMILTONIAN, @$, $2, @2); d->value = $4; $$ = parse_vec1(p, d); }
    | "structure" IDENT '=' expr
        { Decl *d = parse_new_decl(p, DECL_STRUCTURE, @$, $2, @2); d->value = $4; $$ = parse_vec1(p, d); }
    | "dissipation" IDENT '=' expr
        { Decl *d = parse_new_decl(p, DECL_DISSIPATION, @$, $2, @2); d->value = $4; $$ = parse_vec1(p, d); }
    | "port" IDENT '=' expr
        { Decl *d = parse_new_decl(p, DECL_PORT, @$, $2, @2); d->value = $4; $$ = parse_vec1(p, d); }
    | "port" IDENT '=' expr ',' expr
        { Decl *d = parse_new_decl(p, DECL_PORT, @$, $2, @2); d->value = $4; d->port_input = $6; $$ = parse_vec1(p, d); }
    | "integrator" IDENT named_args_opt
        { Decl *d = parse_new_decl(p, DECL_INTEGRATOR, @$, $2, @2); parse_set_args(p, d, $3); $$ = parse_vec1(p, d); }
    | "next" IDENT '=' expr
        { Decl *d = parse_new_decl(p, DECL_NEXT, @$, $2, @2); d->value = $4; $$ = parse_vec1(p, d); }
    | "update" '=' expr
        { Decl *d = parse_new_decl(p, DECL_UPDATE, @$, NULL, @1); d->value = $3; $$ = parse_vec1(p, d); }
    | error                          { $$ = (PtrVec){0}; }
    ;

hyper_list
    : hyper_item                     { $$ = parse_vec1(p, $1); }
    | hyper_list ',' hyper_item      { $$ = parse_vec_push(p, $1, $3); }
    ;

hyper_item
    : IDENT '=' expr                 { $$ = parse_new_decl(p, DECL_HYPER, @$, $1, @1); $$->value = $3; }
    ;

input_list
    : input_item                     { $$ = parse_vec1(p, $1); }
    | input_list ',' input_item      { $$ = parse_vec_push(p, $1, $3); }
    ;

input_item
    : IDENT                          { $$ = parse_new_decl(p, DECL_INPUT, @$, $1, @1); }
    ;

state_list
    : state_item                     { $$ = parse_vec1(p, $1); }
    | state_list ',' state_item      { $$ = parse_vec_push(p, $1, $3); }
    ;

state_item
    : IDENT                          { $$ = parse_new_decl(p, DECL_STATE, @$, $1, @1); }
    | IDENT '=' expr                 { $$ = parse_new_decl(p, DECL_STATE, @$, $1, @1); $$->value = $3; }
    | IDENT '[' expr_list ']'        { $$ = parse_new_decl(p, DECL_STATE, @$, $1, @1); parse_set_dims(p, $$, $3); }
    | IDENT '[' expr_list ']' '=' expr
        { $$ = parse_new_decl(p, DECL_STATE, @$, $1, @1); parse_set_dims(p, $$, $3); $$->value = $6; }
    ;

param_list
    : param_item                     { $$ = parse_vec1(p, $1); }
    | param_list ',' param_item      { $$ = parse_vec_push(p, $1, $3); }
    ;

param_item
    : IDENT '=' expr                 { $$ = parse_new_decl(p, DECL_PARAM, @$, $1, @1); $$->value = $3; }
    | IDENT '~' dist                 { $$ = parse_new_decl(p, DECL_PARAM, @$, $1, @1); $$->dist = $3; }
    | IDENT '[' expr_list ']' '=' expr
        { $$ = parse_new_decl(p, DECL_PARAM, @$, $1, @1); parse_set_dims(p, $$, $3); $$->value = $6; }
    | IDENT '[' expr_list ']' '~' dist
        { $$ = parse_new_decl(p, DECL_PARAM, @$, $1, @1); parse_set_dims(p, $$, $3); $$->dist = $6; }
    ;

dist
    : IDENT '(' args ')'             { $$ = ast_call(A, @$, $1, @1, $3); }
    ;

named_args_opt
    : %empty                         { $$ = (PtrVec){0}; }
    | '(' ')'                        { $$ = (PtrVec){0}; }
    | '(' named_args ')'             { $$ = $2; }
    ;

named_args
    : named_arg                      { $$ = parse_vec1(p, $1); }
    | named_args ',' named_arg       { $$ = parse_vec_push(p, $1, $3); }
    ;

named_arg
    : IDENT '=' expr                 { $$ = parse_named_arg(p, @$, $1, $3); }
    ;

expr
    : primary
    | '-' expr %prec UMINUS          { $$ = ast_unary(A, @$, AOP_MINUS, $2); }
    | "not" expr                     { $$ = ast_unary(A, @$, AOP_NOT, $2); }
    | expr '+' expr                  { $$ = ast_binary(A, @$, AOP_PLUS, $1, $3); }
    | expr '-' expr                  { $$ = ast_binary(A, @$, AOP_MINUS, $1, $3); }
    | expr '*' expr                  { $$ = ast_binary(A, @$, AOP_TIMES, $1, $3); }
    | expr '/' expr                  { $$ = ast_binary(A, @$, AOP_DIVIDE, $1, $3); }
    | expr '@' expr                  { $$ = ast_binary(A, @$, AOP_MATMUL, $1, $3); }
    | expr '^' expr                  { $$ = ast_binary(A, @$, AOP_POWER, $1, $3); }
    | expr '<' expr                  { $$ = ast_binary(A, @$, AOP_LESS, $1, $3); }
    | expr '>' expr                  { $$ = ast_binary(A, @$, AOP_GREATER, $1, $3); }
    | expr "<=" expr                 { $$ = ast_binary(A, @$, AOP_LESS_EQ, $1, $3); }
    | expr ">=" expr                 { $$ = ast_binary(A, @$, AOP_GREATER_EQ, $1, $3); }
    | expr "==" expr                 { $$ = ast_binary(A, @$, AOP_EQUAL, $1, $3); }
    | expr "!=" expr                 { $$ = ast_binary(A, @$, AOP_NOT_EQUAL, $1, $3); }
    | expr "and" expr                { $$ = ast_binary(A, @$, AOP_AND, $1, $3); }
    | expr "or" expr                 { $$ = ast_binary(A, @$, AOP_OR, $1, $3); }
    | "if" expr "then" expr "else" expr
                                     { $$ = ast_cond(A, @$, $2, $4, $6); }
    ;

primary
    : NUMBER                         { $$ = ast_num(A, @$, $1); }
    | IDENT                          { $$ = ast_name(A, @$, EX_NAME, $1); }
    | PRIMED                         { $$ = ast_name(A, @$, EX_PRIME, $1); }
    | IDENT '(' ')'                  { $$ = ast_call(A, @$, $1, @1, (PtrVec){0}); }
    | IDENT '(' args ')'             { $$ = ast_call(A, @$, $1, @1, $3); }
    | '(' expr ')'                   { $$ = $2; }
    | matrix
    | primary '[' expr_list ']'      { $$ = ast_index(A, @$, $1, $3); }
    ;

matrix
    : '[' rows ']'                   { $$ = ast_matrix(A, @$, $2); }
    ;

rows
    : row                            { $$ = parse_vec1(p, parse_row(p, $1)); }
    | rows ';' row                   { $$ = parse_vec_push(p, $1, parse_row(p, $3)); }
    ;

row
    : expr_list
    ;

args
    : expr_list
    ;

expr_list
    : expr                           { $$ = parse_vec1(p, $1); }
    | expr_list ',' expr             { $$ = parse_vec_push(p, $1, $3); }
    ;

%%

/* token_text: how a token kind reads in a message: keywords and punctuation quoted
 * ('import', '='), classes of tokens bare (identifier, number, end of file). */
static const char *token_text(yysymbol_kind_t sym, char *buf, size_t size)
{
    const char *name = yysymbol_name(sym);
    if (name[0] == '\'' || sym == YYSYMBOL_IDENT || sym == YYSYMBOL_NUMBER ||
        sym == YYSYMBOL_STRING || sym == YYSYMBOL_PRIMED || sym == YYSYMBOL_YYEOF ||
        sym == YYSYMBOL_YYUNDEF || sym == YYSYMBOL_YYerror)
        return name;
    snprintf(buf, size, "'%s'", name);
    return buf;
}

/* Kinds of expected tokens, for summarizing an expected set (below). */
static int is_char_token(yysymbol_kind_t sym, const char *chars)
{
    const char *name = yysymbol_name(sym);
    return name[0] == '\'' && name[1] && name[2] == '\'' && strchr(chars, name[1]);
}

static int starts_expr(yysymbol_kind_t sym)
{
    return sym == YYSYMBOL_IDENT || sym == YYSYMBOL_NUMBER || sym == YYSYMBOL_PRIMED ||
           sym == YYSYMBOL_IF || sym == YYSYMBOL_NOT || is_char_token(sym, "([-");
}

static int continues_expr(yysymbol_kind_t sym)
{
    return sym == YYSYMBOL_AND || sym == YYSYMBOL_OR || (sym >= YYSYMBOL_LE && sym <= YYSYMBOL_NE) ||
           is_char_token(sym, "<>+-*/@^[(");   // '(': a name before it may be called
}

static int has_token(const yysymbol_kind_t *set, int n, yysymbol_kind_t sym)
{
    for (int i = 0; i < n; i++)
        if (set[i] == sym) return 1;
    return 0;
}

static int has_char_token(const yysymbol_kind_t *set, int n, char c)
{
    char s[2] = {c, 0};
    for (int i = 0; i < n; i++)
        if (is_char_token(set[i], s)) return 1;
    return 0;
}

/* summarize_expected: the expected set as a short list of phrases.  Raw sets are long:
 * the tokens that can start an expression read as "an expression"; after a complete
 * expression the binary operators that could continue it are left out (they are
 * never what is missing); the declaration keywords read as "a declaration"; the
 * optional ';' and the end of file are left out when anything else would do. */
static int summarize_expected(const yysymbol_kind_t *set, int n, const char **out,
                              char (*bufs)[24])
{
    int expr_ok = has_token(set, n, YYSYMBOL_NUMBER), after_expr = has_char_token(set, n, '*');
    int said_expr = 0, said_decl = 0, m = 0;
    for (int i = 0; i < n; i++) {
        yysymbol_kind_t sym = set[i];
        if (expr_ok && starts_expr(sym)) {
            if (!said_expr++) out[m++] = "an expression";
        } else if (after_expr && continues_expr(sym)) {
            continue;
        } else if (sym >= YYSYMBOL_HYPER && sym <= YYSYMBOL_UPDATE) {
            if (!said_decl++) out[m++] = "a declaration";
        } else if (n > 1 && (sym == YYSYMBOL_YYEOF || is_char_token(sym, ";"))) {
            continue;
        } else {
            out[m] = token_text(sym, bufs[m], sizeof bufs[m]);
            m++;
        }
    }
    return m;
}

static char closer_of(char open)
{
    return open == '(' ? ')' : open == '[' ? ']' : '}';
}

/* Custom syntax-error report: "unexpected X, expected A, B or C".  When X is a closing
 * bracket that skips an unclosed one, or the end of file with a bracket open, the
 * message names the bracket to close and where it opened (Lua's check_match).  Lists
 * longer than five items are not printed: they help nobody. */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, ParseCtx *p)
{
    (void)scanner;
    enum { MAX_LISTED = 5 };
    yysymbol_kind_t expected[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
    const char *items[YYNTOKENS];
    char bufs[YYNTOKENS][24];
    int m = summarize_expected(expected, n > 0 ? n : 0, items, bufs);
    yysymbol_kind_t got = yypcontext_token(ctx);
    SrcLoc loc = *yypcontext_location(ctx);
    char buf[512], tok[64];
    int k = snprintf(buf, sizeof buf, "unexpected %s", token_text(got, tok, sizeof tok));
    if (got == YYSYMBOL_IDENT || got == YYSYMBOL_NUMBER || got == YYSYMBOL_PRIMED)
        k += snprintf(buf + k, sizeof buf - (size_t)k, " '%.*s'",
                      loc.len < 40 ? loc.len : 40, p->text + loc.off);
    int is_closer = is_char_token(got, ")]}");
    char open = 0;
    SrcLoc open_loc = loc;
    if (is_closer && p->close_mismatch > 0) {
        open = p->unclosed_char;
        open_loc = p->unclosed_loc;
    } else if (got == YYSYMBOL_YYEOF && p->depth > 0) {
        int top = (p->depth < PARSE_MAX_NESTING ? p->depth : PARSE_MAX_NESTING) - 1;
        open = p->open_char[top];
        open_loc = p->open_loc[top];
    }
    int line = 0, col = 0;
    if (open) diag_line_col(p->diag, open_loc, &line, &col);
    if (is_closer && p->close_mismatch < 0) {   // a stray closer: the list would mislead
        snprintf(buf + k, sizeof buf - (size_t)k, ": no '%c' is open",
                 yysymbol_name(got)[1] == ')' ? '(' : yysymbol_name(got)[1] == ']' ? '[' : '{');
    } else if (open && has_char_token(expected, n, closer_of(open))) {
        k += snprintf(buf + k, sizeof buf - (size_t)k, ", expected '%c' to close '%c' at %d:%d",
                      closer_of(open), open, line, col);
    } else {
        for (int i = 0; m <= MAX_LISTED && i < m; i++)
            k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%s",
                          i == 0 ? ", expected " : i == m - 1 ? " or " : ", ", items[i]);
        if (open)
            snprintf(buf + k, sizeof buf - (size_t)k, " ('%c' at %d:%d is still open)", open,
                     line, col);
    }
    if (got == YYSYMBOL_YYEOF) p->eof_error = 1;
    diag_error(p->diag, loc, "%s", buf);
    if (got >= YYSYMBOL_HYPER && got <= YYSYMBOL_UPDATE && has_token(expected, n, YYSYMBOL_OPTIMIZER))
        diag_hint(p->diag, "declarations go inside 'optimizer NAME { ... }'");
    else if (got >= YYSYMBOL_IMPORT && got <= YYSYMBOL_NOT && has_token(expected, n, YYSYMBOL_IDENT) &&
             !has_token(expected, n, YYSYMBOL_NUMBER))
        diag_hint(p->diag, "'%s' is a keyword and cannot be a name", yysymbol_name(got));
    else if (got == YYSYMBOL_IDENT)
        hint_keyword(p, loc, expected, n);
    return 0;
}

/* hint_keyword: a name where a keyword was expected may be a misspelled one
 * ("hamiltonain H = ...", "if c than a else b"): say which. */
static void hint_keyword(ParseCtx *p, SrcLoc loc, const yysymbol_kind_t *expected, int n)
{
    const char *keywords[YYNTOKENS];
    char word[48];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (expected[i] >= YYSYMBOL_IMPORT && expected[i] <= YYSYMBOL_NOT)
            keywords[k++] = yysymbol_name(expected[i]);
    if (k == 0 || loc.len <= 0 || loc.len >= (int)sizeof word) return;
    memcpy(word, p->text + loc.off, (size_t)loc.len);
    word[loc.len] = 0;
    const char *near = closest_name(word, keywords, k);
    if (near) diag_hint(p->diag, "did you mean '%s'?", near);
}

/* yyerror: bison calls it only for internal failures (stack exhaustion). */
static void yyerror(SrcLoc *loc, void *scanner, ParseCtx *p, const char *msg)
{
    (void)scanner;
    if (strcmp(msg, "memory exhausted") == 0)   // the stack is YYMAXDEPTH deep: nesting
        diag_error(p->diag, *loc, "nested too deeply to parse (more than %d levels)", YYMAXDEPTH);
    else
        diag_error(p->diag, *loc, "%s", msg);
}
