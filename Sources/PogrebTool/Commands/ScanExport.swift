import ArgumentParser
import Glibc
import Pogreb

/// The output formats of `scan`.
enum ScanFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, hex, base64, jsonl

    var style: LineEncoder.Style {
        switch self {
        case .text: return .separated(.text)
        case .hex: return .separated(.hex)
        case .base64: return .separated(.base64)
        case .jsonl: return .jsonl
        }
    }
}

/// Ends a walk early from inside the engine's iteration closure.
private struct StopWalk: Error {}

/// Walks the items of `db` (or only keys), filtered by `prefix`, up to `limit`, calling `emit`
/// for each. Checks for Ctrl-C and for a failed output between items.
/// - Returns: the number of items emitted.
func walkItems(
    _ db: Database, keysOnly: Bool, prefix: [UInt8]?, limit: Int?, output: OutputSink, progress: Progress?,
    _ emit: (_ key: [UInt8], _ value: [UInt8]) -> Void
) throws(ToolError) -> Int {
    var emitted = 0
    var seen: Int64 = 0
    if limit == 0 { return 0 }
    func body(_ key: [UInt8], _ value: [UInt8]) throws {
        seen += 1
        if seen & 1023 == 0 {
            if Interrupt.requested { throw Interrupt.error }
            if output.hasFailed { throw StopWalk() }
            progress?.update(seen)
        }
        if let prefix, !key.starts(with: prefix) { return }
        emit(key, value)
        emitted += 1
        if let limit, emitted >= limit { throw StopWalk() }
    }
    do {
        if keysOnly {
            try db.forEachKey { try body($0, []) }
        } else {
            try db.forEachItem { try body($0.key, $0.value) }
        }
    } catch is StopWalk {
    } catch {
        progress?.finish()
        throw toolError(error)
    }
    progress?.finish()
    return emitted
}

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the items (or keys) of a database.",
        discussion: """
            Items come in log order (roughly the order they were written). --prefix filters while \
            streaming; --limit stops after that many matches. Formats: text (KEY<TAB>VALUE, with \
            tabs, newlines, backslashes, control bytes and invalid UTF-8 escaped as \\t \\n \\\\ \\xHH), \
            hex, base64, or jsonl ({"key":"<base64>","value":"<base64>"}).
            """)

    @Argument(help: "The database directory.") var path: String
    @Option(help: "Only keys that start with these bytes (in the --text/--hex/--base64 encoding).") var prefix: String?
    @Flag var encoding: InputEncoding = .text
    @Option(help: "Stop after this many items.") var limit: Int?
    @Flag(help: "Print keys only.") var keysOnly = false
    @Option(help: "Output format: text, hex, base64 or jsonl.") var format: ScanFormat = .text

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let prefix = try self.prefix.map { (p) throws(ToolError) in try encoding.decode(p, what: "prefix") }
        let out = Console.current.out
        let encoder = LineEncoder(style: format.style, keysOnly: keysOnly)
        try withDatabase(path, .read) { (db) throws(ToolError) in
            var line: [UInt8] = []
            _ = try walkItems(db, keysOnly: keysOnly, prefix: prefix, limit: limit, output: out, progress: nil) { key, value in
                line.removeAll(keepingCapacity: true)
                encoder.append(key: key, value: value, to: &line)
                out.write(line)
            }
            try out.flush()
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every item as JSON Lines or TSV.",
        discussion: """
            JSON Lines: {"key":"<base64>","value":"<base64>"} a line. TSV: KEY<TAB>VALUE a line, \
            both fields in --encoding (base64 by default). Items come in log order, so exporting \
            a database freshly made by `pogreb import` of an export gives the same bytes. With \
            --output the file is written under a temporary name and renamed when complete, so a \
            failed or interrupted export leaves no partial file.
            """)

    @Argument(help: "The database directory.") var path: String
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?
    @Option(help: "jsonl or tsv (default: from the --output extension, else jsonl).") var format: LineFormat?
    @Option(help: "TSV field encoding: base64, hex or text.") var encoding: ByteEncoding = .base64

    func run() throws {
        let format = self.format ?? output.flatMap(LineFormat.guess(fromPath:)) ?? .jsonl
        let encoder = LineEncoder(style: format == .jsonl ? .jsonl : .separated(encoding), keysOnly: false)
        var target: AtomicOutputFile?
        let sink: OutputSink
        if let output {
            let file = try AtomicOutputFile(path: output)
            target = file
            sink = file.sink
        } else {
            sink = Console.current.out
        }
        let start = now()
        let count: Int
        do {
            count = try withDatabase(path, .read) { (db) throws(ToolError) -> Int in
                let total = try engine { () throws(PogrebError) -> Int in try db.count }
                let progress = Progress("export", total: Int64(total))
                var line: [UInt8] = []
                let count = try walkItems(db, keysOnly: false, prefix: nil, limit: nil, output: sink, progress: progress) { key, value in
                    line.removeAll(keepingCapacity: true)
                    encoder.append(key: key, value: value, to: &line)
                    sink.write(line)
                }
                try sink.flush()
                return count
            }
            try target?.commit()
        } catch {
            target?.abandon()
            throw error
        }
        if let output, Console.current.stderrIsTerminal {
            let seconds = now() - start
            Console.current.note("exported \(Format.grouped(count)) items to \(output) in \(Format.duration(seconds)) (\(Format.si(Double(count) / max(seconds, 1e-9)))/s)")
        }
    }
}

/// A file written under a temporary name in the same directory, then synced and renamed into
/// place by ``commit()``; ``abandon()`` removes the temporary file.
final class AtomicOutputFile {
    let path: String
    let temporary: String
    let descriptor: Int32
    let sink: OutputSink
    private var done = false

    init(path: String) throws(ToolError) {
        self.path = path
        self.temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ToolError(.io, "cannot create \(temporary): \(describeErrno(errno))")
        }
        descriptor = fd
        sink = OutputSink(descriptor: fd)
    }

    func commit() throws(ToolError) {
        try sink.flush()
        guard fsync(descriptor) == 0 else { throw ToolError(.io, "cannot sync \(temporary): \(describeErrno(errno))") }
        close(descriptor)
        done = true
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw ToolError(.io, "cannot rename \(temporary) to \(path): \(describeErrno(code))")
        }
    }

    func abandon() {
        guard !done else { return }
        done = true
        close(descriptor)
        unlink(temporary)
    }

    deinit { abandon() }
}
