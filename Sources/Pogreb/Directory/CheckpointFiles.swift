/// Reading the two checkpoint slots: which checkpoint is in force, and its journal.
extension Database {
    /// What the two checkpoint slots hold: the newest valid checkpoint (nil when neither is
    /// valid) and the damage found in the slots that are present but not valid: slot and error.
    ///
    /// A damaged slot beside a valid one is routed around: it is most often a journal torn by a
    /// crash, and the next checkpoint overwrites it. Only `unsupportedVersion` aborts at once
    /// (a newer build wrote the slot; its older neighbour must not be trusted instead).
    static func checkpointSlots(
        fileSystem: any FileSystem
    ) throws(PogrebError) -> (best: (Checkpoint, [UInt8])?, damage: [(slot: Int, error: PogrebError)]) {
        var best: (Checkpoint, [UInt8])?
        var damage: [(slot: Int, error: PogrebError)] = []
        for slot in 0..<2 {
            do throws(PogrebError) {
                let (header, checkpoint) = try readCheckpoint(fileSystem: fileSystem, slot: slot, withBuckets: false)
                if best == nil || checkpoint.sequence > best?.0.sequence ?? 0 { best = (checkpoint, header.databaseID) }
            } catch  where error.code == .io && (error.underlying as? Errno) == .noEntry {
                continue
            } catch {
                if error.code == .unsupportedVersion { throw error }
                damage.append((slot, error))
            }
        }
        return (best, damage)
    }

    /// Reads the metadata of the newest valid checkpoint of the two slots; with `withBuckets`,
    /// its changed buckets too. A damaged slot beside a valid one is skipped
    /// (``checkpointSlots(fileSystem:)``).
    /// - Throws: when neither slot is valid, `notADatabase` if a slot is a foreign file (nothing
    ///   else in the directory is then trusted to be ours), else the first slot's damage.
    static func newestCheckpoint(
        fileSystem: any FileSystem, withBuckets: Bool = false
    ) throws(PogrebError) -> (Checkpoint, [UInt8]) {
        let (best, damage) = try checkpointSlots(fileSystem: fileSystem)
        guard let best else {
            throw damage.first { $0.error.code == .notADatabase }?.error ?? damage.first?.error
                ?? PogrebError(.corrupted, "\(fileSystem.displayPath) has no readable checkpoint file")
        }
        if withBuckets {
            let (header, checkpoint) = try readCheckpoint(
                fileSystem: fileSystem, slot: Int(best.0.sequence & 1), withBuckets: true)
            return (checkpoint, header.databaseID)
        }
        return best
    }

    /// Refuses, for a writer, a checkpoint slot that is not a regular file (a directory, a
    /// device, a FIFO): the next checkpoint could not be written there, and it is not ours to
    /// delete.
    static func checkSlotsAreWritable(fileSystem: any FileSystem) throws(PogrebError) {
        for slot in 0..<2 {
            try DatabaseFiles.requireRegularFileOrNothing(DatabaseFiles.checkpoint(slot: slot), in: fileSystem)
        }
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
