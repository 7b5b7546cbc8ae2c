/* parse.c: runs the scanner and parser over one source file and builds its Module.
 *
 * The grammar's actions call the small builders below.  After the parse, every
 * expression tree is checked against PARSE_MAX_HEIGHT: later passes recurse over
 * trees, and a 1 MB chain `a+a+a+...` must be an error message, not a stack overflow. */
#include "parse.h"

#include <string.h>

#include "ham.tab.h"
#include "ham.lex.h"

/* Taller trees are refused.  Real specs are a few dozen levels deep; the limit keeps
 * every recursive pass far inside the default 8 MiB stack. */
#define PARSE_MAX_HEIGHT 2000

Decl *parse_new_decl(ParseCtx *p, DeclKind kind, SrcLoc loc, const char *name, SrcLoc name_loc)
{
    Decl *d = arena_alloc(p->arena, sizeof *d);
    d->kind = kind;
    d->loc = loc;
    d->name = name;
    d->name_loc = name_loc;
    return d;
}

void parse_add_top(ParseCtx *p, TopKind kind, void *item)
{
    TopItem *t = arena_alloc(p->arena, sizeof *t);
    t->kind = kind;
    t->item = item;
    ptrvec_push(p->arena, &p->items, t);
}

Def *parse_new_def(ParseCtx *p, SrcLoc loc, const char *name, SrcLoc name_loc, PtrVec params,
                   Expr *body)
{
    Def *d = arena_alloc(p->arena, sizeof *d);
    d->name = name;
    d->loc = loc;
    d->name_loc = name_loc;
    d->nparams = params.n;
    d->params = arena_alloc(p->arena, (size_t)(params.n + 1) * sizeof *d->params);
    d->param_locs = arena_alloc(p->arena, (size_t)(params.n + 1) * sizeof *d->param_locs);
    for (int i = 0; i < params.n; i++) {
        NamedArg *a = params.items[i];
        d->params[i] = a->name;
        d->param_locs[i] = a->loc;
    }
    d->body = body;
    parse_add_top(p, TOP_DEF, d);
    return d;
}

Optimizer *parse_new_optimizer(ParseCtx *p, SrcLoc loc, const char *name, SrcLoc name_loc,
                               PtrVec decls, SrcLoc close)
{
    Optimizer *o = arena_alloc(p->arena, sizeof *o);
    o->name = name;
    o->loc = loc;
    o->name_loc = name_loc;
    o->close_loc = close;
    o->decls = (Decl **)decls.items;
    o->ndecls = decls.n;
    parse_add_top(p, TOP_OPTIMIZER, o);
    return o;
}

Import *parse_new_import(ParseCtx *p, SrcLoc loc, const char *path, SrcLoc path_loc)
{
    Import *im = arena_alloc(p->arena, sizeof *im);
    im->path = path;
    im->loc = loc;
    im->path_loc = path_loc;
    parse_add_top(p, TOP_IMPORT, im);
    return im;
}

void parse_set_dims(ParseCtx *p, Decl *d, PtrVec dims)
{
    (void)p;
    d->dims = (Expr **)dims.items;
    d->ndims = dims.n;
}

void parse_set_args(ParseCtx *p, Decl *d, PtrVec args)
{
    d->nargs = args.n;
    d->args = arena_alloc(p->arena, (size_t)(args.n + 1) * sizeof *d->args);
    for (int i = 0; i < args.n; i++) d->args[i] = *(NamedArg *)args.items[i];
}

NamedArg *parse_named_arg(ParseCtx *p, SrcLoc loc, const char *name, Expr *value)
{
    NamedArg *a = arena_alloc(p->arena, sizeof *a);
    a->name = name;
    a->loc = loc;
    a->value = value;
    return a;
}

PtrVec parse_vec1(ParseCtx *p, void *item)
{
    PtrVec v = {0};
    ptrvec_push(p->arena, &v, item);
    return v;
}

PtrVec parse_vec_push(ParseCtx *p, PtrVec v, void *item)
{
    ptrvec_push(p->arena, &v, item);
    return v;
}

PtrVec *parse_row(ParseCtx *p, PtrVec row)
{
    PtrVec *r = arena_alloc(p->arena, sizeof *r);
    *r = row;
    return r;
}

/* In `hyper a = 1, b = 2` the second declaration is marked as continuing the list,
 * so that `hamc fmt` writes it back the way it was grouped. */
PtrVec parse_mark_continued(PtrVec decls)
{
    for (int i = 1; i < decls.n; i++) ((Decl *)decls.items[i])->continued = 1;
    return decls;
}

/* Refuse (and drop) a tree taller than the passes can walk. */
static Expr *check_height(ParseCtx *p, Expr *e)
{
    if (!e || e->height <= PARSE_MAX_HEIGHT) return e;
    diag_error(p->diag, (SrcLoc){e->loc.file, e->loc.off, 1},
               "expression nested more than %d levels deep", PARSE_MAX_HEIGHT);
    diag_hint(p->diag, "split it with 'let' names");
    return NULL;
}

static void check_heights(ParseCtx *p)
{
    for (int i = 0; i < p->items.n; i++) {
        TopItem *t = p->items.items[i];
        if (t->kind == TOP_DEF) {
            Def *d = t->item;
            d->body = check_height(p, d->body);
        } else if (t->kind == TOP_OPTIMIZER) {
            Optimizer *o = t->item;
            for (int k = 0; k < o->ndecls; k++) {
                Decl *d = o->decls[k];
                d->value = check_height(p, d->value);
                d->dist = check_height(p, d->dist);
                d->port_input = check_height(p, d->port_input);
                for (int j = 0; j < d->ndims; j++) d->dims[j] = check_height(p, d->dims[j]);
                for (int j = 0; j < d->nargs; j++)
                    d->args[j].value = check_height(p, d->args[j].value);
            }
        }
    }
}

Module *parse_module(Arena *a, Diag *d, int file, int *incomplete)
{
    const Source *src = d->files[file];
    ParseCtx p = {0};
    p.arena = a;
    p.diag = d;
    p.file = file;
    p.text = src->text;
    p.len = src->len;
    p.errors_before = d->nerrors;

    yyscan_t scanner;
    yylex_init_extra(&p, &scanner);
    YY_BUFFER_STATE buf = yy_scan_bytes(src->text, src->len, scanner);
    yyparse(scanner, &p);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    check_heights(&p);

    Module *m = arena_alloc(a, sizeof *m);
    m->file = file;
    m->path = src->path;
    m->nitems = p.items.n;
    m->items = arena_alloc(a, (size_t)(p.items.n + 1) * sizeof *m->items);
    for (int i = 0; i < p.items.n; i++) {
        m->items[i] = *(TopItem *)p.items.items[i];
        if (m->items[i].kind == TOP_DEF) ((Def *)m->items[i].item)->module = m;
        if (m->items[i].kind == TOP_OPTIMIZER) ((Optimizer *)m->items[i].item)->module = m;
    }
    m->ncomments = p.comments.n;
    m->comments = arena_alloc(a, (size_t)(p.comments.n + 1) * sizeof *m->comments);
    for (int i = 0; i < p.comments.n; i++) m->comments[i] = *(Comment *)p.comments.items[i];
    m->syntax_errors = d->nerrors - p.errors_before;
    if (incomplete) *incomplete = p.eof_error || p.depth > 0;
    return m;
}
