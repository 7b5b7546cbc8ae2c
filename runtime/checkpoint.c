/* checkpoint.c: the checkpoint file format (see checkpoint.h), its writer and reader.
 *
 * Writing encodes the whole file into memory (ckpt_encode), then ckpt_write puts it in
 * place atomically: temp file in the same directory, fsync, rename, fsync the directory.
 * A crash at any point leaves either the old file or the new one at path, never a mix.
 *
 * Reading loads the whole file and checks it from the outside in (ckpt_read_mem):
 *   1. magic                       -> "not a ham checkpoint (bad magic)"
 *   2. framing: every section fits, then END, then exactly 4 bytes -> "truncated"
 *   3. CRC-32 over all but the last 4 bytes -> "corrupt (checksum mismatch)"
 *   4. version                     -> "written by a newer ham"
 *   5. each known section's payload, with every count and length checked against the
 *      bytes left in its section before anything is allocated; unknown tags skipped
 *   6. required sections present, P the same in PARM and BEST
 * The framing comes before the checksum so that a cut-off file says "truncated"; the
 * version comes after it so that a damaged version field says "corrupt", not "newer"
 * (the envelope is the same in every version, see checkpoint.h).  A flipped length
 * field can still read as "truncated": either way the file is refused.
 *
 * Sizes: no allocation is larger than the file, since every length is bounded by the
 * bytes that remain in its section; the file itself is read in one malloc. */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// A tag is four ASCII characters stored as a little-endian u32.
#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

enum {
    TAG_NAME = TAG('N', 'A', 'M', 'E'), // optimizer name
    TAG_SPEC = TAG('S', 'P', 'E', 'C'), // spec hash and text
    TAG_PARM = TAG('P', 'A', 'R', 'M'), // learned params
    TAG_BEST = TAG('B', 'E', 'S', 'T'), // best params and their loss
    TAG_MOPT = TAG('M', 'O', 'P', 'T'), // meta-optimizer name and state
    TAG_RNG = TAG('R', 'N', 'G', ' '),  // RNG words
    TAG_STEP = TAG('S', 'T', 'E', 'P'), // epoch and meta-step
    TAG_HYPR = TAG('H', 'Y', 'P', 'R'), // hyper overrides
    TAG_TASK = TAG('T', 'A', 'S', 'K'), // task description
    TAG_LOSS = TAG('L', 'O', 'S', 'S'), // meta-loss name (optional, absent in older files)
    TAG_KVMD = TAG('K', 'V', 'M', 'D'), // key/value metadata
    TAG_END = TAG('E', 'N', 'D', ' '),  // last section, empty
};

enum {
    MAGIC_LEN = 8,                      // "HAMCKPT\0"
    HEADER_LEN = MAGIC_LEN + 4,         // magic and version
    FRAME_LEN = 12,                     // tag u32 and length u64
    CRC_LEN = 4,                        // trailing CRC-32
};

/* fail: format "<name>: <message>" into err; returns -1 so callers can `return fail(...)`. */
static int fail(char *err, size_t errlen, const char *name, const char *fmt, ...)
{
    if (!err || errlen == 0) return -1;
    int n = snprintf(err, errlen, "%s: ", name ? name : "checkpoint");
    if (n < 0 || (size_t)n >= errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- CRC-32 ---------------------------------------------------------------------- */

/* Reflected CRC-32, polynomial 0xEDB88320, a nibble at a time: crc = (crc >> 4) ^
 * T[(crc ^ x) & 15].  A 16-entry constant table is thread-safe without lazy init and
 * runs at a few hundred MB/s, ample for checkpoints.  CRC-32 detects every error burst
 * of up to 32 bits, so every single-byte flip. */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
    0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
    0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

uint32_t ckpt_crc32(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc = (crc >> 4) ^ crc_nibble[(crc ^ p[i]) & 15];
        crc = (crc >> 4) ^ crc_nibble[(crc ^ (p[i] >> 4)) & 15];
    }
    return ~crc;
}

/* ---- little-endian bytes ---------------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A tag as printable text for messages: bytes outside ' '..'~' become '?'. */
static const char *tag_text(uint32_t tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        char ch = (char)(tag >> (8 * i));
        out[i] = ch >= ' ' && ch <= '~' ? ch : '?';
    }
    out[4] = '\0';
    return out;
}

