/* test_checkpoint.c: the checkpoint format, its atomic writer and its validating reader.
 *
 * Round trip of every field (bit-exact doubles); atomicity (a failed write leaves the
 * old checkpoint loadable and no temp file behind, including a write cut short by
 * RLIMIT_FSIZE, our stand-in for a full disk); every single-byte flip and every
 * truncation of a small checkpoint refused; forged lengths and counts refused before
 * allocation; NaN refused on write and on read; the spec-mismatch message; an unknown
 * future section skipped; the optional LOSS section (meta-loss) round-trips, and files
 * without it (written before it existed) load with meta_loss NULL.  Files live in a
 * fresh directory under $TMPDIR or /tmp. */
#include "checkpoint.h"
#include "test.h"

#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[200];   // the scratch directory

static const char *in_dir(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* A checkpoint with every field set, P params, doubles chosen to catch byte-order and
 * rounding slips (negative zero, subnormal, huge, non-representable decimals). */
static void make_sample(Checkpoint *c, size_t P)
{
    memset(c, 0, sizeof *c);
    double *p = malloc(P * sizeof *p), *b = malloc(P * sizeof *b);
    const double odd[] = {-0.0, 4.9406564584124654e-324, 1.7976931348623157e308, 0.1, -1e-300};
    for (size_t i = 0; i < P; i++) {
        p[i] = i < 5 ? odd[i] : 0.001 * (double)i - 0.5;
        b[i] = -p[i] + 1.0 / 3.0;
    }
    c->opt_name = strdup("phs_adam");
    c->spec_hash = 0x0123456789ABCDEFull;
    c->spec_text = strdup("optimizer phs_adam {\n  hyper lr = 0.01\n}\n");
    ckpt_set_params(c, P, p, b, 0.1234567890123);
    c->meta_opt = strdup("adam");
    double t = 42, m[3] = {0.5, -0.25, 1e-8};
    ckpt_add_state(c, "t", 1, &t);
    ckpt_add_state(c, "m", 3, m);
    ckpt_add_state(c, "empty", 0, NULL);
    c->n_rng = 2;
    c->rng = malloc(2 * sizeof *c->rng);
    c->rng[0] = 0xFFFFFFFFFFFFFFFFull, c->rng[1] = 7;
    c->epoch = 3, c->meta_step = 0x100000001ull;
    ckpt_add_hyper(c, "lr", 0.01);
    ckpt_add_hyper(c, "clip", INFINITY);
    c->task = strdup("mnist activation=sigmoid hidden=20");
    c->meta_loss = strdup("log");
    ckpt_add_kv(c, "host", "box");
    ckpt_add_kv(c, "note", "");
    free(p), free(b);
}

static int same_doubles(const double *a, const double *b, size_t n)
{
    return (n == 0) || (a && b && memcmp(a, b, n * sizeof *a) == 0);
}

static void assert_same(const Checkpoint *a, const Checkpoint *b)
{
    ASSERT_STR(a->opt_name, b->opt_name);
    ASSERT(a->spec_hash == b->spec_hash);
    ASSERT_STR(a->spec_text, b->spec_text);
    ASSERT_EQ(a->n_params, b->n_params);
    ASSERT(same_doubles(a->params, b->params, a->n_params));
    ASSERT_EQ(!!a->best, !!b->best);
    if (a->best) ASSERT(same_doubles(a->best, b->best, a->n_params));
    if (a->best) ASSERT(memcmp(&a->best_loss, &b->best_loss, sizeof(double)) == 0);
    ASSERT_STR(a->meta_opt, b->meta_opt);
    ASSERT_EQ(a->n_state, b->n_state);
    for (size_t k = 0; k < a->n_state && k < b->n_state; k++) {
        ASSERT_STR(a->state[k].name, b->state[k].name);
        ASSERT_EQ(a->state[k].n, b->state[k].n);
        ASSERT(same_doubles(a->state[k].v, b->state[k].v, a->state[k].n));
    }
    ASSERT_EQ(a->n_rng, b->n_rng);
    ASSERT(a->n_rng == b->n_rng && memcmp(a->rng, b->rng, a->n_rng * 8) == 0);
    ASSERT(a->epoch == b->epoch);
    ASSERT(a->meta_step == b->meta_step);
    ASSERT_EQ(a->n_hypers, b->n_hypers);
    for (size_t k = 0; k < a->n_hypers && k < b->n_hypers; k++) {
        ASSERT_STR(a->hypers[k].name, b->hypers[k].name);
        ASSERT(memcmp(&a->hypers[k].value, &b->hypers[k].value, sizeof(double)) == 0);
    }
    ASSERT_STR(a->task, b->task);
    ASSERT_EQ(!!a->meta_loss, !!b->meta_loss);
    if (a->meta_loss) ASSERT_STR(a->meta_loss, b->meta_loss);
    ASSERT_EQ(a->n_kv, b->n_kv);
    for (size_t k = 0; k < a->n_kv && k < b->n_kv; k++) {
        ASSERT_STR(a->kv[k].key, b->kv[k].key);
        ASSERT_STR(a->kv[k].value, b->kv[k].value);
    }
}

/* Does the scratch directory hold a temp file (".tmp." in its name)? */
static int temp_files_left(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

/* ---- crafting files: find a section, splice bytes, recompute the CRC --------------- */

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void wr32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }

static void wr64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i); }

