import Glibc

/// A file written under a temporary name in the same directory, then synced and renamed into
/// place by ``commit()``; ``abandon()`` removes the temporary file.
final class AtomicOutputFile {
    let path: String
    let temporary: String
    let descriptor: Int32
    let sink: OutputSink
    private var done = false

    init(path: String) throws(ToolError) {
        self.path = path
        self.temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ToolError(.io, "cannot create \(temporary): \(describeErrno(errno))")
        }
        descriptor = fd
        sink = OutputSink(descriptor: fd)
    }

    func commit() throws(ToolError) {
        try sink.flush()
        guard fsync(descriptor) == 0 else { throw ToolError(.io, "cannot sync \(temporary): \(describeErrno(errno))") }
        close(descriptor)
        done = true
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw ToolError(.io, "cannot rename \(temporary) to \(path): \(describeErrno(code))")
        }
    }

    func abandon() {
        guard !done else { return }
        done = true
        close(descriptor)
        unlink(temporary)
    }

    deinit { abandon() }
}