/* A name from a file, fit for a one-line message: at most 40 bytes, and bytes outside
 * ' '..'~' (a newline, say) shown as '?'.  Found by fuzzing: a hyper named "1\n}" made
 * a NaN message span three lines. */
enum { QUOTE_MAX = 40 };

static const char *quote(const char *s, char out[QUOTE_MAX + 4])
{
    size_t i = 0;
    for (; s && s[i] && i < QUOTE_MAX; i++) out[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
    strcpy(out + i, s && s[i] ? "..." : "");
    return out;
}

/* ---- encoding ---------------------------------------------------------------------- */

typedef struct Buf {
    uint8_t *p;     // the bytes so far
    size_t len;     // bytes used
    size_t cap;     // bytes allocated
    int oom;        // an allocation failed; later puts do nothing
} Buf;

static void put(Buf *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) { b->oom = 1; return; }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p, b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(Buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(Buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64(Buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(b, v);
}

/* str: u32 byte count, then the bytes.  NULL is "". */
static void put_str(Buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) { b->oom = 1; return; }   // a 4 GiB name: treat as unencodable
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

/* Sections: the length is patched in when the section ends. */
static size_t begin_section(Buf *b, uint32_t tag)
{
    put_u32(b, tag);
    size_t at = b->len;
    put_u64(b, 0);
    return at;
}

static void end_section(Buf *b, size_t at)
{
    if (b->oom) return;
    uint64_t n = b->len - at - 8;
    for (int i = 0; i < 8; i++) b->p[at + i] = (uint8_t)(n >> (8 * i));
}

/* The writer's half of "a checkpoint never holds a NaN": params and best finite,
 * no NaN anywhere else.  0, or -1 with the culprit named. */
static int check_values(const Checkpoint *c, const char *name, char *err, size_t errlen)
{
    const char *why = "refusing to write";
    char q[QUOTE_MAX + 4];
    if ((c->n_params && !c->params) || (c->n_rng && !c->rng) || (c->n_state && !c->state) ||
        (c->n_hypers && !c->hypers) || (c->n_kv && !c->kv))
        return fail(err, errlen, name, "%s: a list with a count but no array", why);
    for (size_t k = 0; k < c->n_state; k++)
        if (c->state[k].n && !c->state[k].v)
            return fail(err, errlen, name, "%s: meta-optimizer state %zu has no values", why, k);
    for (size_t i = 0; i < c->n_params; i++)
        if (!isfinite(c->params[i]))
            return fail(err, errlen, name, "%s: param %zu is %g (a checkpoint never holds a NaN or inf)",
                        why, i, c->params[i]);
    for (size_t i = 0; c->best && i < c->n_params; i++)
        if (!isfinite(c->best[i]))
            return fail(err, errlen, name, "%s: best param %zu is %g", why, i, c->best[i]);
    if (c->best && isnan(c->best_loss))
        return fail(err, errlen, name, "%s: best loss is NaN", why);
    for (size_t k = 0; k < c->n_state; k++)
        for (size_t i = 0; i < c->state[k].n; i++)
            if (isnan(c->state[k].v[i]))
                return fail(err, errlen, name, "%s: meta-optimizer state '%s'[%zu] is NaN", why,
                            quote(c->state[k].name, q), i);
    for (size_t k = 0; k < c->n_hypers; k++)
        if (isnan(c->hypers[k].value))
            return fail(err, errlen, name, "%s: hyper '%s' is NaN", why, quote(c->hypers[k].name, q));
    return 0;
}

static void encode_sections(Buf *b, const Checkpoint *c)
{
    size_t at = begin_section(b, TAG_NAME);
    put_str(b, c->opt_name);
    end_section(b, at);

    at = begin_section(b, TAG_SPEC);
    put_u64(b, c->spec_hash);
    put(b, c->spec_text, c->spec_text ? strlen(c->spec_text) : 0);
    end_section(b, at);

    at = begin_section(b, TAG_PARM);
    put_u64(b, c->n_params);
    for (size_t i = 0; i < c->n_params; i++) put_f64(b, c->params[i]);
    end_section(b, at);

    if (c->best) {
        at = begin_section(b, TAG_BEST);
        put_f64(b, c->best_loss);
        put_u64(b, c->n_params);
        for (size_t i = 0; i < c->n_params; i++) put_f64(b, c->best[i]);
        end_section(b, at);
    }

    at = begin_section(b, TAG_MOPT);
    put_str(b, c->meta_opt);
    put_u32(b, (uint32_t)c->n_state);
    for (size_t k = 0; k < c->n_state; k++) {
        put_str(b, c->state[k].name);
        put_u64(b, c->state[k].n);
        for (size_t i = 0; i < c->state[k].n; i++) put_f64(b, c->state[k].v[i]);
    }
    end_section(b, at);

    at = begin_section(b, TAG_RNG);
    put_u32(b, (uint32_t)c->n_rng);
    for (size_t i = 0; i < c->n_rng; i++) put_u64(b, c->rng[i]);
    end_section(b, at);

    at = begin_section(b, TAG_STEP);
    put_u64(b, c->epoch);
    put_u64(b, c->meta_step);
    end_section(b, at);

    at = begin_section(b, TAG_HYPR);
    put_u32(b, (uint32_t)c->n_hypers);
    for (size_t k = 0; k < c->n_hypers; k++) {
        put_str(b, c->hypers[k].name);
        put_f64(b, c->hypers[k].value);
    }
    end_section(b, at);

    at = begin_section(b, TAG_TASK);
    put_str(b, c->task);
    end_section(b, at);

    if (c->meta_loss) {   // NULL: no section, which a reader takes as "sum"
        at = begin_section(b, TAG_LOSS);
        put_str(b, c->meta_loss);
        end_section(b, at);
    }

    at = begin_section(b, TAG_KVMD);
    put_u32(b, (uint32_t)c->n_kv);
    for (size_t k = 0; k < c->n_kv; k++) {
        put_str(b, c->kv[k].key);
        put_str(b, c->kv[k].value);
    }
    end_section(b, at);
}

int ckpt_encode(const Checkpoint *c, const char *name, uint8_t **buf, size_t *len,
                char *err, size_t errlen)
{
    *buf = NULL, *len = 0;
    if (check_values(c, name, err, errlen)) return -1;
    // Counts are u32 on disk; 4 billion state arrays or hypers is a bug, not a run.
    if (c->n_state > UINT32_MAX || c->n_rng > UINT32_MAX || c->n_hypers > UINT32_MAX ||
        c->n_kv > UINT32_MAX)
        return fail(err, errlen, name, "refusing to write: more than 2^32-1 entries in a list");
    Buf b = {0};
    put(&b, CKPT_MAGIC, MAGIC_LEN);
    put_u32(&b, CKPT_VERSION);
    encode_sections(&b, c);
    end_section(&b, begin_section(&b, TAG_END));
    put_u32(&b, ckpt_crc32(0, b.p, b.len));
    if (b.oom) {
        free(b.p);
        return fail(err, errlen, name, "out of memory encoding the checkpoint");
    }
    *buf = b.p, *len = b.len;
    return 0;
}

/* ---- atomic write ------------------------------------------------------------------ */

/* Write all n bytes to fd, through short writes and EINTR.  0, or -1 with errno set. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        if (k == 0) { errno = ENOSPC; return -1; }
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* Unlink PATH.tmp.PID files left by processes that no longer exist (a kill -9 in the
 * middle of a write); a live process's temporary file is left alone. */
static void remove_stale_tmps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dirlen = slash ? (size_t)(slash - path) : 0, baselen = strlen(base);
    char dir[4096];
    if (dirlen >= sizeof dir) return;
    if (slash) {
        memcpy(dir, path, dirlen);
        dir[dirlen] = 0;
        if (dirlen == 0) strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, baselen) != 0 || strncmp(n + baselen, ".tmp.", 5) != 0) continue;
        char *end;
        long pid = strtol(n + baselen + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   // alive, or not ours to judge
        char full[8192];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, n) < sizeof full) unlink(full);
    }
    closedir(d);
}

