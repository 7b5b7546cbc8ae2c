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
#include "ham.lex.h"
#define A (p->arena)
static void yyerror(SrcLoc *loc, void *scanner, ParseCtx *p, const char *msg);
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
    : "import" STRING                { parse_new_import(p, @$, $2); }
    | "import" IDENT                 { parse_new_import(p, @$, $2); }
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

/* Custom syntax-error report: "unexpected X, expected A, B or C", plus the bracket
 * that an end of input leaves open.  Expected tokens past five are not listed: a
 * long list helps nobody. */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, ParseCtx *p)
{
    enum { MAX_EXPECTED = 5 };
    yysymbol_kind_t expected[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(ctx, expected, MAX_EXPECTED);
    yysymbol_kind_t got = yypcontext_token(ctx);
    SrcLoc loc = *yypcontext_location(ctx);
    char buf[512], tok[64];
    int k = snprintf(buf, sizeof buf, "unexpected %s", token_text(got, tok, sizeof tok));
    if (got == YYSYMBOL_IDENT || got == YYSYMBOL_NUMBER || got == YYSYMBOL_PRIMED)
        k += snprintf(buf + k, sizeof buf - (size_t)k, " '%.*s'",
                      loc.len < 40 ? loc.len : 40, p->text + loc.off);
    for (int i = 0; i < n && k < (int)sizeof buf - 128; i++)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%s",
                      i == 0 ? ", expected " : i == n - 1 ? " or " : ", ",
                      token_text(expected[i], tok, sizeof tok));
    if (got == YYSYMBOL_YYEOF) {
        p->eof_error = 1;
        if (p->depth > 0) {
            int line, col;
            diag_line_col(p->diag, p->open_loc[p->depth - 1], &line, &col);
            snprintf(buf + k, sizeof buf - (size_t)k, " (to close '%c' at %d:%d)",
                     p->open_char[p->depth - 1], line, col);
        }
    }
    diag_error(p->diag, loc, "%s", buf);
    return 0;
}

/* yyerror: bison calls it only for internal failures (stack exhaustion). */
static void yyerror(SrcLoc *loc, void *scanner, ParseCtx *p, const char *msg)
{
    diag_error(p->diag, *loc, "%s", msg);
}
