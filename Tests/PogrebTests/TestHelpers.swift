import PogrebTestSupport
import Testing
@testable import Pogreb

/// The bytes of a string.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The `i`th test key: "key-000042".
func key(_ i: Int) -> [UInt8] {
    let digits = String(i)
    return bytes("key-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits)
}

/// A value that names its key and version, padded to `length` bytes (at least the name's length).
func value(_ i: Int, version: Int = 0, length: Int = 0) -> [UInt8] {
    var result = bytes("value-\(i)-v\(version)")
    if result.count < length {
        result.append(
            contentsOf: (0..<(length - result.count)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i &+ version) })
    }
    return result
}

/// Runs `body`, expecting a `PogrebError` with `code`; records an issue otherwise.
/// - Returns: the error, when one of the expected code was thrown.
@discardableResult
func expectPogrebError(
    _ code: PogrebError.Code, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> PogrebError? {
    do {
        try body()
        Issue.record(
            "expected a PogrebError \(code), nothing was thrown. \(comment.map { "\($0)" } ?? "")",
            sourceLocation: sourceLocation)
        return nil
    } catch let error as PogrebError {
        #expect(
            error.code == code, "expected \(code), got \(error). \(comment.map { "\($0)" } ?? "")",
            sourceLocation: sourceLocation)
        return error.code == code ? error : nil
    } catch {
        Issue.record(
            "expected a PogrebError \(code), got \(error). \(comment.map { "\($0)" } ?? "")",
            sourceLocation: sourceLocation)
        return nil
    }
}

/// Runs `body` and returns the `PogrebError` it throws (nil when it returns); other errors are
/// recorded as issues.
func pogrebError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> PogrebError? {
    do {
        try body()
        return nil
    } catch let error as PogrebError {
        return error
    } catch {
        Issue.record("expected a PogrebError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Leaves `db` as a killed process would: nothing more is written (no checkpoint, no flush of
/// the write buffer), its files stay as they are and the directory lock is released, so the
/// directory can be opened again at once.
func abandon(_ db: Database) {
    db.shared.withWriteLock { $0.isClosed = true }
    db.directoryLock.unlock()
}

/// Options for tests that want segments to rotate and checkpoints to happen often.
func smallOptions(_ options: inout Options) {
    options.segmentSize = 1 << 20
    options.writeBufferSize = 16 << 10
}

/// Time-bounded loops.
struct Deadline {
    let end: ContinuousClock.Instant
    init(seconds: Double) { end = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000))) }
    var hasPassed: Bool { ContinuousClock.now >= end }
}
