import Glibc
import Pogreb
import PogrebWorkload
import Testing

@testable import PogrebTool

/// Kill tests: `pogreb _kill-writer` applies the plan of a seed (see KillWriter.swift) and is
/// SIGKILLed after a random 20–300 ms; the database is then reopened in this process (which
/// recovers it) and must hold exactly the state after some prefix of the plan's steps, no
/// shorter than the last `synced <X>` line of the writer's log. Each round continues the writer
/// from the step the database was found at.
///
/// Every other round the writer runs with `--maintenance-beside` (compaction and backups to
/// `<db>.backup` on a second thread); after such a round the backup, when one was published,
/// must open, verify clean and hold only values the plan wrote for each key. Every fourth round
/// kills the writer 1-12 ms after it starts, before its open finishes (in the process's start or
/// in the open's recovery of the previous kill's files), and is checked like the others.
///
/// `POGREB_SEED` fixes the seed (it is printed), `POGREB_KILL_ROUNDS` the number of rounds
/// (default 30).
@Suite("kill -9 during writes", .serialized)
struct KillTests {
    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The plan's steps, generated on demand.
    final class Plan {
        private var generator: KillPlan.Generator
        private(set) var steps: [KillPlan.Step] = []

        init(seed: UInt64) { generator = KillPlan.Generator(seed: seed) }

        subscript(index: Int) -> KillPlan.Step {
            while steps.count <= index { steps.append(generator.next()) }
            return steps[index]
        }
    }

    typealias State = [[UInt8]: [UInt8]]

    /// Every key and value of the database at `path`, after a writable open (which recovers it).
    /// Also checks the database with `verify()` and that point reads agree with the walk.
    static func readDatabase(_ path: String) throws -> (State, [String]) {
        let (state, problems, _) = try readDatabaseWithStatistics(path)
        return (state, problems)
    }

    static func readDatabaseWithStatistics(_ path: String) throws -> (State, [String], Statistics) {
        let db = try Database.open(at: path)
        let statistics = try db.statistics
        var state: State = [:]
        var problems: [String] = []
        try db.forEachItem { item in
            if state[item.key] != nil { problems.append("the walk returned \(Codec.escapedString(item.key)) twice") }
            state[item.key] = item.value
        }
        for id in 0..<KillPlan.keySpace {
            let key = KillPlan.key(id)
            let value = try db.get(key)
            if value != state[key] {
                problems.append(
                    "get(\(Codec.escapedString(key))) = \(value.map { Codec.escapedString($0.prefix(40)) } ?? "nil") but the walk says \(state[key].map { Codec.escapedString($0.prefix(40)) } ?? "absent")"
                )
            }
        }
        if try db.count != state.count {
            problems.append("count \(try db.count) but the walk found \(state.count) keys")
        }
        let report = try db.verify()
        problems += report.problems.map { "verify: \($0)" }
        try db.close()
        return (state, problems, statistics)
    }

    static func describe(_ value: [UInt8]?) -> String {
        guard let value else { return "absent" }
        // "key-N:<operation number>" then padding
        let text = value.prefix { $0 >= 0x20 && $0 < 0x7F }
        return String(decoding: text, as: UTF8.self)
            + (value.count > text.count ? " (+\(value.count - text.count) bytes)" : "")
    }

