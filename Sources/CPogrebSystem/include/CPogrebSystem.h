#ifndef C_POGREB_SYSTEM_H
#define C_POGREB_SYSTEM_H

/// Swaps the directory entries `a` and `b` atomically (renameat2 with RENAME_EXCHANGE on Linux,
/// renamex_np with RENAME_SWAP on Darwin). Returns 0, or -1 with errno set.
int c_pogreb_exchange(const char *a, const char *b);


/// Asks the CPU to start loading the cache line at `address` (a hint; never faults).
static inline void c_pogreb_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
