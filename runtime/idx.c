/* idx.c: the IDX file loader and the MNIST loader built on it.
 *
 * idx_load() reads a file in three steps, each checked before the next: the 4-byte magic
 * (0x00 0x00 type ndims), the ndims big-endian 32-bit sizes, then the data.
 * idx_load_mem() makes the same checks, with the same messages, on a buffer (the
 * fuzz target tests/fuzz/fuzz_idx.c drives it); both go through check_input().  The element
 * count is multiplied out with an overflow check and capped at IDX_MAX_BYTES, and the
 * file's size must equal header + data exactly, all before anything is allocated, so a
 * corrupt or hostile header costs nothing.  mnist_load() loads the four standard files,
 * checks their shapes (n x 28 x 28 images, n labels, the same n, labels in 0..9) and
 * converts pixels to floats.
 *
 * Every failure message has the form `PATH: error: WHAT; run `make data``, because in
 * this project the only IDX files are the ones tools/fetch_mnist.sh fetches and verifies.
 *
 * The buffers are malloc'd (large ones on huge pages, data_alloc): they live as long as
 * the caller's IdxArray or Mnist (typically a whole training run), not as long as any
 * compiler or REPL arena. */
#include "idx.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define FIX "run `make data` to fetch and verify MNIST"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

// Write "PATH: error: MSG; FIX" into err (if there is room for anything) and return -1.
PRINTF_LIKE(4, 5)
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    if (!err || errlen == 0) return -1;
    int n = snprintf(err, errlen, "%s: error: ", path);
    if (n < 0 || (size_t)n >= errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)(n + m) >= errlen) return -1;
    snprintf(err + n + m, errlen - (size_t)(n + m), "; %s", FIX);
    return -1;
}

// Big-endian 32-bit word: b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3].
static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

// The longest header: the magic and IDX_MAX_DIMS sizes.
#define IDX_MAX_HEADER (4 + 4 * IDX_MAX_DIMS)

// Read the magic and the dims from the len bytes at b (the file's first bytes, or all of
// them if fewer than IDX_MAX_HEADER) into *a; return the header length, or -1 with err set.
static long read_header(const uint8_t *b, size_t len, const char *path, IdxArray *a,
                        char *err, size_t errlen)
{
    if (len < 4)
        return fail(err, errlen, path, "truncated header (%zu of 4 magic bytes)", len);
    if (b[0] != 0 || b[1] != 0 || b[2] != IDX_UBYTE)
        return fail(err, errlen, path, "wrong magic 0x%08x (expected 0x000008NN: ubyte, NN dims)",
                    (unsigned)be32(b));
    if (b[3] < 1 || b[3] > IDX_MAX_DIMS)
        return fail(err, errlen, path, "wrong dims: %u dimensions (expected 1..%d)",
                    b[3], IDX_MAX_DIMS);
    a->type = b[2];
    a->ndims = b[3];
    size_t want = 4 * (size_t)a->ndims;
    if (len - 4 < want)
        return fail(err, errlen, path, "truncated header (%zu of %zu dimension bytes)", len - 4,
                    want);
    for (int i = 0; i < a->ndims; i++)
        a->dims[i] = be32(b + 4 + 4 * i);
    return (long)(4 + want);
}

// count = prod(dims), refusing zero sizes and anything over IDX_MAX_BYTES (checked per
// factor, so the product never overflows).
static int check_count(const char *path, IdxArray *a, char *err, size_t errlen)
{
    size_t count = 1;
    for (int i = 0; i < a->ndims; i++) {
        uint32_t d = a->dims[i];
        if (d == 0)  // an empty array is never a valid data set here
            return fail(err, errlen, path, "wrong dims: dimension %d is 0", i);
        if (d > IDX_MAX_BYTES / count)
            return fail(err, errlen, path,
                        "wrong dims: dimension %d (%u) takes the data past the %zu MiB limit",
                        i, (unsigned)d, IDX_MAX_BYTES >> 20);
        count *= d;
    }
    a->count = count;
    return 0;
}

