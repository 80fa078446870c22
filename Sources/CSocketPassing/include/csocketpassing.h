#include <stddef.h>

/// Sends `count` descriptors (at most 64) and `length` bytes of `data` over the Unix socket
/// `socket` in one message (SCM_RIGHTS). Returns 0, or -1 with errno set.
int csp_send_descriptors(int socket, const int *descriptors, int count, const void *data, size_t length);

/// Receives one message: up to `capacity` descriptors into `descriptors` (their number into
/// `count`) and up to `length` bytes into `data`. Returns the number of bytes, or -1 with errno
/// set. Descriptors beyond `capacity`, or in a truncated message, are closed, not leaked.
long csp_receive_descriptors(int socket, int *descriptors, int capacity, int *count, void *data, size_t length);

/// Accepts a connection on `socket`, close-on-exec. Returns its descriptor, or -1 with errno set.
int csp_accept(int socket);

/// The user id and process id of the peer of the Unix socket `socket`. Returns 0, or -1.
int csp_peer(int socket, unsigned int *uid, int *pid);
