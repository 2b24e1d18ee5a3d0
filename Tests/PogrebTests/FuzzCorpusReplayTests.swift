import Foundation
import Pogreb
import PogrebTestSupport
import Testing

/// Replays the committed inputs of the `open` fuzz target (Fuzz/Corpus/open/: the seeds and every
/// input that reproduced a finding, named `finding-*`) through the target's own oracle
/// (``OpenOracle``), so that each finding stays a unit test in the ordinary run and a build that
/// breaks a promise the fuzzer checked fails here without the fuzzing toolchain.
@Suite struct FuzzCorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus/open")

    static var inputNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).sorted()
    }

    @Test func theCorpusHoldsSeedsAndFindings() {
        let names = Self.inputNames
        #expect(names.contains { $0.hasPrefix("seed-") })
        #expect(names.contains { $0.hasPrefix("finding-") })
    }

    @Test(arguments: inputNames)
    func everyCommittedOpenInputKeepsTheOraclesPromises(name: String) throws {
        let input = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name)))
        do throws(OracleViolation) {
            try OpenOracle.check(input)
        } catch {
            Issue.record(Comment(rawValue: "\(name): \(error)"))
        }
    }
}
