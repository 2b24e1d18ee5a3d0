// CRC-32C (Castagnoli) with runtime dispatch to CPU instructions.
//
// The CRC is the usual reflected one: polynomial 0x1EDC6F41 (0x82F63B78 bit-reversed), initial
// value and final xor 0xFFFFFFFF. The public functions take and return the finished value, so a
// running CRC is passed straight back in to continue it; internally the "register" is the
// inverted value, which is what the CPU instructions operate on.
//
// Hardware path: the crc32 instruction has a latency of about three cycles but can start one
// per cycle, so long inputs are cut into three lanes whose CRCs are computed interleaved and
// then joined. Joining uses the linearity of the CRC register: the register after A then B is
// shift_|B|(register after A) xor (register over B started from 0), where shift_n multiplies by
// x^(8n) modulo the polynomial; shift_n for the two lane sizes used is a 4 x 256 table.

#include "CPogrebCRC32C.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define POGREB_CRC32C_X86 1
#elif defined(__aarch64__)
#include <arm_acle.h>
#define POGREB_CRC32C_ARM 1
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1UL << 7)  // arch/arm64/include/uapi/asm/hwcap.h
#endif
#endif
#endif

#define POLYNOMIAL 0x82F63B78u

// Bytes per lane for the three-lane loops.
#define LONG_LANE 1024
#define SHORT_LANE 128

static uint32_t byte_table[8][256];  // slicing-by-8; byte_table[0] is the plain byte table
static uint32_t long_shift[4][256];  // shift by LONG_LANE bytes, one table per register byte
static uint32_t short_shift[4][256];  // shift by SHORT_LANE bytes

// MARK: - Tables

static void build_byte_tables(void) {
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t reg = byte;
        for (int bit = 0; bit < 8; bit++) {
            reg = (reg >> 1) ^ (POLYNOMIAL & (0u - (reg & 1u)));
        }
        byte_table[0][byte] = reg;
    }
    // byte_table[k][b]: the register for byte b followed by k zero bytes.
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t reg = byte_table[0][byte];
        for (int k = 1; k < 8; k++) {
            reg = (reg >> 8) ^ byte_table[0][reg & 0xFF];
            byte_table[k][byte] = reg;
        }
    }
}

// The register after feeding `count` zero bytes to register `reg`.
static uint32_t feed_zeros(uint32_t reg, size_t count) {
    while (count-- > 0) {
        reg = (reg >> 8) ^ byte_table[0][reg & 0xFF];
    }
    return reg;
}

// table[k][b] = shift_count(b << 8k), built from the 32 single-bit images (shift is linear).
static void build_shift_table(uint32_t table[4][256], size_t count) {
    uint32_t bit_image[32];
    for (int bit = 0; bit < 32; bit++) {
        bit_image[bit] = feed_zeros(1u << bit, count);
    }
    for (int k = 0; k < 4; k++) {
        for (uint32_t byte = 0; byte < 256; byte++) {
            uint32_t image = 0;
            for (int bit = 0; bit < 8; bit++) {
                if (byte & (1u << bit)) {
                    image ^= bit_image[8 * k + bit];
                }
            }
            table[k][byte] = image;
        }
    }
}

// MARK: - Portable: slicing-by-8

