import ArgumentParser
import Glibc
import Pogreb

/// How a command opens its database.
enum AccessMode {
    /// Read-only: a shared lock, nothing written (a torn tail is skipped, not cut).
    case read
    /// For writing; `create` makes a new database when the directory does not exist.
    case write(create: Bool)
}

/// Opens the database at `path`, with messages that say what to do.
func openDatabase(
    _ path: String, _ mode: AccessMode, configure: (inout Options) -> Void = { _ in }
) throws(ToolError) -> Database {
    var options = Options()
    var create = false
    switch mode {
    case .read:
        options.readOnly = true
        options.createIfMissing = false
    case .write(let c):
        create = c
        options.createIfMissing = c
    }
    configure(&options)
    var info = stat()
    if stat(path, &info) != 0 {
        let code = errno
        if code == ENOENT && !create {
            throw ToolError(.usage, "no database at \(path): the directory does not exist")
        }
        if code != ENOENT {
            throw ToolError(.io, "cannot open \(path): \(describeErrno(code))")
        }
    } else if (info.st_mode & S_IFMT) != S_IFDIR {
        throw ToolError(.corrupted, "\(path) is not a database: a database is a directory, and this is a file")
    } else if !create && Files.isEmptyDirectory(path) {
        // "No database there", like a missing directory (exit 2), not damage (exit 3).
        throw ToolError(.usage, "no database at \(path): the directory is empty")
    }
    do {
        return try Database.open(at: path, options: options)
    } catch {
        if error.code == .io, let errno = error.underlying as? Errno,
            errno.rawValue == EACCES || errno.rawValue == EROFS || errno.rawValue == EPERM
        {
            throw ToolError(
                .io,
                "\(path): \(error.description). The directory (or a file in it) cannot be written; check its "
                    + "permissions, or use a command that only reads."
            )
        }
        throw ToolError(error)
    }
}

/// Opens the database, runs `body`, and closes it, also when `body` fails or Ctrl-C stops it.
func withDatabase<R>(
    _ path: String, _ mode: AccessMode, configure: (inout Options) -> Void = { _ in },
    _ body: (Database) throws(ToolError) -> R
) throws(ToolError) -> R {
    let database = try openDatabase(path, mode, configure: configure)
    Interrupt.install()
    let result: R
    do {
        result = try body(database)
    } catch {
        do { try database.close() } catch let closeError {
            Console.current.error("closing \(path) after the error below failed too: \(closeError)")
        }
        throw error
    }
    try engine("closing \(path)") { () throws(PogrebError) in try database.close() }
    return result
}

/// Checks a key against the engine's limit before anything is opened.
func checkKey(_ key: [UInt8]) throws(ToolError) {
    guard key.count <= Database.maxKeySize else {
        throw ToolError(.usage, "the key is \(key.count) bytes; the limit is \(Database.maxKeySize)")
    }
}

/// Checks a value against the engine's limit before anything is opened.
func checkValue(_ value: [UInt8]) throws(ToolError) {
    guard value.count <= Database.maxValueSize else {
        throw ToolError(.usage, "the value is \(value.count) bytes; the limit is \(Database.maxValueSize)")
    }
}
