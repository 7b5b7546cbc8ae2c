/* fuzz_checkpoint.c: libFuzzer target for the checkpoint reader (runtime/checkpoint.c).
 *
 * The input is one checkpoint file's bytes, given to ckpt_read_mem, the reader behind
 * ckpt_read.  Sanitizers catch overreads, leaks and huge allocations; beyond that, an
 * input the reader accepts must survive a round trip, which turns silent bugs into
 * crashes:
 *   - the writer must accept it (the reader refuses everything the writer refuses,
 *     so a NaN that slips past the reader shows up here), and
 *   - encode(read(encode(c))) must equal encode(c) byte for byte (the encoding is
 *     canonical: unknown sections and section order are dropped by the first encode).
 * Almost every mutation breaks the CRC-32, which would keep the fuzzer out of the
 * section parsers, so each input is read twice: as it is, and "resealed" (its last 4
 * bytes replaced by the right CRC of the rest).  tests/fuzz/checkpoint.dict and the
 * seeds in tests/fuzz/checkpoint/ keep the fuzzer near valid files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_checkpoint: %s: %s\n", what, err);
    abort();
}

/* Read one input; when it is accepted, check the round trip. */
static void check(const uint8_t *data, size_t size)
{
    Checkpoint c, again;
    char err[512];
    if (ckpt_read_mem(data, size, "fuzz.ckpt", &c, err, sizeof err) != 0) {
        if (strncmp(err, "fuzz.ckpt: ", 11) != 0 || strchr(err, '\n'))
            die("error is not one line naming the file", err);
        return;
    }
    uint8_t *b1, *b2;
    size_t n1, n2;
    if (ckpt_encode(&c, "fuzz.ckpt", &b1, &n1, err, sizeof err) != 0)
        die("the reader accepted what the writer refuses", err);
    if (ckpt_read_mem(b1, n1, "fuzz.ckpt", &again, err, sizeof err) != 0)
        die("cannot read back what was written", err);
    if (ckpt_encode(&again, "fuzz.ckpt", &b2, &n2, err, sizeof err) != 0)
        die("cannot write again", err);
    if (n1 != n2 || memcmp(b1, b2, n1) != 0) die("round trip", "encodings differ");
    free(b1), free(b2);
    ckpt_free(&c), ckpt_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size < 4) return 0;
    uint8_t *sealed = malloc(size);   // exactly size bytes, so ASan sees any overread
    if (!sealed) return 0;
    memcpy(sealed, data, size);
    uint32_t crc = ckpt_crc32(0, data, size - 4);
    for (int i = 0; i < 4; i++) sealed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    check(sealed, size);
    free(sealed);
    return 0;
}
