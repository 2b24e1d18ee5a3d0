/// An error thrown by a ``Database`` operation.
///
/// Every error carries a ``Code`` to switch on, a ``message`` that says what happened and what to
/// do about it (naming the file and offset when a file is at fault), the error that caused it, if
/// any, and the place in the source that raised it.
public struct PogrebError: Error, Sendable, CustomStringConvertible {
    /// A broad classification of the failure. New codes may be added in minor releases, so a
    /// `switch` over codes needs a `default` case.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Wrapped: UInt8, Hashable, Sendable {
            case corrupted, notADatabase, unsupportedVersion, keyTooLarge, valueTooLarge
            case locked, readOnly, closed, io, busy, previousIOFailure, invalidArgument
        }
        let wrapped: Wrapped

        /// A checksum or a structure check failed: the file named in the message is damaged.
        public static var corrupted: Self { Self(wrapped: .corrupted) }
        /// The directory holds a file that is not part of a Pogreb database.
        public static var notADatabase: Self { Self(wrapped: .notADatabase) }
        /// The files were written by a newer (or unknown) format version.
        public static var unsupportedVersion: Self { Self(wrapped: .unsupportedVersion) }
        /// The key is longer than ``Database/maxKeySize``.
        public static var keyTooLarge: Self { Self(wrapped: .keyTooLarge) }
        /// The value is longer than ``Database/maxValueSize``.
        public static var valueTooLarge: Self { Self(wrapped: .valueTooLarge) }
        /// Another open, in this process or another, holds the database: a writer, or — when
        /// opening for writing — read-only opens.
        public static var locked: Self { Self(wrapped: .locked) }
        /// The database was opened read-only, or the directory cannot be written.
        public static var readOnly: Self { Self(wrapped: .readOnly) }
        /// The database was closed.
        public static var closed: Self { Self(wrapped: .closed) }
        /// A system call failed; ``PogrebError/underlying`` holds the ``Errno``.
        public static var io: Self { Self(wrapped: .io) }
        /// The operation cannot run now because another one of its kind is running.
        public static var busy: Self { Self(wrapped: .busy) }
        /// An earlier write or sync failed, so durability can no longer be promised: close and reopen.
        public static var previousIOFailure: Self { Self(wrapped: .previousIOFailure) }
        /// An argument was out of its documented range.
        public static var invalidArgument: Self { Self(wrapped: .invalidArgument) }

        /// The name of the code, such as `corrupted`.
        public var description: String { "\(wrapped)" }
    }

    /// Where a ``PogrebError`` was raised in this library's source.
    public struct SourceLocation: Sendable, Hashable {
        /// The function that raised the error.
        public var function: String
        /// The source file that raised the error (`#fileID`).
        public var file: String
        /// The line that raised the error.
        public var line: Int
    }

    /// The classification of the failure.
    public var code: Code
    /// What happened and what to do, with the file and offset when a file is at fault.
    public var message: String
    /// The error that caused this one, if any (an ``Errno`` for ``Code/io``).
    public var underlying: (any Error & Sendable)?
    /// The place in the library that raised the error.
    public var location: SourceLocation
    /// Set on `corrupted` errors about the index or the checkpoints, which the log can rebuild.
    var isIndexDamage = false

    /// An error with `code` and `message`, caused by `underlying` if given; the source location defaults to the caller's.
    public init(
        _ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil,
        function: String = #function, file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.location = SourceLocation(function: function, file: file, line: line)
    }

    /// The code and the message, followed by the underlying error when there is one.
    public var description: String {
        var text = "\(code): \(message)"
        if let underlying { text += " (\(underlying))" }
        return text
    }
}

extension PogrebError {
    static func corrupted(
        file: String, offset: Int64, _ what: String, function: String = #function,
        fileID: String = #fileID, line: Int = #line
    ) -> PogrebError {
        PogrebError(
            .corrupted,
            "\(file) at offset \(offset): \(what). The file is damaged; run `pogreb check` to see the extent and "
                + "`pogreb repair` on a copy.",
            function: function, file: fileID, line: line)
    }
}

// MARK: Factories for the messages that several places raise

extension PogrebError {
    /// `closed`: a call on a database after ``Database/close()``.
    static func closed(function: String = #function, fileID: String = #fileID, line: Int = #line) -> PogrebError {
        PogrebError(
            .closed, "the database was closed; open it again to use it", function: function, file: fileID, line: line)
    }

