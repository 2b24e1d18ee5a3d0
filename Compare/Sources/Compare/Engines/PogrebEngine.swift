import Pogreb
import PogrebWorkload

/// swift-pogreb with default options (mmap reads, checksums verified on get, no fsync per write).
final class PogrebEngine: Engine {
    static let name = "pogreb"
    static let onDisk = true
    let db: Database

    init(_ db: Database) { self.db = db }

    static func load<D: Dataset>(
        path: String, order: [UInt32], data: D.Type, whileOpen: (() -> Void)?
    ) throws(CompareError) -> Int64? {
        do {
            let db = try Database.open(at: path)
            var key = [UInt8](repeating: 0, count: D.keySize)
            var value = [UInt8](repeating: 0, count: D.valueSize)
            for id in order {
                D.fillKey(UInt64(id), &key)
                D.fillValue(UInt64(id), &value)
                try db.put(key, value)
            }
            try db.sync()
            if let whileOpen {
                whileOpen()
                withExtendedLifetime(db) {}
                return nil
            }
            try db.close()
            return nil
        } catch { throw CompareError("pogreb load: \(error)") }
    }

    static func openForReads<D: Dataset>(path: String, n: Int, data: D.Type) throws(CompareError) -> PogrebEngine {
        do { return PogrebEngine(try Database.open(at: path)) } catch { throw CompareError("pogreb open: \(error)") }
    }

    /// Default options (no background compaction).
    static func openForRecovery(path: String, n: Int) throws(CompareError) -> PogrebEngine {
        try openForReads(path: path, n: n, data: FixedData.self)
    }

    /// Sync policy `everyWrite`: each put returns once it is durable, and puts from several
    /// threads share their fsyncs (group commit).
    static func createDurable(path: String) throws(CompareError) -> PogrebEngine? {
        var options = Options()
        options.syncPolicy = .everyWrite
        do { return PogrebEngine(try Database.open(at: path, options: options)) } catch {
            throw CompareError("pogreb open: \(error)")
        }
    }

    /// Background compaction every second, as issue 11's YCSB runs have it.
    static func openForWrites(path: String, n: Int) throws(CompareError) -> PogrebEngine {
        var options = Options()
        options.compactionIntervalMilliseconds = 1000
        do { return PogrebEngine(try Database.open(at: path, options: options)) } catch {
            throw CompareError("pogreb open: \(error)")
        }
    }

    func makeReader() throws(CompareError) -> PogrebReader { PogrebReader(db) }

    func close() throws(CompareError) {
        do { try db.close() } catch { throw CompareError("pogreb close: \(error)") }
    }
}

final class PogrebReader: Reader {
    let db: Database
    init(_ db: Database) { self.db = db }

    func lend(_ key: [UInt8], _ check: (UnsafeRawBufferPointer?) -> Int) throws(CompareError) -> Int {
        do { return try db.withValue(forKey: key, check) } catch { throw CompareError("pogreb withValue: \(error)") }
    }

    func get(_ key: [UInt8]) throws(CompareError) -> [UInt8]? {
        do { return try db.get(key) } catch { throw CompareError("pogreb get: \(error)") }
    }

    func put(_ key: [UInt8], _ value: [UInt8]) throws(CompareError) {
        do { try db.put(key, value) } catch { throw CompareError("pogreb put: \(error)") }
    }

    func getMany(_ keys: [[UInt8]], _ check: (Int, UnsafeRawBufferPointer?) -> Void) throws(CompareError) -> Bool {
        let values: [[UInt8]?]
        do { values = try db.get(many: keys) } catch { throw CompareError("pogreb get(many:): \(error)") }
        for i in values.indices {
            if let value = values[i] {
                value.withUnsafeBytes { check(i, $0) }
            } else {
                check(i, nil)
            }
        }
        return true
    }
}
