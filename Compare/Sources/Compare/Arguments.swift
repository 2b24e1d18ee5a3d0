import Glibc

let usage = """
    usage: compare [--n N] [--runs R] [--workloads W1,W2,W2v,W2m,W3,W6,W7,W9,YA1,YA,YB,YC,YF]
                   [--engines pogreb,lmdb,leveldb,sqlite,limit]
                   [--json FILE] [--dir DIR]
           compare child --engine E --workload W --n N --dir D     (what the harness runs in each child)

    Loads every engine's database in one process and reads it in a fresh one, engines alternating run by
    run, and prints the median (min–max) of each figure and swift-pogreb's ratio to each engine.
    Workloads (docs/WORKLOADS.md): W1 load; W2 get (1 thread, 2 threads, 1 thread warm); W2v get through
    the lending call (pogreb withValue); W2m batched get (pogreb get(many:), the limit table's batches of
    16); W3 absent keys; W6 recovery (W1's load made durable, then SIGKILL; the timed open and N/100 more
    puts without sync, SIGKILL; the timed open, a clean close, the timed open: milliseconds, every key
    checked; not the limit table); W7 durable puts (20 000, 1 thread then 4, each put synced, on a new
    database; not the limit table); W9 pogreb-bench (keys of 16–64 printable bytes, values of 128–512,
    lengths uniform and seeded: load, then N gets on 1 thread in a fresh process); YA YB YC YF the
    YCSB mixes (N/10 records of 1 KiB, Zipfian θ = 0.99, N operations over 2 threads, on one database
    loaded per run and changed by each mix in turn; YA1 is YA on one thread; not the limit table).
    Defaults: --n 1000000 --runs 3, every workload and engine, a temporary --dir
    that is removed at the end (a given --dir is kept: only the databases made in it are removed, and
    the harness stops if one of their names exists there).
    """

/// The command line of the parent.
struct Arguments {
    var n = 1_000_000
    var runs = 3
    var workloads = knownWorkloads
    var engines = allEngines.map { $0.name }
    var json: String?
    var dir: String?

    /// The child's: `child --engine E --workload W --n N --dir D`.
    var childEngine: String?
    var childWorkload: String?
    var isChild = false

    static func parse(_ argv: [String]) throws(CompareError) -> Arguments {
        var arguments = Arguments()
        var rest = argv[...]
        if rest.first == "child" {
            arguments.isChild = true
            rest = rest.dropFirst()
        }
        func value(_ flag: String) throws(CompareError) -> String {
            guard let value = rest.popFirst() else { throw CompareError("\(flag) needs a value") }
            return value
        }
        func list(_ flag: String) throws(CompareError) -> [String] {
            try value(flag).split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--n":
                guard let n = Int(try value(flag).replacingUnderscores()), n > 0, n <= Int(UInt32.max) else {
                    throw CompareError("--n takes a count from 1 to 2^32 - 1")
                }
                arguments.n = n
            case "--runs":
                guard let runs = Int(try value(flag)), runs > 0 else { throw CompareError("--runs takes a count ≥ 1") }
                arguments.runs = runs
            case "--workloads":
                let chosen = try list(flag)
                for w in chosen where !knownWorkloads.contains(w) {
                    throw CompareError("unknown workload \(w) (known: \(knownWorkloads.joined(separator: ", ")))")
                }
                arguments.workloads = knownWorkloads.filter { chosen.contains($0) }
            case "--engines":
                let chosen = try list(flag)
                for e in chosen where engineType(named: e) == nil {
                    throw CompareError(
                        "unknown engine \(e) (known: \(allEngines.map { $0.name }.joined(separator: ", ")))")
                }
                arguments.engines = chosen
            case "--json": arguments.json = try value(flag)
            case "--dir": arguments.dir = try value(flag)
            case "--engine": arguments.childEngine = try value(flag)
            case "--workload": arguments.childWorkload = try value(flag)
            case "--help", "-h":
                print(usage)
                exit(0)
            default: throw CompareError("unknown argument \(flag)\n\(usage)")
            }
        }
        return arguments
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
    func replacingUnderscores() -> String { String(self.filter { $0 != "_" }) }
}