    /// Checks one round: `actual` must equal `start` state advanced by steps `from ..< j` for
    /// some step boundary `j ≥ durable`. Also checks the weaker per-key rule (each key holds its
    /// durable value or one the plan writes for it at or after `durable`) to explain failures.
    /// - Returns: the largest such `j`.
    static func matchPrefix(plan: Plan, start: State, from: Int, durable: Int, actual: State) -> (Int?, [String]) {
        var candidate = start
        for i in from..<durable { KillPlan.apply(plan[i], to: &candidate) }
        let horizon = durable + 4_000

        // The per-key rule.
        var problems: [String] = []
        var laterValues: [[UInt8]: Set<[UInt8]?>] = [:]
        for i in durable..<horizon {
            for operation in plan[i].operations {
                switch operation {
                case .put(let key, let value): laterValues[key, default: []].insert(value)
                case .delete(let key): laterValues[key, default: []].insert(nil)
                }
            }
        }
        for key in Set(actual.keys).union(candidate.keys) {
            let value = actual[key]
            if value != candidate[key] && !(laterValues[key]?.contains(value) ?? false) {
                problems.append(
                    "\(Codec.escapedString(key)) holds \(describe(value)); durable value "
                        + "\(describe(candidate[key])), no later step writes that"
                )
            }
        }

        // The prefix rule.
        var mismatched = Set(Set(actual.keys).union(candidate.keys).filter { actual[$0] != candidate[$0] })
        var match: Int? = mismatched.isEmpty ? durable : nil
        for i in durable..<horizon {
            let step = plan[i]
            KillPlan.apply(step, to: &candidate)
            for key in step.operations.map(\.key) {
                if actual[key] == candidate[key] { mismatched.remove(key) } else { mismatched.insert(key) }
            }
            if mismatched.isEmpty { match = i + 1 }
        }
        if match == nil {
            var durableState = start
            for i in from..<durable { KillPlan.apply(plan[i], to: &durableState) }
            let differing = Set(actual.keys).union(durableState.keys).filter { actual[$0] != durableState[$0] }.sorted {
                $0.lexicographicallyPrecedes($1)
            }
            problems.append(
                "no prefix of steps ≥ \(durable) matches; \(differing.count) keys differ from the durable state, e.g. "
                    + differing.prefix(5).map {
                        "\(Codec.escapedString($0)): \(describe(actual[$0])) vs durable \(describe(durableState[$0]))"
                    }.joined(separator: "; "))
        }
        return (match, problems)
    }

