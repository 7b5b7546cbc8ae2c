/* test.h: a tiny unit-test harness shared by the C tests in tests/unit/.
 *
 * Each test binary calls its checks through the macros below and ends main() with
 * `return test_summary();`, which prints the closing line `N passed, N failed` and
 * returns nonzero when any check failed.  A failed check prints the expression text,
 * the file and line, and the values compared, then the test goes on, so one run
 * reports every failure (as chibicc's test/test.h does). */
#ifndef HAM_TEST_H
#define HAM_TEST_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_passed_count, test_failed_count;

static inline void test_record(int ok, const char *file, int line, const char *what)
{
    if (ok) {
        test_passed_count++;
        return;
    }
    test_failed_count++;
    fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
}

/* ASSERT(cond): a boolean check. */
#define ASSERT(cond) test_record(!!(cond), __FILE__, __LINE__, #cond)

/* ASSERT_EQ(expected, actual): integers. */
#define ASSERT_EQ(expected, actual)                                                    \
    do {                                                                               \
        long long e_ = (long long)(expected), a_ = (long long)(actual);                \
        test_record(e_ == a_, __FILE__, __LINE__, #actual " == " #expected);           \
        if (e_ != a_) fprintf(stderr, "    expected %lld, got %lld\n", e_, a_);        \
    } while (0)

/* ASSERT_STR(expected, actual): C strings (NULL compares unequal to any string). */
#define ASSERT_STR(expected, actual)                                                   \
    do {                                                                               \
        const char *e_ = (expected), *a_ = (actual);                                   \
        int ok_ = e_ && a_ && strcmp(e_, a_) == 0;                                     \
        test_record(ok_, __FILE__, __LINE__, #actual " == " #expected);                \
        if (!ok_) fprintf(stderr, "    expected \"%s\"\n    got      \"%s\"\n",        \
                          e_ ? e_ : "(null)", a_ ? a_ : "(null)");                     \
    } while (0)

/* ASSERT_CLOSE(expected, actual, rel): |a - e| <= rel * max(1, |e|). */
#define ASSERT_CLOSE(expected, actual, rel)                                            \
    do {                                                                               \
        double e_ = (expected), a_ = (actual);                                         \
        double tol_ = (rel) * (fabs(e_) > 1 ? fabs(e_) : 1);                           \
        int ok_ = fabs(a_ - e_) <= tol_;                                               \
        test_record(ok_, __FILE__, __LINE__, #actual " ~= " #expected);                \
        if (!ok_) fprintf(stderr, "    expected %.17g, got %.17g (tol %.3g)\n",        \
                          e_, a_, tol_);                                               \
    } while (0)

/* test_each_spec: fn(path, ctx) for every .ham file of dir but prelude.ham (the tests
 * that go over stdlib/ and examples/); how many, or -1 if dir cannot be read. */
static inline int test_each_spec(const char *dir, void (*fn)(const char *path, void *ctx), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    char path[1024];
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ham") != 0 || strcmp(e->d_name, "prelude.ham") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fn(path, ctx);
        n++;
    }
    closedir(d);
    return n;
}

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
    return test_failed_count != 0;
}

#endif
