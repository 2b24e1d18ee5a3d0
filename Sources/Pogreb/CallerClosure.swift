/// The one throws rule of the calls that take a closure of the caller's (`withValue`, `write`,
/// `update`, `forEachItem`, `forEachKey`): they throw what the closure throws, unchanged, or a
/// ``PogrebError`` of their own, so they are declared `throws`; every other call is declared
/// `throws(PogrebError)`.
///
/// The engine under those calls throws only `PogrebError` (typed throws, no existential on the
/// hot path), so a closure error cannot pass through it. `CallerClosure` carries it across: the
/// engine calls ``run(_:)``, which catches the closure's error and answers `nil`; the engine
/// then finishes (releasing its locks) and the public call ends with ``rethrow()``.
@usableFromInline
struct CallerClosure {
    /// The error the caller's closure threw, if any.
    @usableFromInline var failure: (any Error)?

    @inlinable init() { failure = nil }

    /// Calls `body`; on a throw, keeps the error for ``rethrow()`` and returns `nil`.
    @inlinable
    mutating func run<T>(_ body: () throws -> T) -> T? {
        do { return try body() } catch {
            failure = error
            return nil
        }
    }

    /// Throws the error kept by ``run(_:)``, if any.
    @inlinable
    func rethrow() throws {
        if let failure { throw failure }
    }
}
