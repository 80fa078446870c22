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

long czlib_uncompress_prefix(const unsigned char *source, size_t length, unsigned char *destination, size_t capacity) {
    z_stream stream = {0};
    if (inflateInit(&stream) != Z_OK) return -1;
    stream.next_in = (unsigned char *)source;
    stream.avail_in = (uInt)length;
    stream.next_out = destination;
    stream.avail_out = (uInt)capacity;
    int result = inflate(&stream, Z_SYNC_FLUSH);
    long produced = (long)(capacity - stream.avail_out);
    inflateEnd(&stream);
    // Running out of input or of room is expected: only a prefix was asked for.
    if (result != Z_OK && result != Z_STREAM_END && result != Z_BUF_ERROR) return -1;
    return produced;
}

size_t czlib_gzip(const unsigned char *source, size_t length, unsigned char *destination, size_t capacity) {
    z_stream stream = {0};
    // 15 window bits + 16: a gzip (RFC 1952) header and trailer instead of zlib's.
    if (length > 0xFFFFFFFFu) return 0;
    if (capacity > 0xFFFFFFFFu) capacity = 0xFFFFFFFFu;
    if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    stream.next_in = (unsigned char *)source;
    stream.avail_in = (uInt)length;
    stream.next_out = destination;
    stream.avail_out = (uInt)capacity;
    int result = deflate(&stream, Z_FINISH);
    size_t produced = capacity - stream.avail_out;
    deflateEnd(&stream);
    return result == Z_STREAM_END ? produced : 0;
}

size_t czlib_gzip_bound(size_t length) {
    // compressBound covers the deflate data and zlib's 6 bytes; gzip's header and trailer take 18.
    return compressBound(length) + 18;
}
