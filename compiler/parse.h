/* parse.h: from source text to a Module (grammar/ham.l and grammar/ham.y behind it).
 *
 * The parser is pure and reentrant: all its state is a ParseCtx, so the REPL can parse
 * entry after entry in one process.  Syntax errors go to the Diag and parsing goes on
 * at the next declaration; the Module returned holds everything that parsed. */
#ifndef HAM_PARSE_H
#define HAM_PARSE_H

#include "ast.h"

/* Brackets open at a point of the input; for "to close '{' at 3:20" and for the REPL's
 * "this entry is incomplete, read another line". */
#define PARSE_MAX_NESTING 256   // deeper nesting is refused: it only serves to blow stacks

typedef struct ParseCtx {
    Arena *arena;
    Diag *diag;
    int file;
    const char *text;
    int len;
    PtrVec items;           // TopItem* in order
    PtrVec comments;        // Comment*
    int depth;              // brackets open now
    char open_char[PARSE_MAX_NESTING];
    SrcLoc open_loc[PARSE_MAX_NESTING];
    int close_mismatch;     // the last closer: 0 matched the innermost bracket, 1 closed
                            // an outer one past unclosed ones, -1 closed nothing
    char unclosed_char;     // when 1: the innermost bracket it left unclosed
    SrcLoc unclosed_loc;
    int eof_error;          // a syntax error hit end of input (incomplete entry)
    int lex_pos;            // the scanner's byte offset
    int errors_before;      // diag->nerrors when parsing began
} ParseCtx;

/* parse_module: parse source file number `file` of the Diag.  Never NULL. */
Module *parse_module(Arena *a, Diag *d, int file, int *incomplete);

/* Entry points for the parser's actions, so each action is one call. */
Decl *parse_new_decl(ParseCtx *p, DeclKind kind, SrcLoc loc, const char *name, SrcLoc name_loc);
void parse_add_top(ParseCtx *p, TopKind kind, void *item);
Def *parse_new_def(ParseCtx *p, SrcLoc loc, const char *name, SrcLoc name_loc, PtrVec params,
                   Expr *body);
Optimizer *parse_new_optimizer(ParseCtx *p, SrcLoc loc, const char *name, SrcLoc name_loc,
                               PtrVec decls, SrcLoc close);
Import *parse_new_import(ParseCtx *p, SrcLoc loc, const char *path, SrcLoc path_loc);
void parse_set_dims(ParseCtx *p, Decl *d, PtrVec dims);
void parse_set_args(ParseCtx *p, Decl *d, PtrVec args);
NamedArg *parse_named_arg(ParseCtx *p, SrcLoc loc, const char *name, Expr *value);
PtrVec parse_vec1(ParseCtx *p, void *item);
PtrVec parse_vec_push(ParseCtx *p, PtrVec v, void *item);
PtrVec parse_mark_continued(PtrVec decls);
PtrVec *parse_row(ParseCtx *p, PtrVec row);

#endif
