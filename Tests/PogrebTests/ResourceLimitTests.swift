import PogrebTestSupport
import Testing

@testable import Pogreb

/// Limits of the process that the number of open databases must not run into.
@Suite struct ResourceLimitTests {
    /// 5 000 databases open at once, each read and written, with reads of one nested in reads of
    /// another. Each lock once created its own `pthread_key_t`, and the 1 025th open database
    /// trapped (`PTHREAD_KEYS_MAX` on Linux).
    @Test func fiveThousandDatabasesStayOpenAtOnce() throws {
        var databases: [Database] = []
        databases.reserveCapacity(5_000)
        for i in 0..<5_000 {
            let db = try Database.open(fileSystem: MemoryFileSystem())
            try db.put(bytes("k"), bytes("\(i)"))
            databases.append(db)
        }
        for (i, db) in databases.enumerated() {
            let next = databases[(i + 1) % databases.count]
            let (mine, theirs) = try db.withValue(forKey: bytes("k")) { value in
                (value.map { Array($0) }, try next.get(bytes("k")))
            }
            #expect(mine == bytes("\(i)"))
            #expect(theirs == bytes("\((i + 1) % databases.count)"))
        }
        for db in databases { try db.close() }
    }
}
