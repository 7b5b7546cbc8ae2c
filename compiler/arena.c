/* arena.c: chunked region allocator, string interning and the checked malloc.
 *
 * Chunks grow geometrically from 64 KiB, so a compilation makes few system calls;
 * a request larger than a chunk gets a chunk of its own.  Interning is a hash table
 * with chaining, as in Lua's lstring.c: hash the bytes, scan the bucket, compare,
 * insert; the table doubles when its load factor passes 1. */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ArenaChunk {
    ArenaChunk *next;
    size_t size;
    _Alignas(16) unsigned char data[];
};

typedef struct InternEntry {
    struct InternEntry *next;
    uint64_t hash;
    size_t len;
    char *str;
} InternEntry;

struct InternTable {
    InternEntry **buckets;
    size_t nbuckets, count;
};

static void out_of_memory(size_t size)
{
    fprintf(stderr, "hamc: error: out of memory (allocating %zu bytes)\n", size);
    exit(3);
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) out_of_memory(n * size);
    return p;
}

void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}

void arena_init(Arena *a)
{
    memset(a, 0, sizeof *a);
}

void arena_free(Arena *a)
{
    for (ArenaChunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    if (a->interned) {
        free(a->interned->buckets);
        free(a->interned);
    }
    arena_init(a);
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (!a->head || a->used + size > a->head->size) {
        size_t want = a->head ? a->head->size * 2 : 64 * 1024;
        if (want > 16u << 20) want = 16u << 20;   // cap growth: big chunks waste memory
        if (want < size) want = size;
        ArenaChunk *c = xmalloc(sizeof *c + want);
        c->size = want;
        c->next = a->head;
        a->head = c;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)(n < 0 ? 0 : n) + 1);
    if (n > 0) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

/* FNV-1a: simple, and good enough for identifiers. */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static void intern_grow(InternTable *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 256;
    InternEntry **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (InternEntry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

const char *arena_intern(Arena *a, const char *s, size_t n)
{
    if (!a->interned) a->interned = xcalloc(1, sizeof *a->interned);
    InternTable *t = a->interned;
    if (t->count >= t->nbuckets) intern_grow(t);
    uint64_t h = hash_bytes(s, n);
    for (InternEntry *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->len == n && memcmp(e->str, s, n) == 0) return e->str;
    InternEntry *e = arena_alloc(a, sizeof *e);
    e->hash = h;
    e->len = n;
    e->str = arena_strndup(a, s, n);
    e->next = t->buckets[h & (t->nbuckets - 1)];
    t->buckets[h & (t->nbuckets - 1)] = e;
    t->count++;
    return e->str;
}

void ptrvec_push(Arena *a, PtrVec *v, void *item)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 4;
        void **items = arena_alloc(a, (size_t)cap * sizeof *items);
        if (v->n) memcpy(items, v->items, (size_t)v->n * sizeof *items);
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
}