// The whole input (total bytes) must hold exactly header + count bytes: short is
// truncation, long is a header that does not describe the file.
static int check_size(size_t total, const char *path, long header, size_t count, char *err,
                      size_t errlen)
{
    size_t have = total > (size_t)header ? total - (size_t)header : 0;
    if (have < count)
        return fail(err, errlen, path, "truncated data (%zu of %zu bytes after the header)",
                    have, count);
    if (have > count)
        return fail(err, errlen, path,
                    "size mismatch: %zu data bytes, but the dims give %zu", have, count);
    return 0;
}

// The checks shared by both loaders, on the first got bytes of an input of total bytes;
// on success *a has its dims and count, and the data starts at the returned offset.
static long check_input(const uint8_t *first, size_t got, size_t total, const char *path,
                        IdxArray *a, char *err, size_t errlen)
{
    long header = read_header(first, got, path, a, err, errlen);
    if (header < 0 || check_count(path, a, err, errlen) ||
        check_size(total, path, header, a->count, err, errlen))
        return -1;
    return header;
}

int idx_load_mem(const void *buf, size_t len, const char *name, IdxArray *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    IdxArray a = {0};
    long header = check_input(buf, len, len, name, &a, err, errlen);
    if (header < 0) return -1;
    if (!(a.data = malloc(a.count)))
        return fail(err, errlen, name, "out of memory for %zu bytes", a.count);
    memcpy(a.data, (const uint8_t *)buf + header, a.count);
    *out = a;
    return 0;
}

/* A data buffer.  MNIST's training images (47 MB) are read once, faulting 11k pages of
 * 4 KiB in, and then sampled a row at a time at random.  Buffers of 2 MiB and more are
 * 2 MiB-aligned and advised to be transparent huge pages (which the kernel grants in its
 * madvise and always modes).  Measured on a VM (Zen 5), `hamc run` of Adam on MNIST: 1
 * run of 1 step 0.29 -> 0.16-0.24 s, 10 runs of 100 steps 0.48 -> 0.31 s, the same bits;
 * the first hundred minibatch gradients of a process took 450 us (median) on small
 * pages and 115 us on huge ones, later ones 100 us on either (whether that warm-up is
 * TLB misses or the host's first touches was not measured: no PMU counters here). */
static void *data_alloc(size_t n)
{
    enum { HUGE_PAGE = 2 << 20 };
    if (n < HUGE_PAGE) return malloc(n);
    size_t rounded = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;   // aligned_alloc's rule
    void *p = aligned_alloc(HUGE_PAGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, rounded, MADV_HUGEPAGE);   // only advice: failing it is harmless
#endif
    return p;
}

// Reads only the header before the checks (not the whole file, which may be huge or not
// an IDX file at all), then the data straight into its buffer: no second copy.
int idx_load(const char *path, IdxArray *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, path, "%s (%s)", errno == ENOENT ? "missing file" : "cannot open",
                    strerror(errno));
    struct stat dst;
    if (fstat(fileno(f), &dst) == 0 && S_ISDIR(dst.st_mode)) {   // fopen takes a directory
        fclose(f);
        return fail(err, errlen, path, "is a directory, not an IDX file");
    }
    IdxArray a = {0};
    uint8_t first[IDX_MAX_HEADER];
    size_t got = fread(first, 1, sizeof first, f);
    struct stat st;
    long header = -1;
    if (got >= 4 && fstat(fileno(f), &st) != 0)  // a short read fails in read_header first
        fail(err, errlen, path, "cannot stat (%s)", strerror(errno));
    else
        header = check_input(first, got, got < 4 ? got : (size_t)st.st_size, path, &a, err,
                             errlen);
    int rc = header < 0;
    if (!rc && !(a.data = data_alloc(a.count)))
        rc = fail(err, errlen, path, "out of memory for %zu bytes", a.count);
    if (!rc && (fseek(f, header, SEEK_SET) != 0 ||
                fread(a.data, 1, a.count, f) != a.count))  // the file shrank under us
        rc = fail(err, errlen, path, "truncated data (read error)");
    fclose(f);
    if (rc) {
        free(a.data);
        return -1;
    }
    *out = a;
    return 0;
}

void idx_free(IdxArray *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}

void mnist_free(Mnist *m)
{
    free(m->train.pixels);
    free(m->train.labels);
    free(m->test.pixels);
    free(m->test.labels);
    memset(m, 0, sizeof *m);
}

