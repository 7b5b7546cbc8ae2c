/* fuzz_idx.c: libFuzzer target for the IDX loader (runtime/idx.c).
 *
 * The input is one IDX file's bytes, given to idx_load_mem, which makes idx_load's
 * checks with idx_load's messages.  Sanitizers catch overreads, leaks and huge
 * allocations; beyond that:
 *   - an accepted input must describe itself: 1..IDX_MAX_DIMS dims, none 0, unused dims
 *     0, count = prod(dims) <= IDX_MAX_BYTES, and header (4 + 4 ndims) + count = size,
 *     with the data equal to the input's tail (ASan checks that count bytes are there);
 *   - a refused input leaves the array empty, and its error is one line that names the
 *     file ("fuzz.idx: error: ...").
 * The seeds in tests/fuzz/idx/ (valid labels and images, truncated, padded) and
 * tests/fuzz/idx.dict keep the fuzzer near valid headers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_idx: %s: %s\n", what, err);
    abort();
}

/* An accepted array must be exactly what the input's header says. */
static void check_accepted(const IdxArray *a, const uint8_t *data, size_t size)
{
    if (a->type != IDX_UBYTE) die("accepted", "type is not ubyte");
    if (a->ndims < 1 || a->ndims > IDX_MAX_DIMS) die("accepted", "ndims out of range");
    size_t count = 1;
    for (int i = 0; i < IDX_MAX_DIMS; i++) {
        if (i >= a->ndims) {
            if (a->dims[i] != 0) die("accepted", "an unused dim is not 0");
            continue;
        }
        if (a->dims[i] == 0) die("accepted", "a dim is 0");
        count *= a->dims[i];  // no overflow: each partial product is <= size
        if (count > size) die("accepted", "dims product exceeds the input");
    }
    size_t header = 4 + 4 * (size_t)a->ndims;
    if (count != a->count) die("accepted", "count is not the dims product");
    if (count > IDX_MAX_BYTES) die("accepted", "count past IDX_MAX_BYTES");
    if (header + count != size) die("accepted", "header + data is not the input size");
    if (!a->data || memcmp(a->data, data + header, count) != 0)
        die("accepted", "data is not the input's tail");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);  // exactly size bytes, so ASan sees overreads
    if (!copy) return 0;
    memcpy(copy, data, size);
    IdxArray a;
    char err[512];
    if (idx_load_mem(copy, size, "fuzz.idx", &a, err, sizeof err) == 0) {
        check_accepted(&a, copy, size);
    } else {
        if (strncmp(err, "fuzz.idx: error: ", 17) != 0 || strchr(err, '\n'))
            die("error is not one line naming the file", err);
        if (a.data || a.ndims || a.count) die("refused", "the array is not left empty");
    }
    idx_free(&a);
    idx_free(&a);  // twice is harmless, as idx.h promises
    free(copy);
    return 0;
}
