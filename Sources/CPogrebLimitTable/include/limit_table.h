// The limit table: an in-memory open-addressing hash table that bounds what memory allows for a
// point lookup. A lookup hashes the key, reads one 16-byte slot (hash and record offset, linear
// probing, at most half full) and one record in one big buffer (key length, value length, key,
// value). Nothing else: no locks, no checksums, no files. Not a store; a yardstick for `compare`.
#ifndef LIMIT_TABLE_H
#define LIMIT_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct limit_table limit_table;

/// A table for up to `capacity` keys whose records total at most `record_bytes` bytes
/// (each record takes 8 + key length + value length bytes, rounded up to 8). NULL when out of memory.
limit_table *limit_table_create(size_t capacity, size_t record_bytes);
void limit_table_destroy(limit_table *table);

/// Inserts or replaces `key`'s value. Returns 0, or -1 when the table is full (more than
/// `capacity` keys or `record_bytes` bytes of records).
int limit_table_put(limit_table *table, const void *key, uint32_t key_length, const void *value,
                    uint32_t value_length);

/// The value of `key` (pointer into the table and length), or NULL when absent.
const void *limit_table_get(const limit_table *table, const void *key, uint32_t key_length,
                            uint32_t *value_length);

/// `count` lookups of keys of `key_length` bytes stored back to back at `keys`, in batches of 16:
/// first every slot is prefetched, then every record, then each lookup runs. `values[i]` and
/// `value_lengths[i]` receive the result of key i (NULL when absent).
void limit_table_get_batch(const limit_table *table, const void *keys, uint32_t key_length, size_t count,
                           const void **values, uint32_t *value_lengths);

/// Bytes of memory the table holds (slots and records).
size_t limit_table_memory(const limit_table *table);

#endif
