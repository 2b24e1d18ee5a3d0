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

/// Answers the choices of ``MemoryFileSystem/crashImage(choosing:)``: one number in `0..<count`
/// per question, asked in a fixed order for a given file-system state.
package protocol CrashChooser {
    mutating func choose(_ count: Int) -> Int
}

/// Random answers, from a seeded generator: samples the crash states.
package struct RandomChooser: CrashChooser {
    package var generator: SeededGenerator
    package init(_ generator: SeededGenerator) { self.generator = generator }
    package mutating func choose(_ count: Int) -> Int { count <= 1 ? 0 : Int.random(in: 0..<count, using: &generator) }
}

/// Walks every combination of answers, like an odometer: the first image answers 0 to every
/// question; ``advance()`` moves to the next combination and returns false after the last.
/// Valid only while the questions asked stay the same from one image to the next (the same
/// file-system state), which holds because the order of questions does not depend on the answers.
package struct ExhaustiveChooser: CrashChooser {
    private var answers: [Int] = []
    private var radixes: [Int] = []
    private var position = 0

    package init() {}

    package mutating func choose(_ count: Int) -> Int {
        defer { position += 1 }
        if position == answers.count {
            answers.append(0)
            radixes.append(count)
        }
        precondition(radixes[position] == count, "the questions changed between two images of one state")
        return answers[position]
    }

    /// The number of combinations, known after the first image: the product of the counts, or
    /// `nil` once it passes `limit`.
    package func combinations(upTo limit: Int) -> Int? {
        var product = 1
        for radix in radixes {
            let (next, overflow) = product.multipliedReportingOverflow(by: max(radix, 1))
            if overflow || next > limit { return nil }
            product = next
        }
        return product
    }

    /// Moves to the next combination; false when every one was visited.
    package mutating func advance() -> Bool {
        position = 0
        var i = answers.count - 1
        while i >= 0 {
            answers[i] += 1
            if answers[i] < radixes[i] { return true }
            answers[i] = 0
            i -= 1
        }
        return false
    }
}
