import ArgumentParser
import Glibc
import Pogreb

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load items from JSON Lines or TSV (creating the database if needed).",
        discussion: """
            JSON Lines: {"key":"<base64>","value":"<base64>"} a line ("key_utf8"/"value_utf8" \
            take plain text instead). TSV: KEY<TAB>VALUE, fields in --encoding (base64 by default). \
            Blank lines are skipped; a later line for the same key replaces an earlier one.

            The whole input is checked first (standard input is copied to a temporary file for \
            that), so a bad line — reported with its line number — stops the import before \
            anything is written. Items are then written in atomic batches of --batch-size: \
            Ctrl-C abandons the batch in hand, closes the database cleanly and reports how many \
            lines were imported. --no-validate skips the first pass (one pass, no copy); a bad line \
            then stops the import after the batches before it.

            --replace builds a new database from the input with the bulk builder (the index sized \
            up front, the log written in large appends; faster) and puts it in the place of the \
            database at PATH in one atomic step, or creates it: readers see the old database or \
            the new one, never a mix. Ctrl-C then abandons the whole build. Only a database may be \
            replaced (a directory holding anything else is refused, nothing changed); a symbolic \
            link at PATH is followed; entries starting with "." are moved into the new database. \
            When a reader still holds the old database, it is left beside PATH and its place is \
            printed.
            """)

    @Argument(help: "The database directory; created when it does not exist.") var path: String
    @Argument(help: "The input file, or - for standard input.") var input: String = "-"
    @Option(help: "jsonl or tsv (default: from the input's extension, else jsonl).") var format: LineFormat?
    @Option(help: "TSV field encoding: base64, hex or text.") var encoding: ByteEncoding = .base64
    @Option(help: "Items per atomic batch.") var batchSize: Int = 10_000
    @Flag(help: "Do not check the whole input before writing.") var noValidate = false
    @Flag(help: "Build a new database from the input and atomically replace the one at PATH (bulk builder).")
    var replace = false

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if replace && noValidate {
            throw ValidationError("--replace checks the whole input first; it cannot be combined with --no-validate")
        }
    }

    func run() throws {
        let format = self.format ?? LineFormat.guess(fromPath: input) ?? .jsonl
        let decoder = LineDecoder(format: format, encoding: encoding)
        var source = input
        var spool: String?
        defer { if let spool { unlink(spool) } }
        if !noValidate && input == "-" && Console.current.input == nil {
            spool = try spoolStandardInput()
            source = spool!
        }
        let displayName = input == "-" ? "standard input" : input
        var expected: Int?
        if !noValidate {
            expected = try check(source, decoder: decoder, name: displayName)
        }
        let totalBytes = fileSize(source)
        let start = now()
        if replace {
            let report = try build(
                source, decoder: decoder, name: displayName, expected: expected ?? 0, totalBytes: totalBytes)
            if Console.current.stderrIsTerminal || Console.current.stdoutIsTerminal {
                let seconds = now() - start
                Console.current.note(
                    "\(report.replacedExisting ? "replaced" : "built") \(path): \(Format.grouped(report.keys)) keys"
                        + " from \(Format.grouped(report.pairs)) items in \(Format.duration(seconds))"
                        + " (\(Format.si(Double(report.pairs) / max(seconds, 1e-9)))/s)")
            }
            return
        }
        let (records, lines) = try withDatabase(path, .write(create: true)) { (db) throws(ToolError) -> (Int, Int) in
            var reader = try LineReader(path: source)
            let progress = Progress("import", total: totalBytes, unit: totalBytes == nil ? .items("records") : .bytes)
            var batch = WriteBatch()
            var committed = 0
            var committedLines = 0
            var pending = 0
            func commit(through line: Int) throws(ToolError) {
                guard pending > 0 else { return }
                try engine("import, lines \(committedLines + 1)–\(line)") { () throws(PogrebError) in
                    _ = try db.apply(batch)
                }
                committed += pending
                committedLines = line
                pending = 0
                batch = WriteBatch()
            }
            func stop(_ error: ToolError) -> ToolError {
                progress.finish()
                var message = error.message
                if committed > 0 || error.status == .interrupted {
                    message +=
                        "; \(Format.grouped(committed)) items from lines 1–\(committedLines)"
                        + " were imported in complete batches, nothing after"
                }
                return ToolError(error.status, message)
            }
            do throws(ToolError) {
                while let line = try reader.nextLine() {
                    guard let (key, value) = try decoder.decode(line, number: reader.lineNumber, source: displayName)
                    else { continue }
                    batch.put(key, value)
                    pending += 1
                    if pending >= batchSize {
                        try Interrupt.check()
                        try commit(through: reader.lineNumber)
                        progress.update(totalBytes == nil ? Int64(committed) : reader.bytesRead)
                    }
                }
                try Interrupt.check()
                try commit(through: reader.lineNumber)
            } catch {
                throw stop(error)
            }
            progress.finish()
            return (committed, reader.lineNumber)
        }
        if let expected, expected != records {
            throw ToolError(
                .io,
                "\(displayName) changed while it was imported: \(expected) items when checked, \(records) imported")
        }
        if Console.current.stderrIsTerminal || Console.current.stdoutIsTerminal {
            let seconds = now() - start
            Console.current.note(
                "imported \(Format.grouped(records)) items (\(Format.grouped(lines)) lines) into \(path)"
                    + " in \(Format.duration(seconds)) (\(Format.si(Double(records) / max(seconds, 1e-9)))/s)")
        }
    }

    /// Builds a new database from the (already checked) input with `Database.build`.
    private func build(
        _ source: String, decoder: LineDecoder, name: String, expected: Int, totalBytes: Int64?
    ) throws(ToolError) -> BuildReport {
        let items = ItemSource(
            reader: try LineReader(path: source), decoder: decoder, name: name,
            progress: Progress("build", total: totalBytes, unit: totalBytes == nil ? .items("records") : .bytes))
        let path = self.path
        // The staging directory of this build, as the engine announced it: the abort path
        // removes that one directory and nothing else (another build may be running beside).
        let staging = StagingDirectory()
        items.onAbort = { error in
            // The builder cannot be stopped half-way without switching a partial database into
            // place: remove its staging directory and leave at once; PATH is untouched.
            items.progress.finish()
            if let directory = staging.path { Files.removeTree(directory) }
            Console.current.error("\(error.message): the build was abandoned; \(path) is unchanged")
            Console.current.out.flushQuietly()
            _exit(error.status.rawValue)
        }
        Interrupt.install()
        var options = Options()
        options.createIfMissing = true
        let report = try engine("import --replace into \(path)") { () throws(PogrebError) -> BuildReport in
            try Database.build(
                at: path, expectedCount: expected, options: options, from: items,
                staging: { directory in staging.path = directory })
        }
        items.progress.finish()
        if let old = report.oldDatabaseLeftAt {
            Console.current.note(
                "the replaced database was left at \(old): a reader still had it open, or it holds something "
                    + "that is not ours; delete it once no reader uses it")
        }
        return report
    }

    /// Decodes every line without writing; returns the number of items.
    private func check(_ source: String, decoder: LineDecoder, name: String) throws(ToolError) -> Int {
        var reader = try LineReader(path: source)
        let total = fileSize(source)
        let progress = Progress("check", total: total, unit: .bytes)
        var count = 0
        while let line = try reader.nextLine() {
            do {
                if try decoder.decode(line, number: reader.lineNumber, source: name) != nil { count += 1 }
            } catch {
                progress.finish()
                throw ToolError(error.status, error.message + ". Nothing was imported.")
            }
            if reader.lineNumber & 4095 == 0 {
                try Interrupt.check()
                progress.update(reader.bytesRead)
            }
        }
        progress.finish()
        return count
    }

    /// Copies standard input to a temporary file, so it can be read twice.
    private func spoolStandardInput() throws(ToolError) -> String {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((directory + "/pogreb-import-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw ToolError(.io, "cannot create a temporary file in \(directory): \(describeErrno(errno))")
        }
        let path = stringFromCString(template)
        defer { close(fd) }
        Interrupt.install()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR {
                    if Interrupt.requested {
                        unlink(path)
                        throw Interrupt.error
                    }
                    continue
                }
                unlink(path)
                throw ToolError(.io, "cannot read standard input: \(describeErrno(errno))")
            }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + done, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    unlink(path)
                    throw ToolError(
                        .io, "cannot write the temporary copy of standard input \(path): \(describeErrno(code))")
                }
                done += w
            }
        }
        return path
    }
}

/// The staging directory of a build, once the engine has created it (read by the abort path,
/// which runs on the thread that runs the build).
private final class StagingDirectory {
    var path: String?
}

/// The size of a regular file, or `nil` (standard input, a pipe).
func fileSize(_ path: String) -> Int64? {
    guard path != "-" else {
        if let input = Console.current.input { return Int64(input.count) }
        return nil
    }
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int64(info.st_size)
}
