#include <stddef.h>

/// One-shot zlib (RFC 1950) compression for cluster frames. Returns the compressed size, or 0 when
/// `capacity` is too small.
size_t czlib_compress(const unsigned char *source, size_t length, unsigned char *destination, size_t capacity);

/// Inflates exactly `expected` bytes. Returns 1 on success, 0 when the data is corrupt or has
/// another length.
int czlib_uncompress(const unsigned char *source, size_t length, unsigned char *destination, size_t expected);

/// The largest compressed size of `length` bytes.
size_t czlib_bound(size_t length);

/// Inflates the beginning of a zlib stream given only its first `length` bytes, into at most
/// `capacity` bytes. Returns how many bytes it produced, or -1 when the data is corrupt.
long czlib_uncompress_prefix(const unsigned char *source, size_t length, unsigned char *destination, size_t capacity);

/// One-shot gzip (RFC 1952) compression at the fastest level, for `/metrics` scrapes that
/// accept it. Returns the compressed size, or 0 when `capacity` is too small or the length
/// exceeds 4 GiB.
size_t czlib_gzip(const unsigned char *source, size_t length, unsigned char *destination, size_t capacity);

/// A capacity `czlib_gzip` always fits in.
size_t czlib_gzip_bound(size_t length);