static inline uint32_t load32_le(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t crc32c_slice8(uint32_t reg, const unsigned char *p, size_t length) {
    while (length >= 8) {
        uint32_t low = load32_le(p) ^ reg;
        uint32_t high = load32_le(p + 4);
        reg = byte_table[7][low & 0xFF] ^ byte_table[6][(low >> 8) & 0xFF] ^
              byte_table[5][(low >> 16) & 0xFF] ^ byte_table[4][low >> 24] ^
              byte_table[3][high & 0xFF] ^ byte_table[2][(high >> 8) & 0xFF] ^
              byte_table[1][(high >> 16) & 0xFF] ^ byte_table[0][high >> 24];
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        reg = (reg >> 8) ^ byte_table[0][(reg ^ *p++) & 0xFF];
        length--;
    }
    return reg;
}

// MARK: - CPU instructions

#if defined(POGREB_CRC32C_X86)
#define POGREB_CRC32C_HAVE_HARDWARE 1
#define HARDWARE_TARGET __attribute__((target("sse4.2")))

HARDWARE_TARGET static inline uint32_t hw_u8(uint32_t reg, uint8_t value) { return _mm_crc32_u8(reg, value); }
HARDWARE_TARGET static inline uint32_t hw_u32(uint32_t reg, uint32_t value) { return _mm_crc32_u32(reg, value); }
HARDWARE_TARGET static inline uint32_t hw_u64(uint32_t reg, uint64_t value) {
    return (uint32_t)_mm_crc32_u64(reg, value);
}

static int detect_hardware(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

#elif defined(POGREB_CRC32C_ARM)
#define POGREB_CRC32C_HAVE_HARDWARE 1
#define HARDWARE_TARGET __attribute__((target("crc")))

HARDWARE_TARGET static inline uint32_t hw_u8(uint32_t reg, uint8_t value) { return __crc32cb(reg, value); }
HARDWARE_TARGET static inline uint32_t hw_u32(uint32_t reg, uint32_t value) { return __crc32cw(reg, value); }
HARDWARE_TARGET static inline uint32_t hw_u64(uint32_t reg, uint64_t value) { return __crc32cd(reg, value); }

static int detect_hardware(void) {
#if defined(__APPLE__)
    return 1;  // every Apple arm64 CPU implements the CRC32 extension
#elif defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0 ? 1 : 0;
#else
    return 0;
#endif
}

#else
static int detect_hardware(void) { return 0; }
#endif

#if defined(POGREB_CRC32C_HAVE_HARDWARE)
HARDWARE_TARGET static inline uint64_t load64(const unsigned char *p) {
    uint64_t word;
    memcpy(&word, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    word = __builtin_bswap64(word);
#endif
    return word;
}

// The register `reg` followed by the zero bytes `table` was built for.
static inline uint32_t shift(const uint32_t table[4][256], uint32_t reg) {
    return table[0][reg & 0xFF] ^ table[1][(reg >> 8) & 0xFF] ^ table[2][(reg >> 16) & 0xFF] ^ table[3][reg >> 24];
}

// Three lanes of `lane` bytes each, interleaved, then joined with `table` (shift by `lane`).
HARDWARE_TARGET static inline uint32_t three_lanes(
    uint32_t reg, const unsigned char *p, size_t lane, const uint32_t table[4][256]) {
    uint32_t a = reg, b = 0, c = 0;
    const unsigned char *end = p + lane;
    while (p < end) {
        a = hw_u64(a, load64(p));
        b = hw_u64(b, load64(p + lane));
        c = hw_u64(c, load64(p + 2 * lane));
        p += 8;
    }
    a = shift(table, a) ^ b;
    return shift(table, a) ^ c;
}

HARDWARE_TARGET static uint32_t crc32c_hardware(uint32_t reg, const unsigned char *p, size_t length) {
    while (length >= 3 * LONG_LANE) {
        reg = three_lanes(reg, p, LONG_LANE, long_shift);
        p += 3 * LONG_LANE;
        length -= 3 * LONG_LANE;
    }
    while (length >= 3 * SHORT_LANE) {
        reg = three_lanes(reg, p, SHORT_LANE, short_shift);
        p += 3 * SHORT_LANE;
        length -= 3 * SHORT_LANE;
    }
    while (length >= 8) {
        reg = hw_u64(reg, load64(p));
        p += 8;
        length -= 8;
    }
    if (length >= 4) {
        uint32_t word = load32_le(p);
        reg = hw_u32(reg, word);
        p += 4;
        length -= 4;
    }
    while (length > 0) {
        reg = hw_u8(reg, *p++);
        length--;
    }
    return reg;
}

// The register after bytes 0..<60 of a bucket and then the 8 little-endian bytes of its id.
HARDWARE_TARGET static inline uint32_t bucket_hardware(uint32_t reg, const unsigned char *p, uint64_t id) {
    for (int word = 0; word < 7; word++) {
        reg = hw_u64(reg, load64(p + 8 * word));
    }
    reg = hw_u32(reg, load32_le(p + 56));
    return hw_u64(reg, id);
}
#endif

// MARK: - Dispatch

enum { STATE_UNKNOWN = 0, STATE_PORTABLE = 1, STATE_HARDWARE = 2 };

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int state;  // read and written with __atomic builtins

static void initialize(void) {
    build_byte_tables();  // the portable entry point needs them whatever the CPU
    int hardware = detect_hardware();
    if (hardware) {
        build_shift_table(long_shift, LONG_LANE);
        build_shift_table(short_shift, SHORT_LANE);
    }
    __atomic_store_n(&state, hardware ? STATE_HARDWARE : STATE_PORTABLE, __ATOMIC_RELEASE);
}

static inline int current_state(void) {
    int current = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(current == STATE_UNKNOWN, 0)) {
        pthread_once(&init_once, initialize);
        current = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    }
    return current;
}

uint32_t c_pogreb_crc32c(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
#if defined(POGREB_CRC32C_HAVE_HARDWARE)
    if (current_state() == STATE_HARDWARE) {
        return ~crc32c_hardware(~crc, p, length);
    }
#else
    (void)current_state();
#endif
    return ~crc32c_slice8(~crc, p, length);
}

int c_pogreb_crc32c_hardware(void) {
    return current_state() == STATE_HARDWARE ? 1 : 0;
}

uint32_t c_pogreb_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    (void)current_state();
    return ~crc32c_slice8(~crc, (const unsigned char *)data, length);
}

// One function for the read path: compiled with the CRC instructions enabled (it executes them
// only once the CPU is known to have them), so the bucket's eight steps are inlined here and a
// bucket costs one call.
#if defined(POGREB_CRC32C_HAVE_HARDWARE)
HARDWARE_TARGET
#endif
uint32_t c_pogreb_crc32c_bucket(const void *bucket, uint64_t id) {
    const unsigned char *p = (const unsigned char *)bucket;
#if defined(POGREB_CRC32C_HAVE_HARDWARE)
    if (__builtin_expect(current_state() == STATE_HARDWARE, 1)) {
        return ~bucket_hardware(0xFFFFFFFFu, p, id);
    }
#else
    (void)current_state();
#endif
    unsigned char id_bytes[8];
    for (int i = 0; i < 8; i++) {
        id_bytes[i] = (unsigned char)(id >> (8 * i));
    }
    return ~crc32c_slice8(crc32c_slice8(0xFFFFFFFFu, p, 60), id_bytes, 8);
}