/* Offset of the frame of the section tagged t (4 chars), or 0 when absent. */
static size_t find_section(const uint8_t *b, size_t len, const char *t)
{
    for (size_t pos = 12; pos + 12 <= len;) {
        if (memcmp(b + pos, t, 4) == 0) return pos;
        uint64_t n = rd32(b + pos + 4) | (uint64_t)rd32(b + pos + 8) << 32;
        pos += 12 + n;
    }
    return 0;
}

/* Replace cut bytes at `at` with ins[0..nins); returns the new malloc'd buffer. */
static uint8_t *splice(const uint8_t *b, size_t *len, size_t at, size_t cut,
                       const void *ins, size_t nins)
{
    uint8_t *o = malloc(*len - cut + nins);
    memcpy(o, b, at);
    if (nins) memcpy(o + at, ins, nins);
    memcpy(o + at + nins, b + at + cut, *len - at - cut);
    *len = *len - cut + nins;
    return o;
}

static void reseal(uint8_t *b, size_t len) { wr32(b + len - 4, ckpt_crc32(0, b, len - 4)); }

static int read_mem(const uint8_t *b, size_t len, char *err, size_t errlen)
{
    Checkpoint c;
    int rc = ckpt_read_mem(b, len, "x.ckpt", &c, err, errlen);
    ckpt_free(&c);
    return rc;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_crc(void)
{
    ASSERT(ckpt_crc32(0, "123456789", 9) == 0xCBF43926u);
    ASSERT(ckpt_crc32(ckpt_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    ASSERT(ckpt_crc32(0, "", 0) == 0);
}

static void test_round_trip(void)
{
    Checkpoint a, b;
    char err[512] = "";
    make_sample(&a, 40);
    ASSERT_EQ(0, ckpt_write(in_dir("a.ckpt"), &a, err, sizeof err));
    ASSERT_STR("", err);
    ASSERT_EQ(0, ckpt_read(in_dir("a.ckpt"), &b, err, sizeof err));
    assert_same(&a, &b);
    ASSERT_EQ(0, ckpt_check_spec(&b, "x.ckpt", a.spec_hash, "phs_adam", err, sizeof err));
    ckpt_free(&b);

    // Encoding is deterministic: the same checkpoint gives the same bytes.
    uint8_t *e1, *e2;
    size_t n1, n2;
    ASSERT_EQ(0, ckpt_encode(&a, "a", &e1, &n1, err, sizeof err));
    ASSERT_EQ(0, ckpt_encode(&a, "a", &e2, &n2, err, sizeof err));
    ASSERT(n1 == n2 && memcmp(e1, e2, n1) == 0);
    ASSERT(memcmp(e1, "HAMCKPT\0\1\0\0\0", 12) == 0);
    free(e1), free(e2);
    ckpt_free(&a);
    ckpt_free(&a);   // twice is harmless

    // The sparse end: no best, no lists, NULL strings (written as ""), P = 0.
    Checkpoint z = {0};
    ASSERT_EQ(0, ckpt_write(in_dir("z.ckpt"), &z, err, sizeof err));
    ASSERT_EQ(0, ckpt_read(in_dir("z.ckpt"), &b, err, sizeof err));
    ASSERT_STR("", b.opt_name);
    ASSERT_STR("", b.spec_text);
    ASSERT_STR("", b.task);
    ASSERT(b.best == NULL);
    ASSERT(b.meta_loss == NULL);   // no LOSS section written, none read
    ASSERT_EQ(0, b.n_params + b.n_state + b.n_rng + b.n_hypers + b.n_kv);
    ckpt_free(&b);
}

static void test_atomic(void)
{
    Checkpoint a, big, back;
    char err[512];
    char path[512];
    snprintf(path, sizeof path, "%s", in_dir("run.ckpt"));   // in_dir's buffer is reused
    make_sample(&a, 10);
    make_sample(&big, 100000);
    big.epoch = 99;
    ASSERT_EQ(0, ckpt_write(path, &a, err, sizeof err));

    // A missing directory: fails, names the cause.
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no/such/dir/run.ckpt", dir);
    ASSERT_EQ(-1, ckpt_write(missing, &big, err, sizeof err));
    ASSERT(strstr(err, "No such file or directory") != NULL);
    ASSERT(strncmp(err, missing, strlen(missing)) == 0);

    // A path that is a directory: the rename fails, the temp file goes away.
    mkdir(in_dir("adir"), 0755);
    ASSERT_EQ(-1, ckpt_write(in_dir("adir"), &big, err, sizeof err));
    ASSERT(strstr(err, "cannot replace") != NULL);
    ASSERT_EQ(0, temp_files_left());
    ASSERT_EQ(-1, ckpt_read(in_dir("adir"), &back, err, sizeof err));
    ASSERT(strstr(err, "is a directory") != NULL);

    // A "directory" that is a regular file.
    char under_file[600];
    snprintf(under_file, sizeof under_file, "%s/x.ckpt", path);
    ASSERT_EQ(-1, ckpt_write(under_file, &big, err, sizeof err));

    // The disk fills mid-write: RLIMIT_FSIZE makes write() fail with EFBIG once the
    // file reaches 4 KiB (big is ~1.6 MB).  Root is bound by it too.
    struct rlimit old, small = {4096, 0};
    getrlimit(RLIMIT_FSIZE, &old);
    small.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(0, setrlimit(RLIMIT_FSIZE, &small));
    ASSERT_EQ(-1, ckpt_write(path, &big, err, sizeof err));
    setrlimit(RLIMIT_FSIZE, &old);
    ASSERT(strstr(err, "cannot write") != NULL);
    ASSERT_EQ(0, temp_files_left());

    // A NaN: refused before any file is made.
    big.params[7] = NAN;
    ASSERT_EQ(-1, ckpt_write(path, &big, err, sizeof err));
    ASSERT_EQ(0, temp_files_left());

    // After all that, A is still there and whole.
    ASSERT_EQ(0, ckpt_read(path, &back, err, sizeof err));
    assert_same(&a, &back);
    ASSERT(back.epoch == 3);
    ckpt_free(&back);

    // A stale temp file of ours (a crash with the same pid) does not block the write.
    char stale[600];
    snprintf(stale, sizeof stale, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(stale, "w");
    if (f) fputs("junk", f), fclose(f);
    big.params[7] = 1;
    ASSERT_EQ(0, ckpt_write(path, &big, err, sizeof err));
    ASSERT_EQ(0, temp_files_left());
    ASSERT_EQ(0, ckpt_read(path, &back, err, sizeof err));
    ASSERT(back.epoch == 99 && back.n_params == 100000);
    ckpt_free(&back);
    ckpt_free(&a), ckpt_free(&big);
}

/* Every single-byte change (three patterns per byte) and every truncation is refused. */
static void test_corruption(void)
{
    Checkpoint a;
    char err[512];
    uint8_t *buf;
    size_t len;
    make_sample(&a, 3);
    ASSERT_EQ(0, ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err));
    ckpt_free(&a);
    ASSERT_EQ(0, read_mem(buf, len, err, sizeof err));

    const uint8_t flips[] = {0x01, 0x80, 0xFF};
    size_t accepted = 0, unnamed = 0, tried = 0;
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k < sizeof flips; k++) {
            uint8_t *copy = malloc(len);
            memcpy(copy, buf, len);
            copy[i] ^= flips[k];
            err[0] = 0;
            if (read_mem(copy, len, err, sizeof err) == 0) {
                if (!accepted) fprintf(stderr, "    flip %#x at byte %zu accepted\n", flips[k], i);
                accepted++;
            }
            unnamed += strncmp(err, "x.ckpt: ", 8) != 0 || strchr(err, '\n') != NULL;
            tried++;
            free(copy);
        }
    ASSERT_EQ(3 * len, tried);
    ASSERT_EQ(0, accepted);
    ASSERT_EQ(0, unnamed);

    // A flip inside the spec text is caught by the checksum alone.
    buf[find_section(buf, len, "SPEC") + 12 + 8 + 3] ^= 0x20;
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (checksum mismatch)", err);
    buf[find_section(buf, len, "SPEC") + 12 + 8 + 3] ^= 0x20;

    size_t not_truncated = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);   // exactly n bytes, so ASan sees any overread
        memcpy(copy, buf, n);
        err[0] = 0;
        int rc = read_mem(copy, n, err, sizeof err);
        if (rc == 0 || strncmp(err, "x.ckpt: truncated", 17) != 0) {
            if (!not_truncated) fprintf(stderr, "    length %zu: rc %d, \"%s\"\n", n, rc, err);
            not_truncated++;
        }
        free(copy);
    }
    ASSERT_EQ(0, not_truncated);

    // One stray byte at the end.
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    ASSERT_EQ(-1, read_mem(longer, len + 1, err, sizeof err));
    ASSERT(strstr(err, "stray bytes after the checksum") != NULL);
    free(longer);
    free(buf);
}

