import CLMDB
import Glibc
import PogrebWorkload

/// LMDB as docs/WORKLOADS.md sets it: the load puts in write transactions of 10 000 puts with
/// `MDB_NOSYNC`, then one `mdb_env_sync(force)`; reads use one read-only transaction a lookup
/// (`mdb_txn_renew` … `mdb_txn_reset`, no allocation), the value lent from the map.
final class LMDBEngine: Engine {
    static let name = "lmdb"
    static let onDisk = true
    let env: OpaquePointer
    let dbi: MDB_dbi

    init(env: OpaquePointer, dbi: MDB_dbi) {
        self.env = env
        self.dbi = dbi
    }

    /// The map size: room for the data several times over (the map is virtual; the file grows as used).
    static func mapSize(_ n: Int) -> Int { max(4 << 30, n * 4096) }

    static func check(_ rc: Int32, _ what: String) throws(CompareError) {
        guard rc == MDB_SUCCESS else { throw CompareError("lmdb \(what): \(String(cString: mdb_strerror(rc)))") }
    }

    static func openEnv(_ path: String, n: Int, flags: Int32) throws(CompareError) -> OpaquePointer {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "env_create")
        guard let env else { throw CompareError("lmdb env_create returned nothing") }
        do {
            try check(mdb_env_set_mapsize(env, mapSize(n)), "set_mapsize")
            try check(mdb_env_set_maxreaders(env, 126), "set_maxreaders")
            try check(mdb_env_open(env, path, UInt32(flags), 0o644), "env_open \(path)")
        } catch {
            mdb_env_close(env)
            throw error
        }
        return env
    }

    static func load<D: Dataset>(
        path: String, order: [UInt32], data: D.Type, whileOpen: (() -> Void)?
    ) throws(CompareError) -> Int64? {
        guard mkdir(path, 0o755) == 0 else { throw CompareError("mkdir \(path): errno \(errno)") }
        let env = try openEnv(path, n: order.count, flags: MDB_NOSYNC)
        defer { mdb_env_close(env) }
        var key = [UInt8](repeating: 0, count: D.keySize)
        var value = [UInt8](repeating: 0, count: D.valueSize)
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "txn_begin")
        var dbi: MDB_dbi = 0
        try check(mdb_dbi_open(txn, nil, 0, &dbi), "dbi_open")
        var inTransaction = 0
        for id in order {
            D.fillKey(UInt64(id), &key)
            D.fillValue(UInt64(id), &value)
            let rc = key.withUnsafeMutableBytes { k in
                value.withUnsafeMutableBytes { v in
                    var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
                    var vv = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
                    return mdb_put(txn, dbi, &kv, &vv, 0)
                }
            }
            if rc != MDB_SUCCESS { mdb_txn_abort(txn) }
            try check(rc, "put")
            inTransaction += 1
            if inTransaction == 10_000 {
                try check(mdb_txn_commit(txn), "commit")
                try check(mdb_txn_begin(env, nil, 0, &txn), "txn_begin")
                inTransaction = 0
            }
        }
        try check(mdb_txn_commit(txn), "commit")
        try check(mdb_env_sync(env, 1), "env_sync")
        whileOpen?()
        return nil
    }

    static func openForReads<D: Dataset>(path: String, n: Int, data: D.Type) throws(CompareError) -> LMDBEngine {
        let env = try openEnv(path, n: n, flags: MDB_RDONLY)
        var txn: OpaquePointer?
        var dbi: MDB_dbi = 0
        do {
            try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "txn_begin")
            try check(mdb_dbi_open(txn, nil, 0, &dbi), "dbi_open")
            mdb_txn_abort(txn)
        } catch {
            mdb_env_close(env)
            throw error
        }
        return LMDBEngine(env: env, dbi: dbi)
    }

    /// `MDB_NOSYNC` (no sync per write transaction) and `MDB_NOTLS` (a thread holds its reset read
    /// transaction while it writes); one write transaction a put.
    /// LMDB's default syncs: every write transaction's commit flushes the map (one transaction a put).
    static func createDurable(path: String) throws(CompareError) -> LMDBEngine? {
        guard mkdir(path, 0o755) == 0 else { throw CompareError("mkdir \(path): errno \(errno)") }
        let env = try openEnv(path, n: 100_000, flags: MDB_NOTLS)
        var txn: OpaquePointer?
        var dbi: MDB_dbi = 0
        do {
            try check(mdb_txn_begin(env, nil, 0, &txn), "txn_begin")
            try check(mdb_dbi_open(txn, nil, 0, &dbi), "dbi_open")
            try check(mdb_txn_commit(txn), "commit")
        } catch {
            mdb_env_close(env)
            throw error
        }
        return LMDBEngine(env: env, dbi: dbi)
    }

    static func openForWrites(path: String, n: Int) throws(CompareError) -> LMDBEngine {
        let env = try openEnv(path, n: n, flags: MDB_NOSYNC | MDB_NOTLS)
        var txn: OpaquePointer?
        var dbi: MDB_dbi = 0
        do {
            try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "txn_begin")
            try check(mdb_dbi_open(txn, nil, 0, &dbi), "dbi_open")
            mdb_txn_abort(txn)
        } catch {
            mdb_env_close(env)
            throw error
        }
        return LMDBEngine(env: env, dbi: dbi)
    }

    func makeReader() throws(CompareError) -> LMDBReader {
        var txn: OpaquePointer?
        try LMDBEngine.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "txn_begin")
        mdb_txn_reset(txn)
        return LMDBReader(env: env, txn: txn!, dbi: dbi)
    }

    func close() throws(CompareError) { mdb_env_close(env) }
}

final class LMDBReader: Reader {
    let env: OpaquePointer
    let txn: OpaquePointer
    let dbi: MDB_dbi

    init(env: OpaquePointer, txn: OpaquePointer, dbi: MDB_dbi) {
        self.env = env
        self.txn = txn
        self.dbi = dbi
    }

    deinit { mdb_txn_abort(txn) }

    func lend(_ key: [UInt8], _ check: (UnsafeRawBufferPointer?) -> Int) throws(CompareError) -> Int {
        try LMDBEngine.check(mdb_txn_renew(txn), "txn_renew")
        defer { mdb_txn_reset(txn) }
        var value = MDB_val(mv_size: 0, mv_data: nil)
        let rc = key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_get(txn, dbi, &kv, &value)
        }
        if rc == MDB_NOTFOUND { return check(nil) }
        try LMDBEngine.check(rc, "get")
        return check(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    func put(_ key: [UInt8], _ value: [UInt8]) throws(CompareError) {
        var write: OpaquePointer?
        try LMDBEngine.check(mdb_txn_begin(env, nil, 0, &write), "txn_begin")
        var key = key
        var value = value
        let rc = key.withUnsafeMutableBytes { k in
            value.withUnsafeMutableBytes { v in
                var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
                var vv = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
                return mdb_put(write, dbi, &kv, &vv, 0)
            }
        }
        if rc != MDB_SUCCESS { mdb_txn_abort(write) }
        try LMDBEngine.check(rc, "put")
        try LMDBEngine.check(mdb_txn_commit(write), "commit")
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
