import Glibc
import Pogreb

/// The exit statuses of `pogreb`, documented in `pogreb --help`.
enum ExitStatus: Int32, Sendable, CaseIterable {
    /// Success.
    case ok = 0
    /// The key is absent (`get`, `has`, `delete`).
    case notFound = 1
    /// Bad usage or bad input: unknown option, invalid hex/base64/JSON, a path that holds no
    /// database (a missing or empty directory), a key or value over the limits.
    case usage = 2
    /// The database is damaged or is not a database (`check` found problems; the open failed a check;
    /// `bench` read a wrong value).
    case corrupted = 3
    /// Another process holds the database: open for writing elsewhere, or, for a command that
    /// writes, open read-only elsewhere.
    case locked = 4
    /// A system call failed: permissions, a read-only directory, a full disk, a broken pipe.
    case io = 5
    /// Interrupted by Ctrl-C; the database was closed cleanly after the last complete batch.
    case interrupted = 130

    /// The line of `--help` that documents this status.
    var helpLine: String {
        switch self {
        case .ok: return "  0    ok"
        case .notFound: return "  1    not found: the key is absent (get, has, delete)"
        case .usage: return "  2    usage: bad option, bad input (with its line number), no database there"
        case .corrupted: return "  3    corrupted: damaged or not a database; check or bench found bad data"
        case .locked: return "  4    locked: held by a writer elsewhere (or by readers, when writing)"
        case .io: return "  5    I/O error: permissions, read-only directory, disk full, broken pipe"
        case .interrupted: return "  130  interrupted (Ctrl-C): closed cleanly after the last complete batch"
        }
    }

    static var helpText: String {
        "Exit codes:\n" + allCases.map(\.helpLine).joined(separator: "\n")
    }
}

/// An error of the tool: an exit status and the message printed before exiting.
struct ToolError: Error, CustomStringConvertible, Sendable {
    var status: ExitStatus
    var message: String
    /// Exit with `status` but print nothing (a broken pipe, `has` answering no).
    var silent: Bool

    init(_ status: ExitStatus, _ message: String, silent: Bool = false) {
        self.status = status
        self.message = message
        self.silent = silent
    }

    var description: String { message }

    /// The tool's view of an engine error: its exit status and its message.
    init(_ error: PogrebError, context: String? = nil) {
        let status: ExitStatus
        switch error.code {
        case .corrupted, .notADatabase, .unsupportedVersion: status = .corrupted
        case .locked, .busy: status = .locked
        case .keyTooLarge, .valueTooLarge, .invalidArgument: status = .usage
        case .io, .previousIOFailure, .readOnly, .closed: status = .io
        default: status = .io
        }
        var message = error.message
        if let underlying = error.underlying { message += " (\(underlying))" }
        if let context { message = context + ": " + message }
        self.init(status, message)
    }

    static func notFound(_ what: String) -> ToolError { ToolError(.notFound, what) }
    static func usage(_ what: String) -> ToolError { ToolError(.usage, what) }
}

/// Runs `body`, turning engine errors into tool errors.
func engine<R>(_ context: String? = nil, _ body: () throws(PogrebError) -> R) throws(ToolError) -> R {
    do {
        return try body()
    } catch {
        throw ToolError(error, context: context)
    }
}

/// Converts any error thrown through an untyped API into a tool error.
func toolError(_ error: any Error) -> ToolError {
    if let error = error as? ToolError { return error }
    if let error = error as? PogrebError { return ToolError(error) }
    return ToolError(.io, "\(error)")
}

/// A description of `errno` values for messages.
func describeErrno(_ code: Int32) -> String { String(cString: strerror(code)) }