static void test_messages(void)
{
    char err[512];
    Checkpoint a;
    uint8_t *buf;
    size_t len;
    make_sample(&a, 4);
    ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err);
    ckpt_free(&a);

    ASSERT_EQ(-1, read_mem((const uint8_t *)"optimizer x {}\n", 15, err, sizeof err));
    ASSERT_STR("x.ckpt: not a ham checkpoint (bad magic)", err);
    ASSERT_EQ(-1, read_mem((const uint8_t *)"HAM", 3, err, sizeof err));
    ASSERT_STR("x.ckpt: truncated (3 bytes)", err);

    // A newer version with a good checksum: say so, not "corrupt".
    wr32(buf + 8, 2);
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT_STR("x.ckpt: written by a newer ham (checkpoint format 2; this ham reads up to 1): "
               "upgrade ham to load it", err);
    // The same version field with a stale checksum is damage, not a newer file.
    wr32(buf + len - 4, 0);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (checksum mismatch)", err);
    wr32(buf + 8, 1);
    reseal(buf, len);
    ASSERT_EQ(0, read_mem(buf, len, err, sizeof err));

    ASSERT_EQ(-1, ckpt_read(in_dir("nonexistent.ckpt"), &a, err, sizeof err));
    ASSERT(strstr(err, "nonexistent.ckpt: cannot open: No such file") != NULL);
    free(buf);
}

