/* arena.h: region allocation and string interning for one compilation.
 *
 * Every AST node, interned name and diagnostic string of a compilation lives in one
 * Arena and dies with it (arena_free).  The REPL makes one arena per entry, so a long
 * session frees what each entry built.  Memory is taken in chunks; an allocation
 * never fails silently: on out-of-memory the process reports it and exits (there is
 * nothing sensible a compiler can do with half an AST). */
#ifndef HAM_ARENA_H
#define HAM_ARENA_H

#include <stddef.h>

typedef struct ArenaChunk ArenaChunk;
typedef struct InternTable InternTable;

typedef struct Arena {
    ArenaChunk *head;      // newest chunk; older ones are linked behind it
    size_t used;           // bytes used in head
    size_t total;          // bytes handed out over the arena's life (limits, stats)
    InternTable *interned; // lazily made string table (see arena_intern)
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);   // zeroed, 16-byte aligned
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* arena_intern: the unique copy of s[0..n) in this arena, so that interned names
 * compare equal exactly when their pointers are equal. */
const char *arena_intern(Arena *a, const char *s, size_t n);

/* A growable array of pointers whose storage lives in an arena (old storage is
 * abandoned on growth; fine for the small lists of an AST). */
typedef struct PtrVec {
    void **items;
    int n, cap;
} PtrVec;

void ptrvec_push(Arena *a, PtrVec *v, void *item);

/* xmalloc/xrealloc: the allocation function for memory outside arenas. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);

#endif
