import ArgumentParser
import Glibc
import Pogreb

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
                let count = try walkItems(
                    db, keysOnly: false, prefix: nil, limit: nil, output: sink, progress: progress
                ) { key, value in
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
            Console.current.note(
                "exported \(Format.grouped(count)) items to \(output) in \(Format.duration(seconds))"
                    + " (\(Format.si(Double(count) / max(seconds, 1e-9)))/s)")
        }
    }
}
