import PogrebWorkload

/// One engine under comparison. The harness loads a database in one process
/// (``load(path:order:data:whileOpen:)``) and reads it in a fresh one (``openForReads(path:n:data:)``,
/// then one ``Reader`` per thread).
protocol Engine: AnyObject {
    /// The engine's name on the command line and in the tables.
    static var name: String { get }
    /// Whether the engine keeps its data in files (the limit table does not).
    static var onDisk: Bool { get }
    /// Creates an empty database at `path` (a directory that does not exist yet), puts the keys of
    /// `order` (ids into `data`) as docs/WORKLOADS.md's peer settings say, makes them durable once at
    /// the end and closes. Returns the bytes of memory the data took for an in-memory engine, else nil.
    ///
    /// With `whileOpen` (W6), the database is not closed: `whileOpen` is called once the data is
    /// durable, the database still open (W6's never returns; the process waits for its SIGKILL).
    static func load<D: Dataset>(
        path: String, order: [UInt32], data: D.Type, whileOpen: (() -> Void)?
    ) throws(CompareError) -> Int64?
    /// Whether several threads may write at once (the limit table: no).
    static var concurrentWrites: Bool { get }
    /// Opens the database that ``load(path:order:data:whileOpen:)`` made, for reads and writes from
    /// several threads (the YCSB mixes).
    static func openForWrites(path: String, n: Int) throws(CompareError) -> Self
    /// Creates an empty database at `path` (a directory that does not exist yet) whose readers' `put`
    /// is durable when it returns (W7), with the peer settings of docs/WORKLOADS.md; nil for an
    /// engine without files.
    static func createDurable(path: String) throws(CompareError) -> Self?
    /// Opens the database that ``load(path:order:data:whileOpen:)`` made with `data`, for reads.
    static func openForReads<D: Dataset>(path: String, n: Int, data: D.Type) throws(CompareError) -> Self
    /// Opens a database that was loaded, for reads and puts with the engine's default settings
    /// (W6, after a crash or a clean close): the peer settings of the load, no background work.
    static func openForRecovery(path: String, n: Int) throws(CompareError) -> Self
    associatedtype ReaderType: Reader
    /// A reader for the calling thread (a transaction, connection or statement of its own).
    func makeReader() throws(CompareError) -> ReaderType
    /// Releases the engine; further use is an error.
    func close() throws(CompareError)
}

/// One thread's view of an engine.
protocol Reader: AnyObject {
    /// Looks up `key` and returns `check` applied to the value as the engine hands it out without
    /// a copy when it can (`nil` when absent). The check's result is returned.
    func lend(_ key: [UInt8], _ check: (UnsafeRawBufferPointer?) -> Int) throws(CompareError) -> Int
    /// Looks up `key` and returns an owned copy of its value, as a `get` returning bytes does.
    func get(_ key: [UInt8]) throws(CompareError) -> [UInt8]?
    /// Puts `key`'s value as the engine's own write call does, with no sync (the YCSB mixes).
    func put(_ key: [UInt8], _ value: [UInt8]) throws(CompareError)
    /// Batched lookups: calls `check(i, value)` for each key in order; returns false, calling nothing,
    /// when the engine has no batched lookup.
    func getMany(_ keys: [[UInt8]], _ check: (Int, UnsafeRawBufferPointer?) -> Void) throws(CompareError) -> Bool
}

extension Engine {
    static var concurrentWrites: Bool { true }
    static func createDurable(path: String) throws(CompareError) -> Self? { nil }
    static func openForRecovery(path: String, n: Int) throws(CompareError) -> Self {
        try openForWrites(path: path, n: n)
    }
}

extension Reader {
    func put(_ key: [UInt8], _ value: [UInt8]) throws(CompareError) {
        throw CompareError("this engine does not write from several threads")
    }

    func getMany(_ keys: [[UInt8]], _ check: (Int, UnsafeRawBufferPointer?) -> Void) throws(CompareError) -> Bool {
        false
    }
}

/// A failure of an engine or of the harness, with what was being done.
struct CompareError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The engines `compare` knows, by name.
let allEngines: [any Engine.Type] = [
    PogrebEngine.self, LMDBEngine.self, LevelDBEngine.self, SQLiteEngine.self, LimitTableEngine.self,
]

func engineType(named name: String) -> (any Engine.Type)? {
    allEngines.first { $0.name == name }
}
