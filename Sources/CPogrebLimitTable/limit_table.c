#include "limit_table.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    uint64_t hash;    // 0: empty (hashes of 0 are stored as 1)
    uint64_t offset;  // of the record in `records`
};

struct limit_table {
    struct slot *slots;
    uint64_t mask;  // slot count - 1
    size_t capacity;
    size_t count;
    unsigned char *records;
    size_t record_bytes;
    size_t used;
};

// A 64-bit hash of the key's 8-byte words (multiply and fold); enough to spread the benchmark keys.
static inline uint64_t hash_key(const void *key, uint32_t length) {
    const unsigned char *p = key;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ length;
    while (length >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        __uint128_t m = (__uint128_t)(h ^ w) * 0xBF58476D1CE4E5B9ull;
        h = (uint64_t)m ^ (uint64_t)(m >> 64);
        p += 8;
        length -= 8;
    }
    if (length > 0) {
        uint64_t w = 0;
        memcpy(&w, p, length);
        __uint128_t m = (__uint128_t)(h ^ w) * 0xBF58476D1CE4E5B9ull;
        h = (uint64_t)m ^ (uint64_t)(m >> 64);
    }
    h ^= h >> 29;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 32;
    return h == 0 ? 1 : h;
}

limit_table *limit_table_create(size_t capacity, size_t record_bytes) {
    limit_table *table = calloc(1, sizeof *table);
    if (!table) return NULL;
    uint64_t slots = 16;
    while (slots < 2 * (uint64_t)capacity) slots <<= 1;
    table->slots = calloc(slots, sizeof(struct slot));
    table->records = malloc(record_bytes > 0 ? record_bytes : 1);
    if (!table->slots || !table->records) {
        limit_table_destroy(table);
        return NULL;
    }
    table->mask = slots - 1;
    table->capacity = capacity;
    table->record_bytes = record_bytes;
    return table;
}

void limit_table_destroy(limit_table *table) {
    if (!table) return;
    free(table->slots);
    free(table->records);
    free(table);
}

static inline int record_matches(const limit_table *table, uint64_t offset, const void *key, uint32_t key_length) {
    const unsigned char *record = table->records + offset;
    uint32_t stored;
    memcpy(&stored, record, 4);
    return stored == key_length && memcmp(record + 8, key, key_length) == 0;
}

static inline const void *value_of(const limit_table *table, uint64_t offset, uint32_t *value_length) {
    const unsigned char *record = table->records + offset;
    uint32_t key_length;
    memcpy(&key_length, record, 4);
    memcpy(value_length, record + 4, 4);
    return record + 8 + key_length;
}

int limit_table_put(limit_table *table, const void *key, uint32_t key_length, const void *value,
                    uint32_t value_length) {
    size_t size = (8 + (size_t)key_length + value_length + 7) & ~(size_t)7;
    if (table->used + size > table->record_bytes) return -1;
    uint64_t hash = hash_key(key, key_length);
    uint64_t i = hash & table->mask;
    while (table->slots[i].hash != 0) {
        if (table->slots[i].hash == hash && record_matches(table, table->slots[i].offset, key, key_length)) break;
        i = (i + 1) & table->mask;
    }
    int fresh = table->slots[i].hash == 0;
    if (fresh && table->count >= table->capacity) return -1;
    unsigned char *record = table->records + table->used;
    memcpy(record, &key_length, 4);
    memcpy(record + 4, &value_length, 4);
    memcpy(record + 8, key, key_length);
    memcpy(record + 8 + key_length, value, value_length);
    table->slots[i].hash = hash;
    table->slots[i].offset = table->used;
    table->used += size;
    if (fresh) table->count += 1;
    return 0;
}

static inline const void *lookup(const limit_table *table, uint64_t hash, const void *key, uint32_t key_length,
                                 uint32_t *value_length) {
    uint64_t i = hash & table->mask;
    for (;;) {
        const struct slot *slot = &table->slots[i];
        if (slot->hash == 0) return NULL;
        if (slot->hash == hash && record_matches(table, slot->offset, key, key_length))
            return value_of(table, slot->offset, value_length);
        i = (i + 1) & table->mask;
    }
}

const void *limit_table_get(const limit_table *table, const void *key, uint32_t key_length,
                            uint32_t *value_length) {
    return lookup(table, hash_key(key, key_length), key, key_length, value_length);
}

void limit_table_get_batch(const limit_table *table, const void *keys, uint32_t key_length, size_t count,
                           const void **values, uint32_t *value_lengths) {
    const unsigned char *k = keys;
    uint64_t hashes[16];
    for (size_t start = 0; start < count; start += 16) {
        size_t end = start + 16 < count ? start + 16 : count;
        for (size_t i = start; i < end; i++) {
            hashes[i - start] = hash_key(k + i * key_length, key_length);
            __builtin_prefetch(&table->slots[hashes[i - start] & table->mask]);
        }
        for (size_t i = start; i < end; i++) {
            const struct slot *slot = &table->slots[hashes[i - start] & table->mask];
            if (slot->hash != 0) __builtin_prefetch(table->records + slot->offset);
        }
        for (size_t i = start; i < end; i++)
            values[i] = lookup(table, hashes[i - start], k + i * key_length, key_length, &value_lengths[i]);
    }
}

size_t limit_table_memory(const limit_table *table) {
    return (size_t)(table->mask + 1) * sizeof(struct slot) + table->record_bytes;
}