/* Lengths and counts far beyond the file: refused before allocating.  Under ASan a
 * 2^60-byte malloc would abort the test, so passing shows nothing was allocated. */
static void test_huge_lengths(void)
{
    char err[512];
    Checkpoint a;
    uint8_t *buf;
    size_t len;
    make_sample(&a, 4);
    ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err);
    ckpt_free(&a);

    // A section length of 2^62 (framing).
    size_t parm = find_section(buf, len, "PARM");
    wr64(buf + parm + 4, (uint64_t)1 << 62);
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT(strstr(err, "x.ckpt: truncated (section 'PARM' at byte") != NULL);
    wr64(buf + parm + 4, 8 + 4 * 8);

    // P = 2^60 inside a well-framed, well-sealed section.
    wr64(buf + parm + 12, (uint64_t)1 << 60);
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (section 'PARM': count 1152921504606846976 exceeds the section)", err);
    wr64(buf + parm + 12, 4);

    // 2^32-1 state arrays, 2^32-1 RNG words, 2^32-1 metadata pairs.
    const char *lists[] = {"RNG ", "KVMD"};
    for (int k = 0; k < 2; k++) {
        size_t at = find_section(buf, len, lists[k]);
        uint32_t was = rd32(buf + at + 12);
        wr32(buf + at + 12, 0xFFFFFFFFu);
        reseal(buf, len);
        ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
        ASSERT(strstr(err, "count 4294967295 exceeds the section") != NULL);
        wr32(buf + at + 12, was);
    }
    size_t mopt = find_section(buf, len, "MOPT");
    size_t count_at = mopt + 12 + 4 + 4;   // after the str "adam"
    wr32(buf + count_at, 0xFFFFFFFFu);
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT(strstr(err, "'MOPT': count 4294967295") != NULL);
    wr32(buf + count_at, 3);
    // A string length of 2^32-1.
    wr32(buf + mopt + 12, 0xFFFFFFFFu);
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (section 'MOPT': payload ends early)", err);
    wr32(buf + mopt + 12, 4);
    reseal(buf, len);
    ASSERT_EQ(0, read_mem(buf, len, err, sizeof err));
    free(buf);
}

