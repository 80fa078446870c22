#include <stddef.h>

/// Bytes malloc has handed out and not had back (glibc's mallinfo2 uordblks), for benchmarks.
size_t heap_stats_bytes_in_use(void);