    /// The last `synced <X>` of a writer's log, if any.
    static func lastSynced(_ log: String) -> Int? {
        guard let bytes = try? readFile(log) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line -> Int? in
            let parts = line.split(separator: " ")
            return parts.count == 2 && parts[0] == "synced" ? Int(parts[1]) : nil
        }.max()
    }

    @Test("the plan is deterministic and documented values hold")
    func planIsDeterministic() {
        let a = KillPlan.operations(seed: 99, count: 2_000)
        let b = KillPlan.operations(seed: 99, count: 2_000)
        #expect(a == b)
        #expect(KillPlan.operations(seed: 100, count: 50) != Array(a.prefix(50)))
        var generator = KillPlan.Generator(seed: 99)
        for step in a { #expect(generator.next() == step) }
        let batches = a.filter(\.isBatch)
        #expect(batches.allSatisfy { (2...20).contains($0.operations.count) })
        #expect(!batches.isEmpty)
        #expect(a.contains { $0.syncAfter })
        #expect(
            a.contains { step in step.operations.contains { if case .delete = $0 { return true } else { return false } }
            })
        // Values are key + ":" + operation number (+ padding).
        if case .put(let key, let value) = a[0].operations[0] {
            #expect(value.starts(with: key + Array(":0".utf8)))
        }
    }

    @Test("the writer applies the plan exactly when it is not killed")
    func writerWithoutKill() throws {
        let dir = try TemporaryDirectory("writer")
        let db = dir.child("db")
        let log = dir.child("log")
        let result = try runBinary(["_kill-writer", "--path", db, "--seed", "5", "--log", log, "--steps", "400"])
        #expect(result.status == 0, "\(result)")
        let (state, problems) = try Self.readDatabase(db)
        #expect(problems.isEmpty, "\(problems)")
        #expect(state == KillPlan.model(seed: 5, count: 400))
        let more = try runBinary([
            "_kill-writer", "--path", db, "--seed", "5", "--log", log, "--start", "400", "--steps", "300",
        ])
        #expect(more.status == 0)
        #expect(try Self.readDatabase(db).0 == KillPlan.model(seed: 5, count: 700))
        let lines = String(decoding: try readFile(log), as: UTF8.self)
        #expect(lines.hasPrefix("opened 0\n"))
        #expect(lines.contains("closed 700"))
    }

    @Test("SIGKILL at random moments: the durable prefix survives, the rest is a prefix too")
    func killRounds() throws {
        let seed = Self.environment("POGREB_SEED").flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let rounds = Self.environment("POGREB_KILL_ROUNDS").flatMap { Int($0) } ?? 30
        print("kill test: POGREB_SEED=\(seed) POGREB_KILL_ROUNDS=\(rounds)")
        let executable = try pogrebBinary()
        let dir = try TemporaryDirectory("kill")
        let db = dir.child("db")
        let plan = Plan(seed: seed)
        var timing = RandomStream(seed: seed ^ 0x5EED)
        var state: State = [:]
        var start = 0
        var durableSteps = 0
        var extraSteps = 0
        var tornTails = 0
        var replayed = 0
        var earlyKills = 0
        var killedInOpen = 0
        var backupsChecked = 0
        for round in 0..<rounds {
            // Every fourth round kills early: before the open finishes, often during its recovery.
            let early = round % 4 == 3
            let beside = round % 2 == 1
            let log = dir.child("log-\(round)")
            let writer = try ChildProcess(
                executable: executable,
                arguments: [
                    "_kill-writer", "--path", db, "--seed", String(seed), "--log", log, "--start", String(start),
                ] + (beside ? ["--maintenance-beside"] : []))
            let delay = early ? 1 + Int(timing.next() % 12) : 20 + Int(timing.next() % 281)
            usleep(useconds_t(delay * 1000))
            writer.kill(SIGKILL)
            let status = writer.wait()
            if early {
                earlyKills += 1
                let opened = (try? readFile(log)).map { String(decoding: $0, as: UTF8.self).contains("opened") }
                if opened != true { killedInOpen += 1 }
            }
            #expect(
                ChildProcess.wasKilled(status, by: SIGKILL),
                "round \(round): the writer ended by itself (status \(status)); seed \(seed)")

            let durable = Self.lastSynced(log) ?? start
            #expect(durable >= start)
            let (actual, readProblems, statistics) = try Self.readDatabaseWithStatistics(db)
            tornTails += statistics.tornTails.isEmpty ? 0 : 1
            replayed += statistics.recordsReplayedAtOpen
            #expect(readProblems.isEmpty, "round \(round), seed \(seed): \(readProblems)")
            let (match, problems) = Self.matchPrefix(
                plan: plan, start: state, from: start, durable: durable, actual: actual)
            #expect(
                problems.isEmpty && match != nil,
                Comment(
                    rawValue:
                        "round \(round) (killed after \(delay) ms), seed \(seed), steps \(start) ..< durable \(durable): "
                        + "\(problems.prefix(10))")
            )
            guard let match else { return }
            let backup = db + ".backup"
            if beside, access(backup, F_OK) == 0 {
                // A published backup: a whole database, every value one the plan wrote for its key.
                backupsChecked += 1
                let (copied, backupProblems) = try Self.readDatabase(backup)
                #expect(backupProblems.isEmpty, "round \(round), seed \(seed), backup: \(backupProblems)")
                for (key, value) in copied where !value.starts(with: key + Array(":".utf8)) {
                    Issue.record("round \(round), seed \(seed): the backup holds \(Self.describe(value)) for a key")
                }
            }
            durableSteps += durable - start
            extraSteps += match - durable
            state = actual
            start = match
        }
        print(
            "kill test: \(rounds) rounds, seed \(seed): \(start) steps applied, \(durableSteps) of them confirmed "
                + "durable by a sync, \(extraSteps) more survived unsynced; \(tornTails) recoveries cut a torn "
                + "tail, \(replayed) records replayed in all; \(earlyKills) early kills (\(killedInOpen) before "
                + "the open finished), \(backupsChecked) backups checked"
        )
        #expect(start > 0, "no step was ever applied: the writer never got going; seed \(seed)")
    }
}