    /// `readOnly`: a change asked of a database opened read-only; `what` names the change.
    static func readOnly(
        _ what: String = "write", function: String = #function, fileID: String = #fileID, line: Int = #line
    ) -> PogrebError {
        PogrebError(
            .readOnly, "cannot \(what): the database was opened read-only; open it without `readOnly` to change it",
            function: function, file: fileID, line: line)
    }

    /// The error the failure latch raises for every change after the first write or sync failed
    /// (`previousIOFailure`), or after a change met damage half-way (`corrupted`).
    static func latched(
        _ first: PogrebError, function: String = #function, fileID: String = #fileID, line: Int = #line
    ) -> PogrebError {
        if first.code == .io || first.code == .previousIOFailure {
            return PogrebError(
                .previousIOFailure,
                "an earlier write or sync failed (\(first.message)); nothing more is written. Close and reopen the "
                    + "database: what the last successful sync covered is safe, and the open recovers it",
                underlying: first, function: function, file: fileID, line: line)
        }
        return PogrebError(
            .corrupted,
            "an earlier change met damage half-way (\(first.message)); nothing more is written. Close the database "
                + "and run `pogreb check`",
            underlying: first, function: function, file: fileID, line: line)
    }

    /// `locked`: the directory lock (exclusive when `exclusive`) could not be taken because
    /// another open holds the directory: readers only (`heldByReaders`), or a writer.
    package static func locked(
        _ directory: String, exclusive: Bool, heldByReaders: Bool, function: String = #function,
        fileID: String = #fileID, line: Int = #line
    ) -> PogrebError {
        let message: String
        if exclusive && heldByReaders {
            message =
                "\(directory) is open read-only, in another process or another Database value: a writer needs the "
                + "directory to itself. Close the read-only opens first, or open read-only too."
        } else if exclusive {
            message =
                "\(directory) is open for writing, in another process or another Database value: one writer at a "
                + "time, and no reader beside it. Close the other writer first."
        } else {
            message =
                "\(directory) is open for writing, in another process or another Database value: read-only opens "
                + "share the directory with each other, never with a writer. Close the writer first."
        }
        return PogrebError(.locked, message, function: function, file: fileID, line: line)
    }

    /// `notADatabase` for a file in a database directory that is not ours; nothing was changed.
    static func notOurs(
        _ path: String, refusing verb: String = "open", function: String = #function, fileID: String = #fileID,
        line: Int = #line
    ) -> PogrebError {
        PogrebError(
            .notADatabase,
            "\(path) is not a file of a Pogreb database; refusing to \(verb) the directory. Nothing was changed.",
            function: function, file: fileID, line: line)
    }

    /// `corrupted` for something other than a regular file (`kind`: "a directory", "a FIFO", …)
    /// under one of our names. No rebuild can write there and nothing of ours deletes it, so the
    /// advice is to move it away. The underlying error is ``NotARegularFile``.
    package static func notARegularFile(
        _ path: String, kind: String, function: String = #function, fileID: String = #fileID, line: Int = #line
    ) -> PogrebError {
        PogrebError(
            .corrupted,
            "\(path) is \(kind), not a regular file: every file of a database is a regular file, and nothing of "
                + "ours writes to or deletes anything else. Move it out of the directory, then run `pogreb check` "
                + "(and `pogreb repair` if it reports damage).",
            underlying: NotARegularFile(path: path), function: function, file: fileID, line: line)
    }

    /// Whether this error is about something other than a regular file under one of our names.
    var isNotARegularFile: Bool { underlying is NotARegularFile }

    /// `notADatabase` for a file of another Pogreb database found among ours.
    static func otherDatabase(
        _ path: String, function: String = #function, fileID: String = #fileID, line: Int = #line
    ) -> PogrebError {
        PogrebError(
            .notADatabase, "\(path) belongs to another database. Nothing was changed.",
            function: function, file: fileID, line: line)
    }

    /// `keyTooLarge` before anything was written.
    static func keyTooLarge(_ count: Int) -> PogrebError {
        PogrebError(
            .keyTooLarge, "a key of \(count) bytes exceeds the limit of \(Limits.maxKeySize) bytes; nothing was written"
        )
    }

    /// `valueTooLarge` before anything was written.
    static func valueTooLarge(_ count: Int) -> PogrebError {
        PogrebError(
            .valueTooLarge,
            "a value of \(count) bytes exceeds the limit of \(Limits.maxValueSize) bytes; nothing was written")
    }
}

/// The cause of a ``PogrebError`` about a directory, device, FIFO or socket under one of our
/// file names.
package struct NotARegularFile: Error, Sendable, CustomStringConvertible {
    package var path: String
    package var description: String { "not a regular file: \(path)" }
}
