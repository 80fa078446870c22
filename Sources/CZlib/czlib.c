#include "czlib.h"
#include <zlib.h>

size_t czlib_compress(const unsigned char *source, size_t length, unsigned char *destination, size_t capacity) {
    uLongf size = capacity;
    if (compress2(destination, &size, source, length, Z_BEST_SPEED) != Z_OK) return 0;
    return size;
}

int czlib_uncompress(const unsigned char *source, size_t length, unsigned char *destination, size_t expected) {
    uLongf size = expected;
    if (uncompress(destination, &size, source, length) != Z_OK) return 0;
    return size == expected;
}

size_t czlib_bound(size_t length) {
    return compressBound(length);
}
