#ifndef C_POGREB_CRC32C_H
#define C_POGREB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `length` bytes at `data`,
/// continuing from `crc`, the result of a previous call (0 to start). So
/// c_pogreb_crc32c(0, "123456789", 9) == 0xE3069283, and
/// c_pogreb_crc32c(c_pogreb_crc32c(0, a, n), b, m) is the CRC of a followed by b.
/// `data` may be NULL when `length` is 0. Thread-safe.
///
/// Uses the SSE4.2 `crc32` instruction on x86_64 and the ARMv8 CRC32 instructions on aarch64
/// when the CPU has them (checked once, at the first call), and a slicing-by-8 table otherwise.
uint32_t c_pogreb_crc32c(uint32_t crc, const void *data, size_t length);

/// 1 when c_pogreb_crc32c uses CPU instructions, 0 when it uses the portable tables.
int c_pogreb_crc32c_hardware(void);

/// The portable slicing-by-8 implementation, whatever the CPU (for tests and benchmarks).
uint32_t c_pogreb_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// The checksum of an index bucket: the CRC-32C of bytes 0..<60 of the 64 bytes at `bucket`
/// followed by the 8 bytes of `id` in little-endian order, i.e.
/// c_pogreb_crc32c(c_pogreb_crc32c(0, bucket, 60), id_le, 8). One call, no loop, for the read path.
uint32_t c_pogreb_crc32c_bucket(const void *bucket, uint64_t id);

#ifdef __cplusplus
}
#endif

#endif
