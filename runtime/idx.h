/* idx.h: loading IDX files, the format MNIST ships in, and MNIST itself.
 *
 * An IDX file is a big-endian header followed by raw row-major data: the magic
 * 0x00 0x00 TYPE NDIMS, then NDIMS 32-bit sizes, then prod(sizes) elements.  idx_load()
 * reads one such file (only the ubyte type 0x08, up to IDX_MAX_DIMS dims) and checks
 * that the header is sane and the file holds exactly the data the header promises.
 * mnist_load() reads the four MNIST files from a directory (what `make data` fetches),
 * checks that images and labels agree, and hands back the pixel bytes as they are
 * (47 MB for the training set, where floats took 188 MB); mnist_pixels_to_float turns
 * rows of them into the floats in [0,1] the network reads.
 *
 * Errors: both loaders return 0 on success; otherwise nonzero, the output struct is left
 * empty (safe to free), and err holds one line naming the file, the fault and the fix.
 *
 * Ownership: the caller owns the struct; idx_free()/mnist_free() release its buffers
 * and leave it empty, so calling them twice is harmless. */
#ifndef HAM_IDX_H
#define HAM_IDX_H

#include <stddef.h>
#include <stdint.h>

enum {
    IDX_UBYTE = 0x08,   // element type code: unsigned byte, the only one we read
    IDX_MAX_DIMS = 4,   // MNIST needs 3; 4 covers channels-first image sets
};

// Largest data block idx_load() will allocate.  A corrupt header can claim up to
// (2^32-1)^4 elements, so the size is checked before malloc; MNIST train images are
// 47 MB, and 1 GiB still admits the larger EMNIST splits (~550 MB).
#define IDX_MAX_BYTES ((size_t)1 << 30)

enum {
    MNIST_ROWS = 28,                        // image height in pixels
    MNIST_COLS = 28,                        // image width in pixels
    MNIST_PIXELS = MNIST_ROWS * MNIST_COLS, // 784 floats per image row
    MNIST_CLASSES = 10,                     // labels are digits 0..9
};

typedef struct IdxArray {
    uint8_t type;                // element type code (IDX_UBYTE)
    int ndims;                   // number of dims, 1..IDX_MAX_DIMS
    uint32_t dims[IDX_MAX_DIMS]; // sizes, outermost first; unused entries are 0
    size_t count;                // prod(dims): number of elements in data
    uint8_t *data;               // count elements, row-major; owned, see idx_free
} IdxArray;

typedef struct MnistSplit {
    size_t n;        // number of examples
    uint8_t *pixels; // n x MNIST_PIXELS bytes, row-major, as in the file (0..255)
    uint8_t *labels; // n labels, each in 0..MNIST_CLASSES-1
} MnistSplit;

typedef struct Mnist {
    MnistSplit train; // 60000 examples in the standard set
    MnistSplit test;  // 10000 examples (the t10k files)
} Mnist;

// Load the IDX file at path into *out.  0 on success; else nonzero with a cause in err.
int idx_load(const char *path, IdxArray *out, char *err, size_t errlen);
// The same from the len bytes at buf (the whole file); name stands for the path in err.
// The data is copied: buf stays the caller's.
int idx_load_mem(const void *buf, size_t len, const char *name, IdxArray *out, char *err,
                 size_t errlen);
void idx_free(IdxArray *a);

// Load dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte into *out.  0 on success.
int mnist_load(const char *dir, Mnist *out, char *err, size_t errlen);
void mnist_free(Mnist *m);

// out[i] = pixels[i] / 255 as a float, for n values: 0 -> 0.0 and 255 -> 1.0 exactly,
// each the float nearest byte / 255 (the division is a float one, correctly rounded).
void mnist_pixels_to_float(const uint8_t *pixels, size_t n, float *out);

#endif