/* Well-sealed files that break the rules above the framing. */
static void test_semantic_faults(void)
{
    char err[512];
    Checkpoint a;
    uint8_t *buf, *o;
    size_t len, n;
    make_sample(&a, 4);
    ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err);
    ckpt_free(&a);

    // A NaN param (the reader refuses what the writer would).
    size_t parm = find_section(buf, len, "PARM");
    double nan = NAN;
    memcpy(buf + parm + 12 + 8 + 2 * 8, &nan, 8);
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT(strstr(err, "corrupt (section 'PARM': param 2 is") != NULL);
    double two = 2;
    memcpy(buf + parm + 12 + 8 + 2 * 8, &two, 8);
    reseal(buf, len);

    // BEST with a different P: drop its last value and shrink its length and count.
    size_t best = find_section(buf, len, "BEST");
    n = len;
    o = splice(buf, &n, best + 12 + 16 + 3 * 8, 8, NULL, 0);
    wr64(o + best + 4, 16 + 3 * 8);
    wr64(o + best + 12 + 8, 3);
    reseal(o, n);
    ASSERT_EQ(-1, read_mem(o, n, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (best params hold 3 values, params 4)", err);
    free(o);

    // A required section missing.
    size_t step = find_section(buf, len, "STEP");
    n = len;
    o = splice(buf, &n, step, 12 + 16, NULL, 0);
    reseal(o, n);
    ASSERT_EQ(-1, read_mem(o, n, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (required section 'STEP' missing)", err);
    free(o);

    // A section twice.
    n = len;
    o = splice(buf, &n, step, 0, buf + step, 12 + 16);
    reseal(o, n);
    ASSERT_EQ(-1, read_mem(o, n, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (section 'STEP' appears twice)", err);
    free(o);

    // A known section with bytes left over.
    n = len;
    uint8_t pad = 0;
    o = splice(buf, &n, step + 12 + 16, 0, &pad, 1);
    wr64(o + step + 4, 17);
    reseal(o, n);
    ASSERT_EQ(-1, read_mem(o, n, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (section 'STEP': 1 stray bytes at its end)", err);
    free(o);

    // A NUL inside a string.
    size_t task = find_section(buf, len, "TASK");
    buf[task + 12 + 4 + 5] = 0;
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (section 'TASK': a string holds a NUL byte)", err);
    free(buf);
}

/* A section from the future, before END and at the front: skipped, the rest intact. */
static void test_unknown_section(void)
{
    char err[512];
    Checkpoint a, b;
    uint8_t *buf, *o, *o2;
    size_t len, n;
    make_sample(&a, 6);
    ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err);
    uint8_t sec[12 + 5] = "FUTR";
    wr64(sec + 4, 5);
    memcpy(sec + 12, "hello", 5);
    n = len;
    o = splice(buf, &n, len - 4 - 12, 0, sec, sizeof sec);
    o2 = splice(o, &n, 12, 0, sec, sizeof sec);
    reseal(o2, n);
    ASSERT_EQ(0, ckpt_read_mem(o2, n, "x.ckpt", &b, err, sizeof err));
    assert_same(&a, &b);
    ckpt_free(&b);
    // Unknown sections are not repeated-section errors either.
    ckpt_free(&a);
    free(buf), free(o), free(o2);
}

/* LOSS, the meta-loss, came after version 1 shipped, as an optional section.  A file
 * without it (an older ham's, or one with meta_loss NULL) reads with meta_loss NULL and
 * everything else intact; a writer with meta_loss NULL writes exactly the old bytes. */
static void test_meta_loss_section(void)
{
    char err[512];
    Checkpoint a, b;
    uint8_t *buf, *old, *e;
    size_t len, n, elen;
    make_sample(&a, 5);
    ASSERT_EQ(0, ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err));
    size_t loss = find_section(buf, len, "LOSS");
    ASSERT(loss != 0);
    ASSERT_EQ(4 + 3, (long long)(rd32(buf + loss + 4) | (uint64_t)rd32(buf + loss + 8) << 32));
    ASSERT(memcmp(buf + loss + 12, "\3\0\0\0log", 7) == 0);
    ASSERT_EQ(0, ckpt_read_mem(buf, len, "x.ckpt", &b, err, sizeof err));
    ASSERT_STR("log", b.meta_loss);
    ckpt_free(&b);

    // The same file as an older ham wrote it: the LOSS section cut out.
    n = len;
    old = splice(buf, &n, loss, 12 + 7, NULL, 0);
    reseal(old, n);
    ASSERT_EQ(0, ckpt_read_mem(old, n, "x.ckpt", &b, err, sizeof err));
    ASSERT(b.meta_loss == NULL);
    free(a.meta_loss);
    a.meta_loss = NULL;
    assert_same(&a, &b);
    ckpt_free(&b);
    ASSERT_EQ(0, ckpt_encode(&a, "x.ckpt", &e, &elen, err, sizeof err));
    ASSERT(elen == n && memcmp(e, old, n) == 0);
    free(e), free(old), free(buf);

    // Any string reads back (the trainer, not the format, knows the names), "" included.
    a.meta_loss = strdup("");
    ASSERT_EQ(0, ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err));
    ASSERT_EQ(0, ckpt_read_mem(buf, len, "x.ckpt", &b, err, sizeof err));
    ASSERT_STR("", b.meta_loss);
    ckpt_free(&b);
    free(buf);
    // A damaged LOSS payload is refused like any other section's.
    free(a.meta_loss);
    a.meta_loss = strdup("sum");
    ASSERT_EQ(0, ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err));
    loss = find_section(buf, len, "LOSS");
    wr32(buf + loss + 12, 4);
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (section 'LOSS': payload ends early)", err);
    free(buf);
    ckpt_free(&a);

    // Files of the first version-1 hams, kept as fuzzing seeds: they load, no meta-loss,
    // and re-encode to the same bytes.
    const char *seeds[] = {"tests/fuzz/checkpoint/full.ckpt", "tests/fuzz/checkpoint/nobest.ckpt"};
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(seeds[k], "rb");
        ASSERT(f != NULL);
        if (!f) continue;
        static uint8_t file[1 << 16];
        size_t flen = fread(file, 1, sizeof file, f);
        fclose(f);
        ASSERT(find_section(file, flen, "LOSS") == 0);
        ASSERT_EQ(0, ckpt_read_mem(file, flen, seeds[k], &b, err, sizeof err));
        ASSERT(b.meta_loss == NULL);
        ASSERT(b.n_params > 0);
        ASSERT_EQ(0, ckpt_encode(&b, seeds[k], &e, &elen, err, sizeof err));
        ASSERT(elen == flen && memcmp(e, file, flen) == 0);
        free(e);
        ckpt_free(&b);
    }
}

static void test_nan_refusal(void)
{
    char err[512];
    Checkpoint a;
    make_sample(&a, 8);
    a.params[5] = NAN;
    ASSERT_EQ(-1, ckpt_write(in_dir("nan.ckpt"), &a, err, sizeof err));
    ASSERT(strstr(err, "nan.ckpt: refusing to write: param 5 is") != NULL);
    ASSERT(access(in_dir("nan.ckpt"), F_OK) != 0);
    a.params[5] = -INFINITY;
    ASSERT_EQ(-1, ckpt_write(in_dir("nan.ckpt"), &a, err, sizeof err));
    ASSERT(strstr(err, "param 5 is -inf") != NULL);
    a.params[5] = 0;
    a.best[1] = INFINITY;
    ASSERT_EQ(-1, ckpt_write(in_dir("nan.ckpt"), &a, err, sizeof err));
    ASSERT(strstr(err, "best param 1 is inf") != NULL);
    a.best[1] = 0;
    a.best_loss = NAN;
    ASSERT_EQ(-1, ckpt_write(in_dir("nan.ckpt"), &a, err, sizeof err));
    ASSERT(strstr(err, "best loss is NaN") != NULL);
    a.best_loss = INFINITY;   // no finite evaluation yet: allowed
    a.state[1].v[2] = NAN;
    ASSERT_EQ(-1, ckpt_write(in_dir("nan.ckpt"), &a, err, sizeof err));
    ASSERT(strstr(err, "meta-optimizer state 'm'[2] is NaN") != NULL);
    a.state[1].v[2] = 0;
    a.hypers[0].value = NAN;
    ASSERT_EQ(-1, ckpt_write(in_dir("nan.ckpt"), &a, err, sizeof err));
    ASSERT(strstr(err, "hyper 'lr' is NaN") != NULL);
    a.hypers[0].value = 1;
    ASSERT(access(in_dir("nan.ckpt"), F_OK) != 0);
    ASSERT_EQ(0, temp_files_left());
    ASSERT_EQ(0, ckpt_write(in_dir("nan.ckpt"), &a, err, sizeof err));
    ckpt_free(&a);
}

static void test_spec_check(void)
{
    char err[512];
    Checkpoint a;
    make_sample(&a, 2);
    ASSERT_EQ(0, ckpt_check_spec(&a, "x.ckpt", 0x0123456789ABCDEFull, "phs_adam", err, sizeof err));
    ASSERT_EQ(0, ckpt_check_spec(&a, "x.ckpt", 0x0123456789ABCDEFull, NULL, err, sizeof err));
    ASSERT_EQ(-1, ckpt_check_spec(&a, "x.ckpt", 0xFEDCBA9876543210ull, "phs_adam", err, sizeof err));
    ASSERT_STR("x.ckpt: made for optimizer 'phs_adam' from spec hash 0123456789abcdef, "
               "but this spec hashes to fedcba9876543210 (the spec changed): resume with the "
               "original spec (the checkpoint holds its text), or start a fresh run", err);
    ASSERT_EQ(-1, ckpt_check_spec(&a, "x.ckpt", 0x0123456789ABCDEFull, "lion", err, sizeof err));
    ASSERT_STR("x.ckpt: made for optimizer 'phs_adam' (spec hash 0123456789abcdef), not "
               "'lion' (spec hash 0123456789abcdef): resume with the spec it was made for "
               "(the checkpoint holds its text), or start a fresh run", err);
    ckpt_free(&a);
}

/* Names from a file are quoted so that a message stays one line (a fuzzing find: a
 * hyper named "1\n}" with a NaN value gave a three-line error). */
static void test_one_line_messages(void)
{
    char err[512];
    Checkpoint a = {0};
    uint8_t *buf;
    size_t len;
    ckpt_add_hyper(&a, "1\n}", NAN);
    ASSERT_EQ(-1, ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err));
    ASSERT_STR("x.ckpt: refusing to write: hyper '1?}' is NaN", err);
    a.hypers[0].value = 1;
    ASSERT_EQ(0, ckpt_encode(&a, "x.ckpt", &buf, &len, err, sizeof err));
    double nan = NAN;
    memcpy(buf + find_section(buf, len, "HYPR") + 12 + 4 + 4 + 3, &nan, 8);
    reseal(buf, len);
    ASSERT_EQ(-1, read_mem(buf, len, err, sizeof err));
    ASSERT_STR("x.ckpt: corrupt (section 'HYPR': hyper '1?}' is NaN)", err);
    free(buf);

    // Long names are cut at 40 bytes.
    char long_name[100];
    memset(long_name, 'n', 99);
    long_name[99] = 0;
    free(a.opt_name);
    a.opt_name = strdup("made\r\nby");
    ASSERT_EQ(-1, ckpt_check_spec(&a, "x.ckpt", 0, long_name, err, sizeof err));
    ASSERT(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
    ASSERT(strstr(err, "'made??by'") != NULL);
    ASSERT(strstr(err, "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...'") != NULL);
    ckpt_free(&a);
}

/* Remove the scratch directory and what the tests left in it. */
static void cleanup(void)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        const char *p = in_dir(e->d_name);
        if (rmdir(p) != 0) unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ham-ckpt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("test_checkpoint: mkdtemp");
        return 1;
    }
    test_crc();
    test_round_trip();
    test_atomic();
    test_corruption();
    test_messages();
    test_huge_lengths();
    test_semantic_faults();
    test_unknown_section();
    test_meta_loss_section();
    test_nan_refusal();
    test_spec_check();
    test_one_line_messages();
    cleanup();
    return test_summary();
}
