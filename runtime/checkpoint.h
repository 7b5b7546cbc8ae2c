/* checkpoint.h: saving and resuming a meta-training run.
 *
 * A checkpoint holds everything needed to resume a run, or to emit the learned
 * optimizer later without the original spec file: the optimizer's name, its spec hash
 * and full spec text, the learned parameters and the best ones found so far (with their
 * evaluation loss), the meta-optimizer's name and state, the RNG words, the epoch and
 * meta-step counters, hyper overrides, the task description, the meta-loss, and
 * free-form metadata.
 *
 * File format (version 1; all integers little-endian, doubles as IEEE-754 binary64 bit
 * patterns in little-endian order):
 *
 *   "HAMCKPT\0"                     8 bytes of magic
 *   version                         u32, CKPT_VERSION
 *   section*                        tag u32, length u64, payload[length]
 *   END section                     tag "END ", length 0
 *   crc                             u32, CRC-32 (IEEE 802.3, as zlib) of every byte before it
 *
 * A tag is four ASCII characters read as a little-endian u32, so "NAME" shows up as
 * NAME in a hex dump.  Strings (str) are a u32 byte count then the bytes, no NUL inside,
 * no terminator.  Sections of version 1 (R = required):
 *
 *   NAME R  str optimizer name
 *   SPEC R  u64 spec hash; then the spec text, the rest of the payload
 *   PARM R  u64 P; P f64 learned params, all finite
 *   BEST    f64 best loss (not NaN; +inf allowed); u64 P (= PARM's P); P finite f64.
 *           Absent until the run has been evaluated once.
 *   MOPT R  str meta-optimizer name; u32 count; count x (str name; u64 n; n f64, no NaN)
 *   RNG  R  u32 count; count u64 words
 *   STEP R  u64 epoch; u64 meta-step
 *   HYPR    u32 count; count x (str name; f64 value, no NaN)
 *   TASK    str task description, e.g. "mnist activation=sigmoid hidden=20"
 *   LOSS    str meta-loss the params were trained with: "sum" or "log" (batch.h's
 *           names; the reader takes any string, the trainer checks it).  Added after
 *           version 1 shipped, as an optional section: files without it (older hams,
 *           the REPL's save) mean "sum", the only meta-loss there was before.
 *   KVMD    u32 count; count x (str key; str value)
 *
 * Compatibility: the envelope (magic, version, tag/length framing, END, trailing CRC-32)
 * never changes, so any ham can tell "corrupt" and "truncated" from "newer".  A reader
 * skips sections whose tag it does not know, so a new optional section needs no version
 * bump; the version goes up only when an old reader would misread the file (a changed
 * payload, a new required section).  A section may appear at most once.
 *
 * Errors: every function returns 0 on success and -1 on failure with one line in err
 * naming the file: "x.ckpt: not a ham checkpoint (bad magic)", "x.ckpt: truncated (...)",
 * "x.ckpt: corrupt (checksum mismatch)".
 *
 * Ownership: a Checkpoint owns every pointer in it (malloc'd; NULL strings are written
 * as "", except meta_loss, whose NULL is written as no LOSS section); ckpt_free() frees
 * them all and zeroes the struct, so it is safe on a zeroed or already freed struct.
 * The ckpt_add_* helpers copy their arguments.  ckpt_read() fills a struct it first
 * zeroes (free the old contents first) and leaves it zeroed on failure. */
#ifndef HAM_CHECKPOINT_H
#define HAM_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_MAGIC "HAMCKPT"   // plus its NUL: 8 bytes
enum {
    CKPT_VERSION = 1,          // the format version this ham writes and the newest it reads
};

typedef struct CkptArray {
    char *name;     // e.g. "m" for Adam's first moment
    size_t n;       // number of values
    double *v;      // n values, none NaN
} CkptArray;

typedef struct CkptHyper {
    char *name;     // hyper parameter name, as in the spec
    double value;   // its override, not NaN
} CkptHyper;

typedef struct CkptKv {
    char *key;      // metadata key, e.g. "host"
    char *value;    // metadata value, any text without NUL
} CkptKv;

typedef struct Checkpoint {
    char *opt_name;          // optimizer name, as declared in the spec
    uint64_t spec_hash;      // hash of the spec, as in Kernel.spec_hash
    char *spec_text;         // the full spec text
    size_t n_params;         // P
    double *params;          // P learned params, all finite
    double *best;            // P best params so far, or NULL when none yet
    double best_loss;        // evaluation loss of best (ignored when best is NULL)
    char *meta_opt;          // meta-optimizer name, e.g. "adam"
    size_t n_state;          // number of meta-optimizer state arrays
    CkptArray *state;        // e.g. {"t", 1}, {"m", P}, {"v", P}
    size_t n_rng;            // number of RNG words
    uint64_t *rng;           // RNG state (Rng.state is one word)
    uint64_t epoch;          // epochs completed
    uint64_t meta_step;      // meta-steps completed
    size_t n_hypers;         // number of hyper overrides
    CkptHyper *hypers;       // name=value overrides
    char *task;              // task description
    char *meta_loss;         // meta-loss name (meta_loss_name: "sum", "log", "late", "loglate"), or NULL: no LOSS section
    size_t n_kv;             // number of metadata pairs
    CkptKv *kv;              // free-form key/value metadata
} Checkpoint;

/* Atomic write: encode, write to "<path>.tmp.<pid>", fsync it, rename it over path,
 * fsync the directory.  On failure the temp file is removed and whatever was at path
 * is untouched.  Refuses non-finite params or best params, and NaN anywhere else.
 * Not for two threads writing the same path at once (they share the temp name). */
int ckpt_write(const char *path, const Checkpoint *c, char *err, size_t errlen);
/* ckpt_check_target: whether ckpt_write could put a file at path (a regular file or
 * none there, a temp file creatable beside it), checked before a long run. */
int ckpt_check_target(const char *path, char *err, size_t errlen);

/* Read and validate the checkpoint at path into *c (see the file comment). */
int ckpt_read(const char *path, Checkpoint *c, char *err, size_t errlen);

void ckpt_free(Checkpoint *c);

/* 0 when c (read from path) was made for this spec; else -1 with a line, starting with
 * the path, saying which optimizer and hash the checkpoint was made for and how to
 * proceed. */
int ckpt_check_spec(const Checkpoint *c, const char *path, uint64_t spec_hash, const char *opt_name,
                    char *err, size_t errlen);

/* Builders: append a copy.  0, or -1 when out of memory. */
int ckpt_set_params(Checkpoint *c, size_t n, const double *params, const double *best,
                    double best_loss);
int ckpt_add_state(Checkpoint *c, const char *name, size_t n, const double *v);
int ckpt_add_hyper(Checkpoint *c, const char *name, double value);
int ckpt_add_kv(Checkpoint *c, const char *key, const char *value);

/* The in-memory halves of write and read, for tests and fuzzing.  ckpt_encode gives a
 * malloc'd buffer (*buf, *len) holding the whole file; name is used in messages. */
int ckpt_encode(const Checkpoint *c, const char *name, uint8_t **buf, size_t *len,
                char *err, size_t errlen);
int ckpt_read_mem(const void *buf, size_t len, const char *name, Checkpoint *c,
                  char *err, size_t errlen);

/* CRC-32 (IEEE 802.3 polynomial, reflected, as zlib's crc32): crc32("123456789") is
 * 0xCBF43926.  Start with crc = 0; chain calls to checksum a buffer in pieces. */
uint32_t ckpt_crc32(uint32_t crc, const void *buf, size_t len);

#endif
