import Glibc
import Synchronization

/// Counters of `/proc/self/io`.
struct ProcIO: Sendable {
    /// Read system calls.
    var syscr: Int64 = 0
    /// Bytes passed to read system calls.
    var rchar: Int64 = 0
    /// Bytes fetched from storage (page cache misses, readahead included).
    var readBytes: Int64 = 0
    var available = false

    static func read() -> ProcIO {
        var io = ProcIO()
        guard let bytes = Files.readPrefix("/proc/self/io", count: 4096) else { return io }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let value = Int64(parts[1].trimmingSpaces) else { continue }
            switch parts[0] {
            case "syscr": io.syscr = value
            case "rchar": io.rchar = value
            case "read_bytes":
                io.readBytes = value
                io.available = true
            default: break
            }
        }
        return io
    }

    /// The counters' own cost: what one `read()` of /proc/self/io adds to them.
    static let overhead: ProcIO = {
        let a = ProcIO.read()
        let b = ProcIO.read()
        return ProcIO(syscr: b.syscr - a.syscr, rchar: b.rchar - a.rchar, readBytes: 0, available: true)
    }()

    /// The change from `start` to now, less the cost of reading the counters.
    static func since(_ start: ProcIO) -> ProcIO {
        let overhead = ProcIO.overhead
        let end = ProcIO.read()
        var delta = end - start
        delta.syscr = max(0, delta.syscr - overhead.syscr)
        delta.rchar = max(0, delta.rchar - overhead.rchar)
        return delta
    }

    static func - (a: ProcIO, b: ProcIO) -> ProcIO {
        ProcIO(
            syscr: a.syscr - b.syscr, rchar: a.rchar - b.rchar, readBytes: a.readBytes - b.readBytes,
            available: a.available && b.available)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s.removeLast() }
        return s
    }
}

/// Memory of this process.
enum Memory {
    /// The peak resident set (getrusage), in bytes.
    static var peakResident: Int64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Int64(usage.ru_maxrss) * 1024
    }

    /// A field of /proc/self/status in bytes (`VmRSS`, `RssAnon`, `RssFile`), if present.
    static func status(_ field: String) -> Int64? {
        guard let bytes = Files.readPrefix("/proc/self/status", count: 8192) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(field + ":") {
            let number = line.dropFirst(field.count + 1).trimmingSpaces.split(separator: " ").first
            return number.flatMap { Int64($0) }.map { $0 * 1024 }
        }
        return nil
    }
}

/// Counts Swift heap objects allocated (`swift_allocObject`) while a closure runs, through the
/// runtime's instrumentation hook (`_swift_allocObject`, honoured while
/// `_swift_enableSwizzlingOfAllocationAndRefCountingFunctions_forInstrumentsOnly` is set). Array
/// buffers, class instances and boxes are counted; raw `malloc` and `UnsafeMutablePointer.allocate`
/// are not.
///
/// The hooked runtime path mishandles some references (retaining a `String` crashes), so the
/// closure runs in a forked child process whose standard error goes to /dev/null, and must not
/// touch strings: a crash costs the figure (`nil`), never the benchmark.
enum AllocationCounter {
    typealias AllocFunction = @convention(c) (UnsafeRawPointer?, Int, Int) -> UnsafeMutableRawPointer?

    private static let count = Atomic<Int>(0)
    nonisolated(unsafe) private static var original: AllocFunction?

    /// The number of allocations `body` makes, or `nil` when it cannot be measured.
    static func measure(_ body: () -> Void) -> Int? {
        guard let hookAddress = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "_swift_allocObject"),
            let flagAddress = dlsym(
                UnsafeMutableRawPointer(bitPattern: 0),
                "_swift_enableSwizzlingOfAllocationAndRefCountingFunctions_forInstrumentsOnly")
        else { return nil }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        let pid = fork()
        if pid < 0 {
            close(fds[0])
            close(fds[1])
            return nil
        }
        if pid == 0 {
            close(fds[0])
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 2) }
            let hook = hookAddress.assumingMemoryBound(to: Optional<AllocFunction>.self)
            let flag = flagAddress.assumingMemoryBound(to: Bool.self)
            guard let saved = hook.pointee else { _exit(1) }
            original = saved
            hook.pointee = { metadata, size, alignment in
                AllocationCounter.count.add(1, ordering: .relaxed)
                return AllocationCounter.original!(metadata, size, alignment)
            }
            flag.pointee = true
            body()
            flag.pointee = false
            hook.pointee = saved
            var result = Int64(count.load(ordering: .relaxed))
            _ = withUnsafeBytes(of: &result) { write(fds[1], $0.baseAddress, 8) }
            _exit(0)
        }
        close(fds[1])
        var result: Int64 = -1
        let n = withUnsafeMutableBytes(of: &result) { read(fds[0], $0.baseAddress, 8) }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard n == 8, result >= 0, ChildProcess.exitCode(status) == 0 else { return nil }
        return Int(result)
    }
}

/// The machine the benchmark runs on.
struct Machine: Sendable {
    var cores: Int
    var cpu: String
    var memory: Int64
    var kernel: String
    var build: String
    /// /proc/loadavg's 1-minute figure when the run began: other work competes for the cores.
    var loadAverage: Double?

