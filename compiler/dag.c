/* dag.c: the node pool, hash-consing and the smart constructors of the DAG.
 *
 * A DagPool is an arena of nodes plus an intern table, as Lua interns short strings
 * (lstring.c internshrstr): hash the would-be node, scan its bucket, compare, and
 * either return the node found or copy the candidate into the arena.  The key is the
 * op, the operand pointers (equivalently their ids) and the payload: the bit pattern
 * of a constant, or the class and index of a symbol.  Constants compare by bits, so
 * 0.0 and -0.0 are different nodes and x + 0.0 is never confused with x + -0.0;
 * every NaN is stored as one canonical quiet NaN so that NaN constants hash-cons
 * deterministically.
 *
 * A smart constructor (dag_unary, dag_binary, dag_select) first puts the operands
 * of a commutative op in canonical order (a constant first, otherwise by increasing
 * id), then asks dag_rewrite (dag_simplify.c) for a simpler equivalent under the
 * pool's rules, and only if there is none interns the node itself.
 *
 * Traversals (dag_topo) gather the nodes reachable from some roots with an explicit
 * stack, never recursion: a chain of 10^5 nodes must not overflow the C stack.  The
 * visited test is the sparse-set trick on each node's scratch slot (slot < n and
 * list[slot] == node), which needs neither clearing nor a per-pool epoch. */
#include "dag.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Why 1 << 22: four million nodes is ~350 MB of nodes and table, far beyond any
 * optimizer we expect (the phnn example lowers to a few thousand), yet small enough
 * that a runaway expansion stops with a message instead of swapping. */
enum { DAG_DEFAULT_LIMIT = 1 << 22, DAG_CHUNK_BYTES = 1 << 16 };

/* Rules call smart constructors, which may apply further rules.  Each step shrinks
 * the expression, but a pathological input (like terms nested 10^5 deep, in
 * algebraic mode) could still recurse deeply; past this depth a constructor skips
 * the rules, which is always allowed (they are optional rewrites). */
enum { DAG_MAX_REWRITE_DEPTH = 64 };

const DagOpInfo dag_op_info[OP_COUNT] = {
#define OP(e, nm, ar, fix, pr, fl) [OP_##e] = {nm, ar, fix, pr, fl},
#include "ops.def"
#undef OP
};

typedef struct Chunk Chunk;
struct Chunk {
    Chunk *next;          // older chunk
    size_t size, used;    // bytes in data, bytes handed out
    max_align_t data[];   // the memory itself
};

struct DagPool {
    Chunk *chunks;            // arena for nodes and names, newest first
    DagNode **table;          // intern table: buckets of chains
    size_t nbuckets;          // power of two
    DagNode **nodes;          // nodes[id]
    int count, cap;           // nodes made, capacity of nodes[]
    int limit;                // node cap (dag_pool_set_limit)
    DagRules rules;           // what the smart constructors rewrite
    int failed;               // set once; constructors then return NULL
    int depth;                // nesting of dag_rewrite calls (DAG_MAX_REWRITE_DEPTH)
    char error[160];          // why it failed
};

void *dag_realloc(void *ptr, size_t size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    void *q = realloc(ptr, size);
    if (!q) {
        fprintf(stderr, "ham: out of memory (dag, %zu bytes)\n", size);
        exit(1);
    }
    return q;
}

static void pool_fail(DagPool *p, const char *fmt, ...)
{
    if (p->failed)
        return;  // keep the first cause
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
}

/* Bump allocation in the pool's arena, 16-byte aligned via max_align_t. */
static void *arena_take(DagPool *p, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    Chunk *c = p->chunks;
    if (!c || c->size - c->used < size) {
        size_t want = size > DAG_CHUNK_BYTES ? size : DAG_CHUNK_BYTES;
        c = dag_realloc(NULL, sizeof(Chunk) + want);
        c->next = p->chunks;
        c->size = want;
        c->used = 0;
        p->chunks = c;
    }
    void *mem = (char *)c->data + c->used;
    c->used += size;
    return mem;
}

DagPool *dag_pool_new(void)
{
    DagPool *p = dag_realloc(NULL, sizeof *p);
    memset(p, 0, sizeof *p);
    p->nbuckets = 1024;
    p->table = dag_realloc(NULL, p->nbuckets * sizeof *p->table);
    memset(p->table, 0, p->nbuckets * sizeof *p->table);
    p->limit = DAG_DEFAULT_LIMIT;
    p->rules = DAG_RULES_SOUND;
    return p;
}

void dag_pool_free(DagPool *p)
{
    if (!p)
        return;
    for (Chunk *c = p->chunks, *next; c; c = next) {
        next = c->next;
        dag_realloc(c, 0);
    }
    dag_realloc(p->table, 0);
    dag_realloc(p->nodes, 0);
    dag_realloc(p, 0);
}

