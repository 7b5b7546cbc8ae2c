/* test_idx.c: unit tests for runtime/idx.c, the IDX and MNIST loaders.
 *
 * Each case writes a small synthetic IDX file into a fresh mkdtemp() directory, loads it,
 * and checks either the data or the error: that it fails, and that the one-line message
 * names the file, the fault and the `make data` fix.  The last case loads the real MNIST
 * from data/mnist when `make data` has fetched it, and is skipped (counted neither way,
 * a note on stderr) when it has not. */
#include "idx.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/ham-test-idx.XXXXXX";
static char err[512];

// Write the bytes [p, p+n) to tmpdir/name; return the full path (static buffer per call
// slot, so two paths can be alive at once).
static const char *write_file(const char *name, const void *p, size_t n)
{
    static char paths[4][600];
    static int slot;
    char *path = paths[slot++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "test_idx: cannot write %s\n", path);
        exit(1);
    }
    return path;
}

// Append the big-endian 32-bit word v at b.
static void put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

// Build an IDX ubyte file in buf: header for the given dims, then `data` bytes of i%256
// (or of fill when fill >= 0).  Returns the total length.
static size_t make_idx(uint8_t *buf, int ndims, const uint32_t *dims, size_t data, int fill)
{
    buf[0] = 0, buf[1] = 0, buf[2] = IDX_UBYTE, buf[3] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++)
        put_be32(buf + 4 + 4 * i, dims[i]);
    size_t h = 4 + 4 * (size_t)ndims;
    for (size_t i = 0; i < data; i++)
        buf[h + i] = (uint8_t)(fill >= 0 ? fill : (int)(i % 256));
    return h + data;
}

// Load path expecting failure; check that err names the file, says `what`, and the fix.
static void expect_fail(const char *path, const char *what)
{
    IdxArray a;
    ASSERT(idx_load(path, &a, err, sizeof err) != 0);
    ASSERT(a.data == NULL);
    ASSERT(strstr(err, path) != NULL);
    ASSERT(strstr(err, what) != NULL);
    ASSERT(strstr(err, "make data") != NULL);
    if (!strstr(err, what)) fprintf(stderr, "    message was: %s\n", err);
}

static void test_round_trip(void)
{
    static uint8_t buf[64];
    uint32_t dims[] = {2, 3, 4};
    const char *p = write_file("ok.idx", buf, make_idx(buf, 3, dims, 24, -1));
    IdxArray a;
    ASSERT_EQ(0, idx_load(p, &a, err, sizeof err));
    ASSERT_EQ(IDX_UBYTE, a.type);
    ASSERT_EQ(3, a.ndims);
    ASSERT_EQ(2, a.dims[0]);
    ASSERT_EQ(3, a.dims[1]);
    ASSERT_EQ(4, a.dims[2]);
    ASSERT_EQ(24, a.count);
    int same = a.data != NULL;
    for (size_t i = 0; same && i < 24; i++)
        same = a.data[i] == i;
    ASSERT(same);
    idx_free(&a);
    ASSERT(a.data == NULL);
    idx_free(&a);  // twice is harmless
}

static void test_missing(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/no-such-file", tmpdir);
    expect_fail(path, "missing file");
}

static void test_truncated_header(void)
{
    static uint8_t buf[64];
    uint32_t dims[] = {5, 5};
    make_idx(buf, 2, dims, 0, 0);
    expect_fail(write_file("short-magic.idx", buf, 3), "truncated header");
    expect_fail(write_file("short-dims.idx", buf, 9), "truncated header");
    expect_fail(write_file("empty.idx", buf, 0), "truncated header");
}

static void test_truncated_data(void)
{
    static uint8_t buf[64];
    uint32_t dims[] = {5, 5};
    size_t n = make_idx(buf, 2, dims, 25, 7);
    expect_fail(write_file("short-data.idx", buf, n - 1), "truncated data");
    expect_fail(write_file("long-data.idx", buf, n + 1), "size mismatch");
}

static void test_wrong_magic(void)
{
    static uint8_t buf[64];
    uint32_t dims[] = {4};
    size_t n = make_idx(buf, 1, dims, 4, 1);
    buf[2] = 0x0D;  // float type: not supported
    expect_fail(write_file("float.idx", buf, n), "wrong magic");
    buf[2] = IDX_UBYTE, buf[0] = 0x1f;  // e.g. a gzip file that was never unpacked
    expect_fail(write_file("gzip.idx", buf, n), "wrong magic");
    buf[0] = 0, buf[3] = 0;
    expect_fail(write_file("zero-dims.idx", buf, n), "wrong dims");
    buf[3] = IDX_MAX_DIMS + 1;
    expect_fail(write_file("five-dims.idx", buf, n), "wrong dims");
}

static void test_dims_overflow(void)
{
    static uint8_t buf[64];
    uint32_t huge[] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    expect_fail(write_file("huge.idx", buf, make_idx(buf, 4, huge, 0, 0)), "limit");
    uint32_t big[] = {1u << 16, 1u << 15};  // 2 GiB: each factor fine, product over cap
    expect_fail(write_file("big.idx", buf, make_idx(buf, 2, big, 0, 0)), "limit");
    uint32_t zero[] = {3, 0};
    expect_fail(write_file("zero.idx", buf, make_idx(buf, 2, zero, 0, 0)), "wrong dims");
}

