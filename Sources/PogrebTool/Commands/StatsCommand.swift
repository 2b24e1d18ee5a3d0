import ArgumentParser
import Glibc
import Pogreb

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show counts, sizes, segments, index shape and the last checkpoint.",
        discussion: """
            Opens the database read-only. Sizes are file lengths; "on disk" counts allocated \
            blocks. Live bytes are log bytes less dead ones (overwritten or deleted records, \
            tombstones and batch commit records).
            """)

    @Argument(help: "The database directory.") var path: String
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        let (statistics, shape) = try withDatabase(path, .read) {
            (db) throws(ToolError) -> (Statistics, IndexShape) in
            try engine { () throws(PogrebError) -> (Statistics, IndexShape) in
                (try db.statistics, try db.indexShape())
            }
        }
        let files = try Files.list(path).filter(\.isRegularFile)
        // The header of every file that the engine's own decoder accepts (a known magic, the checksum,
        // the version and the header size all right).
        let headers = files.compactMap { file -> (name: String, kind: FileHeader.Kind, header: FileHeader)? in
            guard let bytes = Files.readPrefix(path + "/" + file.name, count: FileHeader.size), bytes.count >= 8,
                let kind = FileHeader.Kind(rawValue: String(decoding: bytes[0..<8], as: UTF8.self)),
                let header = try? FileHeader.decode(bytes, expected: kind, file: file.name)
            else { return nil }
            return (file.name, kind, header)
        }
        let versions = Set(headers.map(\.header.version)).sorted()
        // The newest checkpoint: the valid checkpoint header with the highest sequence (field A).
        let checkpoint = headers.filter { $0.kind == .checkpoint }.max { $0.header.a < $1.header.a }
        let checkpointTime = checkpoint.flatMap { c in files.first { $0.name == c.name }?.modified }
        let apparent = files.reduce(Int64(0)) { $0 + $1.size }
        let allocated = files.reduce(Int64(0)) { $0 + $1.allocated }
        let live = statistics.logBytes - statistics.deadBytes

        if json {
            var object = JSONObject()
            object.set("path", path)
            object.set("formatVersions", strings: versions.map(String.init))
            object.set("keys", statistics.keyCount)
            object.set("logBytes", statistics.logBytes)
            object.set("deadBytes", statistics.deadBytes)
            object.set("liveBytes", live)
            object.set(
                "segments",
                statistics.segments.map { segment in
                    var s = JSONObject()
                    s.set("name", baseName(segment.name))
                    s.set("sequence", segment.sequence)
                    s.set("size", segment.size)
                    s.set("deadBytes", segment.deadBytes)
                    s.set("liveBytes", segment.size - segment.deadBytes)
                    s.set("active", segment.isActive)
                    return s
                })
            var index = JSONObject()
            index.set("buckets", statistics.bucketCount)
            index.set("overflowBuckets", statistics.overflowBucketCount)
            index.set("load", statistics.indexLoad)
            index.set(
                "overflowPerBucket",
                statistics.bucketCount > 0
                    ? Double(statistics.overflowBucketCount) / Double(statistics.bucketCount) : 0)
            index.set("dirtyBuckets", statistics.dirtyBuckets)
            index.set("longestChain", shape.longestChain)
            index.set("averageChain", shape.averageChain)
            index.set("bucketsWithOverflow", shape.bucketsWithOverflow)
            object.set("index", index)
            var last = JSONObject()
            if let checkpoint { last.set("sequence", checkpoint.header.a) } else { last.setNull("sequence") }
            if let checkpointTime { last.set("modified", checkpointTime) } else { last.setNull("modified") }
            object.set("lastCheckpoint", last)
            object.set("recordsReplayedAtOpen", statistics.recordsReplayedAtOpen)
            object.set("tornTails", strings: statistics.tornTails)
            object.set(
                "files",
                files.map { file in
                    var f = JSONObject()
                    f.set("name", file.name)
                    f.set("size", file.size)
                    f.set("allocated", file.allocated)
                    return f
                })
            object.set("apparentBytes", apparent)
            object.set("bytesOnDisk", allocated)
            Console.current.out.write(object.text + "\n")
            return
        }

        var text = ""
        func row(_ name: String, _ value: String) { text += Format.pad(name, 16) + value + "\n" }
        row("database", path)
        row("format", versions.isEmpty ? "unknown" : "version " + versions.map(String.init).joined(separator: ", "))
        row("keys", Format.grouped(statistics.keyCount))
        let deadShare = statistics.logBytes > 0 ? Double(statistics.deadBytes) / Double(statistics.logBytes) * 100 : 0
        let segmentCount = statistics.segments.count
        row(
            "log",
            "\(Format.bytes(statistics.logBytes)) in \(segmentCount) segment\(segmentCount == 1 ? "" : "s"):"
                + " live \(Format.bytes(live)), dead \(Format.bytes(statistics.deadBytes))"
                + " (\(Format.fixed(deadShare, 1))%)")
        row(
            "index",
            "\(Format.grouped(statistics.bucketCount)) buckets,"
                + " \(Format.grouped(statistics.overflowBucketCount)) overflow buckets,"
                + " load \(Format.fixed(statistics.indexLoad, 3))")
        row(
            "depth",
            "longest chain \(shape.longestChain) bucket\(shape.longestChain == 1 ? "" : "s"),"
                + " \(Format.fixed(shape.averageChain, 3)) on average,"
                + " \(Format.grouped(shape.bucketsWithOverflow)) buckets with overflow")
        if let checkpoint {
            var when = ""
            if let checkpointTime {
                let age = Int64(time(nil)) - checkpointTime
                when = ", written \(formatTime(checkpointTime)) (\(Format.clock(Double(max(age, 0)))) ago)"
            }
            row(
                "last checkpoint",
                "#\(checkpoint.header.a)\(when); \(Format.grouped(statistics.dirtyBuckets)) buckets changed since")
        } else {
            row("last checkpoint", "none readable")
        }
        if statistics.recordsReplayedAtOpen > 0 {
            row(
                "replayed",
                "\(Format.grouped(statistics.recordsReplayedAtOpen)) records written after the last checkpoint"
                    + " (this read-only open replayed them in memory)")
        }
        for tail in statistics.tornTails { row("torn tail", tail) }
        row("files", "\(files.count), \(Format.bytes(apparent)) (on disk \(Format.bytes(allocated)))")
        text += "\nsegments\n"
        text += Format.table(
            ["name", "size", "live", "dead", "dead %", ""],
            statistics.segments.map { s in
                [
                    baseName(s.name), Format.bytes(s.size), Format.bytes(s.size - s.deadBytes),
                    Format.bytes(s.deadBytes),
                    Format.fixed(s.size > 0 ? Double(s.deadBytes) / Double(s.size) * 100 : 0, 1),
                    s.isActive ? "active" : "",
                ]
            }, numeric: [1, 2, 3, 4])
        text += "\nfiles\n"
        text += Format.table(
            ["name", "size", "on disk"], files.map { [$0.name, Format.bytes($0.size), Format.bytes($0.allocated)] },
            numeric: [1, 2])
        Console.current.out.write(text)
    }
}