/* Create tmp, write buf, fsync, close.  A stale tmp (a crashed process that had our
 * pid) is removed and the create retried once. */
static int write_tmp(const char *tmp, const uint8_t *buf, size_t len, const char *path,
                     char *err, size_t errlen)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return fail(err, errlen, path, "cannot create %s: %s", tmp, strerror(errno));
    if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, path, "cannot write %s: %s", tmp, strerror(e));
    }
    if (close(fd) != 0) return fail(err, errlen, path, "cannot write %s: %s", tmp, strerror(errno));
    return 0;
}

/* fsync the directory holding path, so that the rename itself is durable.  Filesystems
 * that cannot sync a directory say EINVAL; there is nothing more to do on those. */
static int sync_dir(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return fail(err, errlen, path, "out of memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        rc = fail(err, errlen, path, "written, but cannot sync directory %s: %s", dir, strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

/* regular_target: a checkpoint is renamed over its path, so the path must name a
 * regular file or nothing: renaming over /dev/full or a FIFO would replace the node. */
static int regular_target(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return fail(err, errlen, path, "%s: cannot replace it with a checkpoint (written beside it, then renamed "
                    "over it)", S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file (a device, FIFO or socket)");
    return 0;
}

int ckpt_check_target(const char *path, char *err, size_t errlen)
{
    if (regular_target(path, err, errlen)) return -1;
    size_t tmplen = strlen(path) + 32;
    char *tmp = malloc(tmplen);
    if (!tmp) return fail(err, errlen, path, "out of memory");
    snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
    int rc = write_tmp(tmp, (const uint8_t *)"", 0, path, err, errlen);
    unlink(tmp);
    free(tmp);
    return rc;
}

int ckpt_write(const char *path, const Checkpoint *c, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    if (regular_target(path, err, errlen)) return -1;
    if (ckpt_encode(c, path, &buf, &len, err, errlen)) return -1;
    size_t tmplen = strlen(path) + 32;   // ".tmp." and a pid fit in 32
    char *tmp = malloc(tmplen);
    if (!tmp) {
        free(buf);
        return fail(err, errlen, path, "out of memory");
    }
    snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
    int rc = write_tmp(tmp, buf, len, path, err, errlen);
    if (rc == 0) remove_stale_tmps(path);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = fail(err, errlen, path, "cannot replace it with %s: %s", tmp, strerror(errno));
    if (rc != 0) unlink(tmp);   // may not exist; the old file at path is untouched either way
    else rc = sync_dir(path, err, errlen);
    free(tmp);
    free(buf);
    return rc;
}

/* ---- decoding ---------------------------------------------------------------------- */

enum {
    FAULT_NONE,     // all well so far
    FAULT_CORRUPT,  // the bytes break the format: "corrupt (...)"
    FAULT_OOM,      // a (bounded) allocation failed: "cannot load (...)"
};

typedef struct Reader {
    const uint8_t *p;   // payload of the current section
    size_t len;         // its length
    size_t pos;         // read position in it
    int bad;            // FAULT_NONE, or the first fault's kind
    char why[160];      // the first fault
    size_t best_n;      // BEST's P, checked against PARM's after all sections
} Reader;

static void bad(Reader *r, int kind, const char *fmt, ...)
{
    if (r->bad) return;
    r->bad = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

/* need(r, n): are n more payload bytes there?  Records the fault when not. */
static int need(Reader *r, size_t n)
{
    if (r->bad) return 0;
    if (r->len - r->pos >= n) return 1;
    bad(r, FAULT_CORRUPT, "payload ends early");
    return 0;
}

static uint32_t rd_u32(Reader *r)
{
    if (!need(r, 4)) return 0;
    r->pos += 4;
    return le32(r->p + r->pos - 4);
}

static uint64_t rd_u64(Reader *r)
{
    if (!need(r, 8)) return 0;
    r->pos += 8;
    return le64(r->p + r->pos - 8);
}

static double rd_f64(Reader *r)
{
    uint64_t v = rd_u64(r);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* malloc that records an out-of-memory fault; never asked for 0 bytes. */
static void *rd_alloc(Reader *r, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) bad(r, FAULT_OOM, "out of memory");
    return p;
}

/* n bytes of text, NUL-terminated, refused if they hold a NUL. */
static char *rd_text(Reader *r, size_t n)
{
    if (!need(r, n)) return NULL;
    if (memchr(r->p + r->pos, 0, n)) {
        bad(r, FAULT_CORRUPT, "a string holds a NUL byte");
        return NULL;
    }
    char *s = rd_alloc(r, n + 1);
    if (s) memcpy(s, r->p + r->pos, n);
    r->pos += n;
    return s;
}

static char *rd_str(Reader *r)
{
    uint32_t n = rd_u32(r);
    return r->bad ? NULL : rd_text(r, n);
}

/* n doubles; n is checked against the bytes left before allocating. */
static double *rd_f64s(Reader *r, uint64_t n)
{
    if (r->bad) return NULL;
    if (n > (r->len - r->pos) / 8) {
        bad(r, FAULT_CORRUPT, "count %llu exceeds the section", (unsigned long long)n);
        return NULL;
    }
    double *v = rd_alloc(r, (size_t)n * 8);
    for (size_t i = 0; v && i < n; i++) v[i] = rd_f64(r);
    return v;
}

/* A list count, checked against the bytes left given each entry's least size, so that
 * the array of entries is never larger than the section. */
static size_t rd_count(Reader *r, size_t min_entry)
{
    uint32_t n = rd_u32(r);
    if (r->bad) return 0;
    if (n > (r->len - r->pos) / min_entry) {
        bad(r, FAULT_CORRUPT, "count %u exceeds the section", n);
        return 0;
    }
    return n;
}

/* The reader's half of "never a NaN": what check_values refuses, this refuses. */
static void check_finite(Reader *r, const double *v, size_t n, const char *what)
{
    for (size_t i = 0; v && i < n && !r->bad; i++)
        if (!isfinite(v[i])) bad(r, FAULT_CORRUPT, "%s %zu is %g", what, i, v[i]);
}

static void rd_name(Reader *r, Checkpoint *c) { c->opt_name = rd_str(r); }

static void rd_task(Reader *r, Checkpoint *c) { c->task = rd_str(r); }

static void rd_loss(Reader *r, Checkpoint *c) { c->meta_loss = rd_str(r); }

static void rd_spec(Reader *r, Checkpoint *c)
{
    c->spec_hash = rd_u64(r);
    if (!r->bad) c->spec_text = rd_text(r, r->len - r->pos);
}

static void rd_parm(Reader *r, Checkpoint *c)
{
    uint64_t n = rd_u64(r);
    c->params = rd_f64s(r, n);
    if (c->params) c->n_params = (size_t)n;
    check_finite(r, c->params, c->n_params, "param");
}

static void rd_best(Reader *r, Checkpoint *c)
{
    c->best_loss = rd_f64(r);
    if (!r->bad && isnan(c->best_loss)) bad(r, FAULT_CORRUPT, "best loss is NaN");
    uint64_t n = rd_u64(r);
    c->best = rd_f64s(r, n);
    if (c->best) r->best_n = (size_t)n;
    check_finite(r, c->best, r->best_n, "best param");
}

/* MOPT: str name; u32 count; count x (str name; u64 n; n f64).  An entry is >= 12 bytes. */
static void rd_mopt(Reader *r, Checkpoint *c)
{
    char q[QUOTE_MAX + 4];
    c->meta_opt = rd_str(r);
    size_t n = rd_count(r, 12);
    c->state = n ? rd_alloc(r, n * sizeof *c->state) : NULL;
    if (!c->state) return;
    c->n_state = n;
    for (size_t k = 0; k < n && !r->bad; k++) {
        CkptArray *a = &c->state[k];
        a->name = rd_str(r);
        uint64_t m = rd_u64(r);
        a->v = rd_f64s(r, m);
        if (a->v) a->n = (size_t)m;
        for (size_t i = 0; a->v && i < a->n && !r->bad; i++)
            if (isnan(a->v[i]))
                bad(r, FAULT_CORRUPT, "meta-optimizer state '%s'[%zu] is NaN", quote(a->name, q), i);
    }
}

static void rd_rng(Reader *r, Checkpoint *c)
{
    size_t n = rd_count(r, 8);
    c->rng = n ? rd_alloc(r, n * sizeof *c->rng) : NULL;
    if (!c->rng) return;
    c->n_rng = n;
    for (size_t i = 0; i < n; i++) c->rng[i] = rd_u64(r);
}

static void rd_step(Reader *r, Checkpoint *c)
{
    c->epoch = rd_u64(r);
    c->meta_step = rd_u64(r);
}

/* HYPR: u32 count; count x (str name; f64 value).  An entry is >= 12 bytes. */
static void rd_hypr(Reader *r, Checkpoint *c)
{
    char q[QUOTE_MAX + 4];
    size_t n = rd_count(r, 12);
    c->hypers = n ? rd_alloc(r, n * sizeof *c->hypers) : NULL;
    if (!c->hypers) return;
    c->n_hypers = n;
    for (size_t k = 0; k < n && !r->bad; k++) {
        c->hypers[k].name = rd_str(r);
        c->hypers[k].value = rd_f64(r);
        if (!r->bad && isnan(c->hypers[k].value))
            bad(r, FAULT_CORRUPT, "hyper '%s' is NaN", quote(c->hypers[k].name, q));
    }
}

/* KVMD: u32 count; count x (str key; str value).  An entry is >= 8 bytes. */
static void rd_kvmd(Reader *r, Checkpoint *c)
{
    size_t n = rd_count(r, 8);
    c->kv = n ? rd_alloc(r, n * sizeof *c->kv) : NULL;
    if (!c->kv) return;
    c->n_kv = n;
    for (size_t k = 0; k < n && !r->bad; k++) {
        c->kv[k].key = rd_str(r);
        c->kv[k].value = rd_str(r);
    }
}

// The sections this version knows.  Adding one: a TAG_, a reader, a line here, and
// its encoding in encode_sections.
static const struct {
    uint32_t tag;                          // its tag
    int required;                          // must a version-1 file hold it?
    void (*read)(Reader *, Checkpoint *);  // parses the payload into the checkpoint
} known[] = {
    {TAG_NAME, 1, rd_name}, {TAG_SPEC, 1, rd_spec}, {TAG_PARM, 1, rd_parm},
    {TAG_BEST, 0, rd_best}, {TAG_MOPT, 1, rd_mopt}, {TAG_RNG, 1, rd_rng},
    {TAG_STEP, 1, rd_step}, {TAG_HYPR, 0, rd_hypr}, {TAG_TASK, 0, rd_task},
    {TAG_KVMD, 0, rd_kvmd}, {TAG_LOSS, 0, rd_loss},
};
enum { N_KNOWN = sizeof known / sizeof known[0] };

/* Step 2: the framing.  Sections from byte HEADER_LEN must each fit in the file and end
 * with an empty END section followed by exactly CRC_LEN bytes. */
static int check_framing(const uint8_t *b, size_t len, const char *name, char *err, size_t errlen)
{
    char t[5];
    size_t pos = HEADER_LEN;
    for (;;) {
        if (len - pos < FRAME_LEN)
            return fail(err, errlen, name, "truncated (%zu bytes, cut off before the end section)", len);
        uint32_t tag = le32(b + pos);
        uint64_t n = le64(b + pos + 4);
        pos += FRAME_LEN;
        if (n > len - pos)
            return fail(err, errlen, name,
                        "truncated (section '%s' at byte %zu needs %llu bytes, %zu remain)",
                        tag_text(tag, t), pos - FRAME_LEN, (unsigned long long)n, len - pos);
        if (tag == TAG_END) {
            if (n != 0) return fail(err, errlen, name, "corrupt (end section is not empty)");
            if (len - pos < CRC_LEN) return fail(err, errlen, name, "truncated (checksum cut off)");
            if (len - pos > CRC_LEN)
                return fail(err, errlen, name, "corrupt (%zu stray bytes after the checksum)",
                            len - pos - CRC_LEN);
            return 0;
        }
        pos += (size_t)n;
    }
}

/* Step 5: parse every known section, skip the rest.  Framing is already checked. */
static int read_sections(const uint8_t *b, size_t len, const char *name, Checkpoint *c,
                         Reader *r, char *err, size_t errlen)
{
    (void)len;   // check_framing has seen that the frames fit in len
    char t[5];
    int seen[N_KNOWN] = {0};
    size_t pos = HEADER_LEN;
    for (;;) {
        uint32_t tag = le32(b + pos);
        size_t n = (size_t)le64(b + pos + 4);
        pos += FRAME_LEN;
        if (tag == TAG_END) break;
        for (int k = 0; k < N_KNOWN; k++) {
            if (known[k].tag != tag) continue;
            if (seen[k]++)
                return fail(err, errlen, name, "corrupt (section '%s' appears twice)", tag_text(tag, t));
            r->p = b + pos, r->len = n, r->pos = 0;
            known[k].read(r, c);
            if (!r->bad && r->pos != r->len) bad(r, FAULT_CORRUPT, "%zu stray bytes at its end", r->len - r->pos);
            if (r->bad)
                return fail(err, errlen, name, "%s (section '%s': %s)",
                            r->bad == FAULT_OOM ? "cannot load" : "corrupt", tag_text(tag, t), r->why);
            break;
        }
        pos += n;
    }
    for (int k = 0; k < N_KNOWN; k++)
        if (known[k].required && !seen[k])
            return fail(err, errlen, name, "corrupt (required section '%s' missing)",
                        tag_text(known[k].tag, t));
    return 0;
}

int ckpt_read_mem(const void *buf, size_t len, const char *name, Checkpoint *c,
                  char *err, size_t errlen)
{
    const uint8_t *b = buf;
    memset(c, 0, sizeof *c);
    if (len == 0) return fail(err, errlen, name, "truncated (empty file)");
    if (len < MAGIC_LEN ? memcmp(b, CKPT_MAGIC, len) != 0 : memcmp(b, CKPT_MAGIC, MAGIC_LEN) != 0)
        return fail(err, errlen, name, "not a ham checkpoint (bad magic)");
    if (len < HEADER_LEN) return fail(err, errlen, name, "truncated (%zu bytes)", len);
    if (check_framing(b, len, name, err, errlen)) return -1;
    if (ckpt_crc32(0, b, len - CRC_LEN) != le32(b + len - CRC_LEN))
        return fail(err, errlen, name, "corrupt (checksum mismatch)");
    uint32_t version = le32(b + MAGIC_LEN);
    if (version > CKPT_VERSION)
        return fail(err, errlen, name,
                    "written by a newer ham (checkpoint format %u; this ham reads up to %u): upgrade ham to load it",
                    version, CKPT_VERSION);
    if (version == 0) return fail(err, errlen, name, "corrupt (format version 0)");
    Reader r = {0};
    int rc = read_sections(b, len, name, c, &r, err, errlen);
    if (rc == 0 && c->best && r.best_n != c->n_params)
        rc = fail(err, errlen, name, "corrupt (best params hold %zu values, params %zu)",
                  r.best_n, c->n_params);
    if (rc != 0) ckpt_free(c);
    return rc;
}

int ckpt_read(const char *path, Checkpoint *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, errlen, path, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, path, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, path, "%s, not a checkpoint file",
                    S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    }
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *buf = (uint64_t)st.st_size == len ? malloc(len ? len : 1) : NULL;
    if (!buf) {
        close(fd);
        return fail(err, errlen, path, "cannot load: out of memory for %lld bytes", (long long)st.st_size);
    }
    while (got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    int e = errno;
    close(fd);
    int rc = got < len ? fail(err, errlen, path, "cannot read: %s", got ? strerror(e) : "short read")
                       : ckpt_read_mem(buf, len, path, c, err, errlen);
    free(buf);
    return rc;
}

/* ---- spec check, builders, free ------------------------------------------------------ */

int ckpt_check_spec(const Checkpoint *c, const char *path, uint64_t spec_hash, const char *opt_name,
                    char *err, size_t errlen)
{
    char q[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
    const char *made = c->opt_name ? c->opt_name : "";
    if (opt_name && strcmp(made, opt_name) != 0)
        return fail(err, errlen, path,
                    "made for optimizer '%s' (spec hash %016llx), not '%s' (spec hash %016llx): "
                    "resume with the spec it was made for (the checkpoint holds its text), or start a fresh run",
                    quote(made, q), (unsigned long long)c->spec_hash, quote(opt_name, q2),
                    (unsigned long long)spec_hash);
    if (c->spec_hash != spec_hash)
        return fail(err, errlen, path,
                    "made for optimizer '%s' from spec hash %016llx, but this spec hashes to %016llx "
                    "(the spec changed): resume with the original spec (the checkpoint holds its text), "
                    "or start a fresh run",
                    quote(made, q), (unsigned long long)c->spec_hash, (unsigned long long)spec_hash);
    return 0;
}

/* dup_doubles: a malloc'd copy of n doubles (NULL in, NULL out); *ok cleared on OOM. */
static double *dup_doubles(const double *v, size_t n, int *ok)
{
    if (!v) return NULL;
    double *d = malloc(n ? n * sizeof *d : 1);
    if (!d) { *ok = 0; return NULL; }
    if (n) memcpy(d, v, n * sizeof *d);
    return d;
}

int ckpt_set_params(Checkpoint *c, size_t n, const double *params, const double *best,
                    double best_loss)
{
    int ok = 1;
    double *p = dup_doubles(params, n, &ok), *b = dup_doubles(best, n, &ok);
    if (!ok || n > SIZE_MAX / sizeof(double)) {
        free(p), free(b);
        return -1;
    }
    free(c->params), free(c->best);
    c->params = p, c->best = b, c->n_params = n, c->best_loss = best_loss;
    return 0;
}

/* grow: make room for one more element in *arr of count n; 0 or -1. */
static int grow(void **arr, size_t n, size_t elem)
{
    void *p = realloc(*arr, (n + 1) * elem);
    if (!p) return -1;
    *arr = p;
    return 0;
}

int ckpt_add_state(Checkpoint *c, const char *name, size_t n, const double *v)
{
    int ok = 1;
    char *s = strdup(name ? name : "");
    double *d = dup_doubles(v, n, &ok);
    if (!s || !ok || (n && !v) || grow((void **)&c->state, c->n_state, sizeof *c->state)) {
        free(s), free(d);
        return -1;
    }
    c->state[c->n_state++] = (CkptArray){s, n, d};
    return 0;
}

int ckpt_add_hyper(Checkpoint *c, const char *name, double value)
{
    char *s = strdup(name ? name : "");
    if (!s || grow((void **)&c->hypers, c->n_hypers, sizeof *c->hypers)) {
        free(s);
        return -1;
    }
    c->hypers[c->n_hypers++] = (CkptHyper){s, value};
    return 0;
}

int ckpt_add_kv(Checkpoint *c, const char *key, const char *value)
{
    char *k = strdup(key ? key : ""), *v = strdup(value ? value : "");
    if (!k || !v || grow((void **)&c->kv, c->n_kv, sizeof *c->kv)) {
        free(k), free(v);
        return -1;
    }
    c->kv[c->n_kv++] = (CkptKv){k, v};
    return 0;
}

void ckpt_free(Checkpoint *c)
{
    free(c->opt_name), free(c->spec_text), free(c->params), free(c->best);
    free(c->meta_opt), free(c->rng), free(c->task), free(c->meta_loss);
    for (size_t k = 0; c->state && k < c->n_state; k++) free(c->state[k].name), free(c->state[k].v);
    for (size_t k = 0; c->hypers && k < c->n_hypers; k++) free(c->hypers[k].name);
    for (size_t k = 0; c->kv && k < c->n_kv; k++) free(c->kv[k].key), free(c->kv[k].value);
    free(c->state), free(c->hypers), free(c->kv);
    memset(c, 0, sizeof *c);
}