    static func current() -> Machine {
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var cpu = "unknown CPU"
        if let bytes = Files.readPrefix("/proc/cpuinfo", count: 1 << 16) {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("model name")
            {
                if let value = line.split(separator: ":", maxSplits: 1).last { cpu = String(value.trimmingSpaces) }
                break
            }
        }
        var memory: Int64 = 0
        if let bytes = Files.readPrefix("/proc/meminfo", count: 4096) {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("MemTotal:")
            {
                memory =
                    (line.dropFirst(9).trimmingSpaces.split(separator: " ").first.flatMap { Int64($0) } ?? 0) * 1024
            }
        }
        var names = utsname()
        uname(&names)
        let field = { (value: Any) -> String in
            withUnsafeBytes(of: value) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        let kernel = field(names.sysname) + " " + field(names.release)
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        let load = Files.readPrefix("/proc/loadavg", count: 256).flatMap { bytes in
            String(decoding: bytes, as: UTF8.self).split(separator: " ").first.flatMap { Double(String($0)) }
        }
        return Machine(cores: cores, cpu: cpu, memory: memory, kernel: kernel, build: build, loadAverage: load)
    }

    var json: JSONObject {
        var o = JSONObject()
        o.set("cores", cores)
        o.set("cpu", cpu)
        o.set("memoryBytes", memory)
        o.set("kernel", kernel)
        o.set("build", build)
        if let loadAverage { o.set("loadAverage", loadAverage) } else { o.setNull("loadAverage") }
        return o
    }
}

/// The file system type of `path`: the type of the mount with the longest mount point that
/// contains it, from /proc/self/mountinfo.
func fileSystemType(_ path: String) -> String {
    var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard realpath(path, &resolved) != nil else { return "unknown" }
    let absolute = String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let bytes = Files.readPrefix("/proc/self/mountinfo", count: 1 << 20) else { return "unknown" }
    var best = ""
    var type = "unknown"
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        // id parent major:minor root mount-point options [optional fields] - type source super-options
        let fields = line.split(separator: " ")
        guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
        let mountPoint = String(fields[4]).replacing("\\040", with: " ")
        let contains = mountPoint == "/" || absolute == mountPoint || absolute.hasPrefix(mountPoint + "/")
        if contains && mountPoint.count >= best.count {
            best = mountPoint
            type = String(fields[dash + 1])
        }
    }
    return type
}

enum PageCache {
    /// Drops the pages of every regular file in `directory` from the page cache:
    /// `fdatasync`, then `posix_fadvise(POSIX_FADV_DONTNEED)` over the whole file.
    /// - Returns: the files it failed on (with the reason).
    @discardableResult
    static func drop(_ directory: String) -> [String] {
        var failures: [String] = []
        for entry in (try? Files.list(directory)) ?? [] where entry.isRegularFile {
            let path = directory + "/" + entry.name
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                failures.append("\(entry.name): \(describeErrno(errno))")
                continue
            }
            _ = fdatasync(fd)
            let result = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
            if result != 0 { failures.append("\(entry.name): \(describeErrno(result))") }
            close(fd)
        }
        return failures
    }

    /// The bytes of the files in `directory` that are in the page cache (`mincore`).
    static func residentBytes(_ directory: String, only: ((String) -> Bool)? = nil) -> Int64 {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var total: Int64 = 0
        for entry in (try? Files.list(directory)) ?? [] where entry.isRegularFile && entry.size > 0 {
            if let only, !only(entry.name) { continue }
            let fd = open(directory + "/" + entry.name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            let length = Int(entry.size)
            guard let map = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { continue }
            defer { munmap(map, length) }
            let pages = (length + pageSize - 1) / pageSize
            var vector = [UInt8](repeating: 0, count: pages)
            guard mincore(map, length, &vector) == 0 else { continue }
            total += Int64(vector.reduce(0) { $0 + Int($1 & 1) }) * Int64(pageSize)
        }
        return total
    }

    /// Reads the files whose names pass `filter` to their end (bringing them into the cache).
    /// - Returns: the bytes read.
    static func readThrough(_ directory: String, filter: (String) -> Bool) -> Int64 {
        var total: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for entry in (try? Files.list(directory)) ?? [] where entry.isRegularFile && filter(entry.name) {
            let fd = open(directory + "/" + entry.name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                total += Int64(n)
            }
            close(fd)
        }
        return total
    }
}

/// Latency percentiles of a sample, in nanoseconds.
struct Percentiles: Sendable {
    var p50: UInt64
    var p99: UInt64
    var p999: UInt64
    var max: UInt64

    init(_ samples: inout [UInt32]) {
        guard !samples.isEmpty else {
            p50 = 0
            p99 = 0
            p999 = 0
            max = 0
            return
        }
        samples.sort()
        func at(_ q: Double) -> UInt64 { UInt64(samples[min(samples.count - 1, Int(Double(samples.count) * q))]) }
        p50 = at(0.5)
        p99 = at(0.99)
        p999 = at(0.999)
        max = UInt64(samples[samples.count - 1])
    }

    var text: String {
        "p50 \(Format.nanoseconds(p50)), p99 \(Format.nanoseconds(p99)), p99.9 \(Format.nanoseconds(p999))"
    }

    var json: JSONObject {
        var o = JSONObject()
        o.set("p50", p50)
        o.set("p99", p99)
        o.set("p999", p999)
        o.set("max", max)
        return o
    }
}