void dag_pool_set_rules(DagPool *p, DagRules rules) { p->rules = rules; }
DagRules dag_pool_rules(const DagPool *p) { return p->rules; }
void dag_pool_set_algebraic(DagPool *p, int on)
{
    p->rules = on ? DAG_RULES_ALGEBRAIC : DAG_RULES_SOUND;
}
void dag_pool_set_limit(DagPool *p, int max_nodes) { p->limit = max_nodes; }
int dag_pool_size(const DagPool *p) { return p->count; }
int dag_pool_failed(const DagPool *p) { return p->failed; }
const char *dag_pool_error(const DagPool *p) { return p->error; }

const DagNode *dag_node_by_id(const DagPool *p, int id)
{
    return id >= 0 && id < p->count ? p->nodes[id] : NULL;
}

/* ---- Hash-consing ---- */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

static uint64_t const_bits(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

static uint64_t node_hash(const DagNode *n)
{
    uint64_t h = mix(0, (uint64_t)n->op);
    if (n->op == OP_CONST)
        return mix(h, const_bits(n->value));
    if (n->op == OP_SYM)
        return mix(mix(h, (uint64_t)n->cls), (uint64_t)(unsigned)n->index);
    for (int i = 0; i < 3; i++)
        h = mix(h, n->kid[i] ? (uint64_t)n->kid[i]->id + 1 : 0);
    return h;
}

static int node_equal(const DagNode *x, const DagNode *y)
{
    if (x->op != y->op || x->hash != y->hash)
        return 0;
    if (x->op == OP_CONST)
        return const_bits(x->value) == const_bits(y->value);
    if (x->op == OP_SYM)
        return x->cls == y->cls && x->index == y->index;
    return x->kid[0] == y->kid[0] && x->kid[1] == y->kid[1] && x->kid[2] == y->kid[2];
}

/* Double the bucket array when the load reaches one node per bucket. */
static void table_grow(DagPool *p)
{
    size_t nb = p->nbuckets * 2;
    DagNode **t = dag_realloc(NULL, nb * sizeof *t);
    memset(t, 0, nb * sizeof *t);
    for (int id = 0; id < p->count; id++) {
        DagNode *n = p->nodes[id];
        n->chain = t[n->hash & (nb - 1)];
        t[n->hash & (nb - 1)] = n;
    }
    dag_realloc(p->table, 0);
    p->table = t;
    p->nbuckets = nb;
}

/* intern: the pool's node equal to *key, made from a copy of key if new. */
static const DagNode *intern(DagPool *p, DagNode *key)
{
    key->hash = node_hash(key);
    for (DagNode *n = p->table[key->hash & (p->nbuckets - 1)]; n; n = n->chain)
        if (node_equal(n, key))
            return n;
    if (p->count >= p->limit) {
        pool_fail(p, "expression too large: more than %d DAG nodes", p->limit);
        return NULL;
    }
    if ((size_t)p->count >= p->nbuckets)
        table_grow(p);
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->nodes = dag_realloc(p->nodes, (size_t)p->cap * sizeof *p->nodes);
    }
    DagNode *n = arena_take(p, sizeof *n);
    *n = *key;
    n->id = p->count;
    n->slot = -1;
    p->nodes[p->count++] = n;
    size_t b = n->hash & (p->nbuckets - 1);
    n->chain = p->table[b];
    p->table[b] = n;
    return n;
}

const DagNode *dag_const(DagPool *p, double value)
{
    if (p->failed)
        return NULL;
    DagNode key = {.op = OP_CONST, .value = isnan(value) ? NAN : value};
    return intern(p, &key);
}

const DagNode *dag_sym(DagPool *p, SymClass cls, int index, const char *name)
{
    if (p->failed)
        return NULL;
    DagNode key = {.op = OP_SYM, .cls = cls, .index = index};
    int before = p->count;
    const DagNode *n = intern(p, &key);
    if (n && p->count > before && name) {
        size_t len = strlen(name) + 1;
        char *copy = arena_take(p, len);
        memcpy(copy, name, len);
        ((DagNode *)n)->name = copy;  // fresh node, not yet visible to anyone
    }
    return n;
}

const DagNode *dag_make(DagPool *p, DagOp op, const DagNode *a, const DagNode *b,
                        const DagNode *c)
{
    if (p->failed)
        return NULL;
    DagNode key = {.op = op, .kid = {a, b, c}};
    return intern(p, &key);
}

/* ---- Smart constructors ---- */

/* Canonical operand order of a commutative op: a constant first, then by id. */
static int goes_first(const DagNode *a, const DagNode *b)
{
    int ca = a->op == OP_CONST, cb = b->op == OP_CONST;
    return ca != cb ? ca : a->id <= b->id;
}

