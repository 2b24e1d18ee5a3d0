import CLevelDB
import Glibc
import PogrebWorkload

/// LevelDB through its C API (`leveldb/c.h`) with default options (docs/WORKLOADS.md names no
/// settings for it: 8 MiB block cache, no Bloom filter, Snappy as Debian builds it). The load puts
/// one key a call without sync, then writes an empty batch with `sync = true` (LevelDB's way to make
/// earlier writes durable) and closes. `leveldb_get` always returns a malloc'd copy, so its
/// lend and get are the same call.
final class LevelDBEngine: Engine {
    static let name = "leveldb"
    static let onDisk = true
    let db: OpaquePointer
    let readOptions: OpaquePointer

    init(db: OpaquePointer) {
        self.db = db
        self.readOptions = leveldb_readoptions_create()
    }

    static func take(_ error: UnsafeMutablePointer<CChar>?, _ what: String) throws(CompareError) {
        guard let error else { return }
        let text = String(cString: error)
        leveldb_free(error)
        throw CompareError("leveldb \(what): \(text)")
    }

    static func open(_ path: String, create: Bool) throws(CompareError) -> OpaquePointer {
        let options = leveldb_options_create()
        defer { leveldb_options_destroy(options) }
        leveldb_options_set_create_if_missing(options, create ? 1 : 0)
        leveldb_options_set_error_if_exists(options, create ? 1 : 0)
        var error: UnsafeMutablePointer<CChar>?
        let db = leveldb_open(options, path, &error)
        try take(error, "open \(path)")
        guard let db else { throw CompareError("leveldb open \(path) returned nothing") }
        return db
    }

    static func load<D: Dataset>(
        path: String, order: [UInt32], data: D.Type, whileOpen: (() -> Void)?
    ) throws(CompareError) -> Int64? {
        let db = try open(path, create: true)
        defer { leveldb_close(db) }
        let writeOptions = leveldb_writeoptions_create()
        defer { leveldb_writeoptions_destroy(writeOptions) }
        var key = [UInt8](repeating: 0, count: D.keySize)
        var value = [UInt8](repeating: 0, count: D.valueSize)
        var error: UnsafeMutablePointer<CChar>?
        for id in order {
            D.fillKey(UInt64(id), &key)
            D.fillValue(UInt64(id), &value)
            key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in
                    leveldb_put(
                        db, writeOptions, k.baseAddress!.assumingMemoryBound(to: CChar.self), k.count,
                        v.baseAddress!.assumingMemoryBound(to: CChar.self), v.count, &error)
                }
            }
            try take(error, "put")
        }
        let syncOptions = leveldb_writeoptions_create()
        defer { leveldb_writeoptions_destroy(syncOptions) }
        leveldb_writeoptions_set_sync(syncOptions, 1)
        let batch = leveldb_writebatch_create()
        defer { leveldb_writebatch_destroy(batch) }
        leveldb_write(db, syncOptions, batch, &error)
        try take(error, "sync write")
        whileOpen?()
        return nil
    }

    static func openForReads<D: Dataset>(path: String, n: Int, data: D.Type) throws(CompareError) -> LevelDBEngine {
        LevelDBEngine(db: try open(path, create: false))
    }

    static func openForWrites(path: String, n: Int) throws(CompareError) -> LevelDBEngine {
        LevelDBEngine(db: try open(path, create: false))
    }

    /// Writes with `sync = true`: each put returns once its log record is durable.
    static func createDurable(path: String) throws(CompareError) -> LevelDBEngine? {
        let engine = LevelDBEngine(db: try open(path, create: true))
        engine.durable = true
        return engine
    }

    /// Whether readers' puts sync (W7).
    var durable = false

    func makeReader() throws(CompareError) -> LevelDBReader {
        let reader = LevelDBReader(db: db, options: readOptions)
        if durable { leveldb_writeoptions_set_sync(reader.writeOptions, 1) }
        return reader
    }

    func close() throws(CompareError) {
        leveldb_readoptions_destroy(readOptions)
        leveldb_close(db)
    }
}

final class LevelDBReader: Reader {
    let db: OpaquePointer
    let options: OpaquePointer

    let writeOptions = leveldb_writeoptions_create()!

    init(db: OpaquePointer, options: OpaquePointer) {
        self.db = db
        self.options = options
    }

    deinit { leveldb_writeoptions_destroy(writeOptions) }

    func put(_ key: [UInt8], _ value: [UInt8]) throws(CompareError) {
        var error: UnsafeMutablePointer<CChar>?
        key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                leveldb_put(
                    db, writeOptions, k.baseAddress!.assumingMemoryBound(to: CChar.self), k.count,
                    v.baseAddress!.assumingMemoryBound(to: CChar.self), v.count, &error)
            }
        }
        try LevelDBEngine.take(error, "put")
    }

    func lend(_ key: [UInt8], _ check: (UnsafeRawBufferPointer?) -> Int) throws(CompareError) -> Int {
        var error: UnsafeMutablePointer<CChar>?
        var length = 0
        let value = key.withUnsafeBytes { k in
            leveldb_get(db, options, k.baseAddress!.assumingMemoryBound(to: CChar.self), k.count, &length, &error)
        }
        try LevelDBEngine.take(error, "get")
        guard let value else { return check(nil) }
        defer { leveldb_free(value) }
        return check(UnsafeRawBufferPointer(start: value, count: length))
    }

    func get(_ key: [UInt8]) throws(CompareError) -> [UInt8]? {
        var copy: [UInt8]?
        _ = try lend(key) { value in
            copy = value.map { [UInt8]($0) }
            return 0
        }
        return copy
    }
}
