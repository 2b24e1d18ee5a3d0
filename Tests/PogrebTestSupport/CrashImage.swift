import Pogreb

/// What a simulated power cut does with the writes made since each file's last sync.
package enum UnsyncedWrites: Sendable, CustomStringConvertible {
    /// All of them are lost: the disk holds exactly what was synced.
    case dropped
    /// All of them reached the disk (a crash of the process, not of the machine).
    case kept
    /// Each file keeps a random prefix of them, as a disk that wrote part of its cache would.
    case randomPrefix

    package static let allCases: [UnsyncedWrites] = [.dropped, .kept, .randomPrefix]

    package var description: String {
        switch self {
        case .dropped: return "dropped"
        case .kept: return "kept"
        case .randomPrefix: return "random prefix"
        }
    }
}

extension MemoryFileSystem {
    /// The state a disk would hold after a power cut now (see ``crashImage(keepingUnsyncedWrites:)``),
    /// with `unsynced` deciding what happens to each file's writes since its last sync. Random
    /// prefixes are drawn from `generator`.
    package func crash(_ unsynced: UnsyncedWrites, using generator: inout SeededGenerator) -> MemoryFileSystem {
        switch unsynced {
        case .dropped:
            return crashImage()
        case .kept:
            return crashImage(keepingUnsyncedWrites: { $0 })
        case .randomPrefix:
            let box = GeneratorBox(generator)
            let image = crashImage(keepingUnsyncedWrites: { count in box.next(upTo: count) })
            generator = box.generator
            return image
        }
    }

    /// A copy of the live files, durable as they are: what a clean stop would leave. The original
    /// is left untouched, so a test can damage or open the copy again and again.
    package func copy() -> MemoryFileSystem {
        crashImage(keepingUnsyncedWrites: { $0 })
    }
}

/// Lets an escaping closure draw from a generator that is then handed back.
private final class GeneratorBox {
    var generator: SeededGenerator
    init(_ generator: SeededGenerator) { self.generator = generator }
    func next(upTo count: Int) -> Int { Int.random(in: 0...max(count, 0), using: &generator) }
}