// Check that images (n x 28 x 28) and labels (n, values 0..9) describe one split.
static int check_split(const char *ipath, const IdxArray *im, const char *lpath,
                       const IdxArray *lb, char *err, size_t errlen)
{
    if (im->ndims != 3 || im->dims[1] != MNIST_ROWS || im->dims[2] != MNIST_COLS)
        return fail(err, errlen, ipath, "wrong dims: expected n x %d x %d images", MNIST_ROWS,
                    MNIST_COLS);
    if (lb->ndims != 1)
        return fail(err, errlen, lpath, "wrong dims: expected a 1-dimensional label list");
    if (im->dims[0] != lb->dims[0])
        return fail(err, errlen, lpath, "count mismatch: %u labels but %u images in %s",
                    (unsigned)lb->dims[0], (unsigned)im->dims[0], ipath);
    for (size_t i = 0; i < lb->count; i++)
        if (lb->data[i] >= MNIST_CLASSES)
            return fail(err, errlen, lpath, "label %u at index %zu is outside 0..%d",
                        lb->data[i], i, MNIST_CLASSES - 1);
    return 0;
}

// Load one split from dir/PREFIX-images-idx3-ubyte and dir/PREFIX-labels-idx1-ubyte.
static int load_split(const char *dir, const char *prefix, MnistSplit *s, char *err,
                      size_t errlen)
{
    char ipath[4096], lpath[4096];
    if ((size_t)snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte", dir, prefix) >=
            sizeof ipath ||
        (size_t)snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte", dir, prefix) >=
            sizeof lpath)
        return fail(err, errlen, dir, "directory path too long (limit %zu)", sizeof ipath - 32);
    IdxArray im = {0}, lb = {0};
    int rc = idx_load(ipath, &im, err, errlen) || idx_load(lpath, &lb, err, errlen) ||
             check_split(ipath, &im, lpath, &lb, err, errlen);
    if (!rc) {
        s->pixels = im.data;  // kept as bytes; mnist_pixels_to_float converts rows
        im.data = NULL;
        s->n = im.dims[0];
        s->labels = lb.data;  // the label bytes are already the uint8 we hand out
        lb.data = NULL;
    }
    idx_free(&im);
    idx_free(&lb);
    return rc ? -1 : 0;
}

/* A minibatch converts 100k bytes per step.  The same division, compiled three ways
 * and picked by the CPU: AVX2 takes half the time of SSE2's 4-lane division, the
 * build's baseline, and AVX-512 (16 lanes; gcc's tuning would keep 8 unless told)
 * half again, 4.3 against 8.6 us on a Zen 5. */
#define PIXELS_TO_FLOAT(name, attributes)                                          \
    attributes static void name(const uint8_t *pixels, size_t n, float *out)      \
    {                                                                             \
        for (size_t i = 0; i < n; i++) out[i] = (float)pixels[i] / 255.0f;        \
    }
PIXELS_TO_FLOAT(pixels_to_float_avx512, __attribute__((target("avx512f,avx512bw,prefer-vector-width=512"))))
PIXELS_TO_FLOAT(pixels_to_float_avx2, __attribute__((target("avx2"))))
PIXELS_TO_FLOAT(pixels_to_float_base, )   // the build's baseline

/* Picked once, at the first call (the conversion runs per minibatch row).  Not an ifunc:
 * a resolver runs before the sanitizers are set up, and the ASan build crashed in it. */
typedef void PixelsToFloat(const uint8_t *, size_t, float *);
static PixelsToFloat *pick_pixels_to_float(void)
{
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return pixels_to_float_avx512;
    return __builtin_cpu_supports("avx2") ? pixels_to_float_avx2 : pixels_to_float_base;
}

void mnist_pixels_to_float(const uint8_t *pixels, size_t n, float *out)
{
    static _Atomic(PixelsToFloat *) picked;   // threads racing to set it set the same value
    PixelsToFloat *f = atomic_load_explicit(&picked, memory_order_relaxed);
    if (!f) atomic_store_explicit(&picked, f = pick_pixels_to_float(), memory_order_relaxed);
    f(pixels, n, out);
}

int mnist_load(const char *dir, Mnist *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (load_split(dir, "train", &out->train, err, errlen) ||
        load_split(dir, "t10k", &out->test, err, errlen)) {
        mnist_free(out);
        return -1;
    }
    return 0;
}