/* build: check operands, canonicalize, rewrite, intern. */
static const DagNode *build(DagPool *p, DagOp op, const DagNode *a, const DagNode *b,
                            const DagNode *c)
{
    int arity = dag_op_info[op].arity;
    const DagNode *kid[3] = {a, b, c};
    if (p->failed)
        return NULL;
    if (arity == 0) {
        pool_fail(p, "internal: %s is a leaf, use dag_const or dag_sym",
                  dag_op_info[op].name);
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        if (i < arity && !kid[i]) {
            pool_fail(p, "internal: NULL operand of %s", dag_op_info[op].name);
            return NULL;
        }
        if (i >= arity)
            kid[i] = NULL;
    }
    if ((dag_op_info[op].flags & DAG_COMM) && !goes_first(kid[0], kid[1])) {
        const DagNode *t = kid[0];
        kid[0] = kid[1];
        kid[1] = t;
    }
    if (p->rules != DAG_RULES_NONE && p->depth < DAG_MAX_REWRITE_DEPTH) {
        p->depth++;
        const DagNode *r = dag_rewrite(p, op, kid[0], kid[1], kid[2]);
        p->depth--;
        if (r || p->failed)
            return r;
    }
    return dag_make(p, op, kid[0], kid[1], kid[2]);
}

const DagNode *dag_op(DagPool *p, DagOp op, const DagNode *a, const DagNode *b,
                      const DagNode *c)
{
    return build(p, op, a, b, c);
}

const DagNode *dag_unary(DagPool *p, DagOp op, const DagNode *a)
{
    if (dag_op_info[op].arity != 1) {
        pool_fail(p, "internal: dag_unary on %s", dag_op_info[op].name);
        return NULL;
    }
    return build(p, op, a, NULL, NULL);
}

const DagNode *dag_binary(DagPool *p, DagOp op, const DagNode *a, const DagNode *b)
{
    if (dag_op_info[op].arity != 2) {
        pool_fail(p, "internal: dag_binary on %s", dag_op_info[op].name);
        return NULL;
    }
    return build(p, op, a, b, NULL);
}

const DagNode *dag_select(DagPool *p, const DagNode *c, const DagNode *a,
                          const DagNode *b)
{
    return build(p, OP_SELECT, c, a, b);
}

const DagNode *dag_add(DagPool *p, const DagNode *a, const DagNode *b)
{
    return build(p, OP_ADD, a, b, NULL);
}

const DagNode *dag_sub(DagPool *p, const DagNode *a, const DagNode *b)
{
    return build(p, OP_SUB, a, b, NULL);
}

const DagNode *dag_mul(DagPool *p, const DagNode *a, const DagNode *b)
{
    return build(p, OP_MUL, a, b, NULL);
}

const DagNode *dag_div(DagPool *p, const DagNode *a, const DagNode *b)
{
    return build(p, OP_DIV, a, b, NULL);
}

const DagNode *dag_pow(DagPool *p, const DagNode *a, const DagNode *b)
{
    return build(p, OP_POW, a, b, NULL);
}

const DagNode *dag_neg(DagPool *p, const DagNode *a)
{
    return build(p, OP_NEG, a, NULL, NULL);
}

const DagNode *dag_powi(DagPool *p, const DagNode *a, int k)
{
    return build(p, OP_POW, a, dag_const(p, (double)k), NULL);
}

/* ---- Traversal ---- */

static int visited(const DagNode *const *list, int n, const DagNode *node)
{
    return node->slot >= 0 && node->slot < n && list[node->slot] == node;
}

int dag_in_topo(const DagNode *const *list, int count, const DagNode *node)
{
    return node && visited(list, count, node);
}

static int by_id(const void *x, const void *y)
{
    int a = (*(const DagNode *const *)x)->id, b = (*(const DagNode *const *)y)->id;
    return (a > b) - (a < b);
}

/* Depth-first discovery with an explicit stack, then a sort by id. */
const DagNode **dag_topo(int nroots, const DagNode *const *roots, int *count)
{
    int n = 0, cap = 64, top = 0, scap = 64;
    const DagNode **list = dag_realloc(NULL, (size_t)cap * sizeof *list);
    const DagNode **stack = dag_realloc(NULL, (size_t)scap * sizeof *stack);
    for (int r = 0; r < nroots; r++) {
        if (!roots[r])
            continue;
        stack[top++] = roots[r];
        while (top > 0) {
            DagNode *node = (DagNode *)stack[--top];
            if (visited(list, n, node))
                continue;
            if (n == cap)
                list = dag_realloc(list, (size_t)(cap *= 2) * sizeof *list);
            node->slot = n;
            list[n++] = node;
            if (top + 3 > scap)
                stack = dag_realloc(stack, (size_t)(scap *= 2) * sizeof *stack);
            for (int i = 0; i < dag_op_info[node->op].arity; i++)
                if (!visited(list, n, node->kid[i]))
                    stack[top++] = node->kid[i];
        }
    }
    dag_realloc(stack, 0);
    qsort(list, (size_t)n, sizeof *list, by_id);
    for (int i = 0; i < n; i++)
        ((DagNode *)list[i])->slot = i;
    *count = n;
    return list;
}

int dag_count(int nroots, const DagNode *const *roots)
{
    int n, inner = 0;
    const DagNode **list = dag_topo(nroots, roots, &n);
    for (int i = 0; i < n; i++)
        inner += dag_op_info[list[i]->op].arity > 0;
    dag_realloc(list, 0);
    return inner;
}
