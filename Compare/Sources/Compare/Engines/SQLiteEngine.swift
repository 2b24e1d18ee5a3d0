import CSQLite
import Glibc
import PogrebWorkload

/// SQLite as docs/WORKLOADS.md sets it: `CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID`,
/// `journal_mode=WAL`, `synchronous=NORMAL`, inserts in transactions of 10 000. The load ends with
/// `PRAGMA wal_checkpoint(TRUNCATE)` (which fsyncs the WAL and the database file) and a close. Each
/// reading thread has its own connection and prepared `SELECT v FROM kv WHERE k = ?`; the value is
/// lent from `sqlite3_column_blob`.
final class SQLiteEngine: Engine {
    static let name = "sqlite"
    static let onDisk = true
    let path: String
    /// The `synchronous` setting of each thread's connection: NORMAL, or FULL for W7.
    var synchronous = "NORMAL"

    init(path: String) { self.path = path }

    static func file(_ path: String) -> String { path + "/kv.sqlite" }

    static func check(_ rc: Int32, _ db: OpaquePointer?, _ what: String) throws(CompareError) {
        guard rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(rc)"
            throw CompareError("sqlite \(what): \(message)")
        }
    }

    static func open(_ path: String, create: Bool) throws(CompareError) -> OpaquePointer {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0)
        let rc = sqlite3_open_v2(file(path), &db, flags, nil)
        if rc != SQLITE_OK { sqlite3_close(db) }
        try check(rc, db, "open \(file(path))")
        return db!
    }

    static func exec(_ db: OpaquePointer, _ sql: String) throws(CompareError) {
        try check(sqlite3_exec(db, sql, nil, nil, nil), db, sql)
    }

    /// With `whileOpen` (W6), the last transaction of the load commits with `synchronous=FULL` (its
    /// commit syncs the log, which holds every transaction not yet checkpointed) in place of the
    /// checkpoint, and the connection stays open.
    static func load<D: Dataset>(
        path: String, order: [UInt32], data: D.Type, whileOpen: (() -> Void)?
    ) throws(CompareError) -> Int64? {
        guard mkdir(path, 0o755) == 0 else { throw CompareError("mkdir \(path): errno \(errno)") }
        let db = try open(path, create: true)
        defer { sqlite3_close(db) }
        try exec(db, "PRAGMA journal_mode=WAL")
        try exec(db, "PRAGMA synchronous=NORMAL")
        try exec(db, "CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v2(db, "INSERT INTO kv(k, v) VALUES(?, ?)", -1, &statement, nil), db, "prepare")
        defer { sqlite3_finalize(statement) }
        var key = [UInt8](repeating: 0, count: D.keySize)
        var value = [UInt8](repeating: 0, count: D.valueSize)
        // The first put of the last transaction (W6 makes that transaction's commit sync).
        let last = order.isEmpty ? 0 : (order.count - 1) / 10_000 * 10_000
        if whileOpen != nil && last == 0 { try exec(db, "PRAGMA synchronous=FULL") }
        try exec(db, "BEGIN")
        var inTransaction = 0
        var done = 0
        for id in order {
            D.fillKey(UInt64(id), &key)
            D.fillValue(UInt64(id), &value)
            let rc = key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in
                    sqlite3_bind_blob(statement, 1, k.baseAddress, Int32(k.count), nil)
                    sqlite3_bind_blob(statement, 2, v.baseAddress, Int32(v.count), nil)
                    let rc = sqlite3_step(statement)
                    sqlite3_reset(statement)
                    return rc
                }
            }
            try check(rc, db, "insert")
            inTransaction += 1
            done += 1
            if inTransaction == 10_000 {
                try exec(db, "COMMIT")
                if whileOpen != nil && done == last { try exec(db, "PRAGMA synchronous=FULL") }
                try exec(db, "BEGIN")
                inTransaction = 0
            }
        }
        try exec(db, "COMMIT")
        if let whileOpen {
            whileOpen()
            return nil
        }
        try exec(db, "PRAGMA wal_checkpoint(TRUNCATE)")
        return nil
    }

    static func openForReads<D: Dataset>(path: String, n: Int, data: D.Type) throws(CompareError) -> SQLiteEngine {
        let db = try open(path, create: false)  // checks that it opens
        sqlite3_close(db)
        return SQLiteEngine(path: path)
    }

    /// `journal_mode=WAL`, `synchronous=FULL`: each autocommitted insert syncs the log.
    static func createDurable(path: String) throws(CompareError) -> SQLiteEngine? {
        guard mkdir(path, 0o755) == 0 else { throw CompareError("mkdir \(path): errno \(errno)") }
        let db = try open(path, create: true)
        defer { sqlite3_close(db) }
        try exec(db, "PRAGMA journal_mode=WAL")
        try exec(db, "CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
        let engine = SQLiteEngine(path: path)
        engine.synchronous = "FULL"
        return engine
    }

    static func openForWrites(path: String, n: Int) throws(CompareError) -> SQLiteEngine {
        try openForReads(path: path, n: n, data: FixedData.self)
    }

    /// A connection of the thread's own, `synchronous=NORMAL` and a busy timeout of 10 s (so that
    /// concurrent writers wait for the write lock), with a prepared select.
    func makeReader() throws(CompareError) -> SQLiteReader {
        let db = try SQLiteEngine.open(path, create: false)
        sqlite3_busy_timeout(db, 10_000)
        do { try SQLiteEngine.exec(db, "PRAGMA synchronous=\(synchronous)") } catch {
            sqlite3_close(db)
            throw error
        }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?", -1, &statement, nil)
        if rc != SQLITE_OK { sqlite3_close(db) }
        try SQLiteEngine.check(rc, db, "prepare")
        return SQLiteReader(db: db, statement: statement!)
    }

    func close() throws(CompareError) {}
}

final class SQLiteReader: Reader {
    let db: OpaquePointer
    let statement: OpaquePointer

    init(db: OpaquePointer, statement: OpaquePointer) {
        self.db = db
        self.statement = statement
    }

    var upsert: OpaquePointer?

    deinit {
        sqlite3_finalize(upsert)
        sqlite3_finalize(statement)
        sqlite3_close(db)
    }

    func lend(_ key: [UInt8], _ check: (UnsafeRawBufferPointer?) -> Int) throws(CompareError) -> Int {
        defer { sqlite3_reset(statement) }
        let rc = key.withUnsafeBytes { k in
            sqlite3_bind_blob(statement, 1, k.baseAddress, Int32(k.count), nil)
            return sqlite3_step(statement)
        }
        if rc == SQLITE_DONE { return check(nil) }
        guard rc == SQLITE_ROW else { throw CompareError("sqlite select: \(String(cString: sqlite3_errmsg(db)))") }
        let count = Int(sqlite3_column_bytes(statement, 0))
        return check(UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, 0), count: count))
    }

    /// `INSERT OR REPLACE` in its own (autocommit) transaction.
    func put(_ key: [UInt8], _ value: [UInt8]) throws(CompareError) {
        if upsert == nil {
            try SQLiteEngine.check(
                sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)", -1, &upsert, nil), db,
                "prepare")
        }
        let rc = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                sqlite3_bind_blob(upsert, 1, k.baseAddress, Int32(k.count), nil)
                sqlite3_bind_blob(upsert, 2, v.baseAddress, Int32(v.count), nil)
                let rc = sqlite3_step(upsert)
                sqlite3_reset(upsert)
                return rc
            }
        }
        try SQLiteEngine.check(rc, db, "upsert")
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
