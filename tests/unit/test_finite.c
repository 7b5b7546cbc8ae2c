/* test_finite.c: unit tests for runtime/finite.c.
 *
 * floats_finite and doubles_finite over every length up to 67 (the vector loops' bodies
 * and tails, in AVX-512 clones where the CPU has AVX-512): 1 for arrays of finite values
 * of every kind (0, -0, subnormals, the largest finite, ordinary numbers), and 0 with a
 * NaN, +Inf or -Inf at any one position. */
#include "finite.h"
#include "test.h"

#include <float.h>

int main(void)
{
    enum { MAX = 67 };
    static const float ffin[] = {0.0f, -0.0f, 1e-45f, FLT_MIN, -FLT_MAX, FLT_MAX, 3.5f, -1e30f};
    static const double dfin[] = {0.0, -0.0, 5e-324, DBL_MIN, -DBL_MAX, DBL_MAX, 3.5, -1e300};
    const float fbad[] = {NAN, INFINITY, -INFINITY};
    const double dbad[] = {NAN, INFINITY, -INFINITY};
    float f[MAX];
    double d[MAX];
    int wrong_finite = 0, missed = 0;
    for (int n = 0; n <= MAX; n++) {
        for (int i = 0; i < n; i++) f[i] = ffin[i % 8], d[i] = dfin[i % 8];
        wrong_finite += !floats_finite(f, n) + !doubles_finite(d, n);
        for (int at = 0; at < n; at++)
            for (int k = 0; k < 3; k++) {
                f[at] = fbad[k], d[at] = dbad[k];
                missed += floats_finite(f, n) + doubles_finite(d, n);
                f[at] = ffin[at % 8], d[at] = dfin[at % 8];
            }
    }
    ASSERT_EQ(0, wrong_finite);
    ASSERT_EQ(0, missed);
    return test_summary();
}