// Write an MNIST-shaped split: n images of 28x28 (pixel value i%256) and m labels (i%10).
static void write_split(const char *prefix, uint32_t n, uint32_t m)
{
    static uint8_t buf[16 + 4 * MNIST_PIXELS];
    char name[64];
    uint32_t idims[] = {n, MNIST_ROWS, MNIST_COLS}, ldims[] = {m};
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    write_file(name, buf, make_idx(buf, 3, idims, (size_t)n * MNIST_PIXELS, -1));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    size_t len = make_idx(buf, 1, ldims, 0, 0);
    for (uint32_t i = 0; i < m; i++)
        buf[len + i] = (uint8_t)(i % 10);
    write_file(name, buf, len + m);
}

static void test_mnist_synthetic(void)
{
    write_split("train", 3, 3);
    write_split("t10k", 2, 2);
    Mnist m;
    ASSERT_EQ(0, mnist_load(tmpdir, &m, err, sizeof err));
    ASSERT_EQ(3, m.train.n);
    ASSERT_EQ(2, m.test.n);
    ASSERT_EQ(0, m.train.pixels[0]);
    ASSERT_EQ(255, m.train.pixels[255]);
    ASSERT_EQ(801 % 256, m.test.pixels[MNIST_PIXELS + 17]);  // flat 801
    ASSERT_EQ(2, m.train.labels[2]);
    ASSERT_EQ(1, m.test.labels[1]);
    mnist_free(&m);
    ASSERT(m.train.pixels == NULL);
}

/* The floats the network reads: each byte / 255 rounded once, 0 and 1 exact, whatever
 * the length (the vector clones' remainders) and alignment of the row. */
static void test_pixels_to_float(void)
{
    uint8_t b[300];
    float f[300];
    for (int i = 0; i < 300; i++) b[i] = (uint8_t)(i * 7 + 3);
    for (int n = 0; n <= 37; n++)
        for (int off = 0; off < 4; off++) {
            memset(f, 0xff, sizeof f);
            mnist_pixels_to_float(b + off, (size_t)n, f + off);
            int ok = 1;
            for (int i = 0; i < n; i++) ok &= f[off + i] == (float)b[off + i] / 255.0f;   // what the loader made before
            ok &= n + off >= 300 || (f[off + n] != f[off + n]);   // nothing past n written (NaN fill)
            ASSERT(ok);
        }
    for (int v = 0; v < 256; v++) b[v] = (uint8_t)v;
    mnist_pixels_to_float(b, 256, f);
    int all = 1;
    for (int v = 0; v < 256; v++) all &= f[v] == (float)v / 255.0f;
    ASSERT(all);
    ASSERT(f[0] == 0.0f && f[255] == 1.0f);
}

static void test_mnist_mismatch(void)
{
    write_split("train", 3, 2);
    write_split("t10k", 2, 2);
    Mnist m;
    ASSERT(mnist_load(tmpdir, &m, err, sizeof err) != 0);
    ASSERT(m.train.pixels == NULL && m.test.labels == NULL);
    ASSERT(strstr(err, "train-labels-idx1-ubyte") != NULL);
    ASSERT(strstr(err, "count mismatch") != NULL);
    ASSERT(strstr(err, "make data") != NULL);

    write_split("train", 3, 3);  // train good again; the test labels go missing
    char path[600];
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", tmpdir);
    remove(path);
    ASSERT(mnist_load(tmpdir, &m, err, sizeof err) != 0);
    ASSERT(strstr(err, "t10k-labels-idx1-ubyte: error: missing file") != NULL);
}

// The real data, if `make data` has run (the test binary runs from the repo root).
static void test_mnist_real(void)
{
    const char *dir = "data/mnist";
    if (access("data/mnist/train-images-idx3-ubyte", R_OK) != 0) {
        fprintf(stderr, "skipped: real MNIST (no %s; run `make data`)\n", dir);
        return;
    }
    Mnist m;
    int rc = mnist_load(dir, &m, err, sizeof err);
    ASSERT_EQ(0, rc);
    if (rc) {
        fprintf(stderr, "    %s\n", err);
        return;
    }
    ASSERT_EQ(60000, m.train.n);
    ASSERT_EQ(10000, m.test.n);
    int lmax = 0, seen[MNIST_CLASSES] = {0};
    for (size_t i = 0; i < m.train.n; i++) {
        lmax = m.train.labels[i] > lmax ? m.train.labels[i] : lmax;
        seen[m.train.labels[i] % MNIST_CLASSES] = 1;
    }
    ASSERT_EQ(MNIST_CLASSES - 1, lmax);
    ASSERT_EQ(1, seen[0]);
    ASSERT_EQ(5, m.train.labels[0]);  // the first training digit is a 5
    ASSERT_EQ(7, m.test.labels[0]);   // the first test digit is a 7
    int lo = 255, hi = 0;
    for (size_t i = 0; i < m.test.n * MNIST_PIXELS; i++) {
        lo = m.test.pixels[i] < lo ? m.test.pixels[i] : lo;
        hi = m.test.pixels[i] > hi ? m.test.pixels[i] : hi;
    }
    ASSERT_EQ(0, lo);
    ASSERT_EQ(255, hi);
    mnist_free(&m);
}

// Remove every file we may have written, then the directory.
static void cleanup(void)
{
    static const char *names[] = {
        "ok.idx", "short-magic.idx", "short-dims.idx", "empty.idx", "short-data.idx",
        "long-data.idx", "float.idx", "gzip.idx", "zero-dims.idx", "five-dims.idx",
        "huge.idx", "big.idx", "zero.idx", "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    };
    char path[600];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        remove(path);
    }
    rmdir(tmpdir);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("test_idx: mkdtemp");
        return 1;
    }
    test_round_trip();
    test_missing();
    test_truncated_header();
    test_truncated_data();
    test_wrong_magic();
    test_dims_overflow();
    test_mnist_synthetic();
    test_pixels_to_float();
    test_mnist_mismatch();
    test_mnist_real();
    cleanup();
    return test_summary();
}
