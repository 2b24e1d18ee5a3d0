/// Reading the two checkpoint slots: which checkpoint is in force, and its journal.
extension Database {
    /// Reads the metadata of the newest valid checkpoint of the two slots; with `withBuckets`,
    /// its changed buckets too.
    static func newestCheckpoint(
        fileSystem: any FileSystem, withBuckets: Bool = false
    ) throws(PogrebError) -> (Checkpoint, [UInt8]) {
        var best: (Checkpoint, [UInt8])?
        var firstError: PogrebError?
        for slot in 0..<2 {
            do throws(PogrebError) {
                let (header, checkpoint) = try readCheckpoint(fileSystem: fileSystem, slot: slot, withBuckets: false)
                if best == nil || checkpoint.sequence > best?.0.sequence ?? 0 { best = (checkpoint, header.databaseID) }
            } catch  where error.code == .io && (error.underlying as? Errno) == .noEntry {
                continue
            } catch {
                if error.code == .notADatabase || error.code == .unsupportedVersion { throw error }
                firstError = firstError ?? error
            }
        }
        guard let best else {
            throw firstError ?? PogrebError(.corrupted, "\(fileSystem.displayPath) has no readable checkpoint file")
        }
        if withBuckets {
            let (header, checkpoint) = try readCheckpoint(
                fileSystem: fileSystem, slot: Int(best.0.sequence & 1), withBuckets: true)
            return (checkpoint, header.databaseID)
        }
        return best
    }

    static func readCheckpoint(
        fileSystem: any FileSystem, slot: Int, withBuckets: Bool
    ) throws(PogrebError) -> (FileHeader, Checkpoint) {
        let name = "checkpoint-\(slot).pgc"
        let path = fileSystem.displayPath + "/" + name
        let file = try fileSystem.open(name, .readOnly)
        defer { file.close() }
        let size = try file.size()
        if size < Int64(FileHeader.size) {
            // Shorter than a header: let the header decoder say whether it is foreign or torn.
            _ = try FileHeader.decode(try file.readExactly(count: Int(size), at: 0), expected: .checkpoint, file: path)
        }
        let (header, checkpoint) = try Checkpoint.decode(file: path, withBuckets: withBuckets) {
            (offset, count) throws(PogrebError) -> [UInt8] in
            guard offset + Int64(count) <= size else {
                throw PogrebError.corrupted(
                    file: path, offset: offset,
                    "the file ends at \(size), before the \(count) bytes that should start here")
            }
            return try file.readExactly(count: count, at: offset)
        }
        guard checkpoint.sequence & 1 == UInt64(slot) else {
            throw PogrebError.corrupted(file: path, offset: 32, "checkpoint \(checkpoint.sequence) in the wrong slot")
        }
        return (header, checkpoint)
    }
}
