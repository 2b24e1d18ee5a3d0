import Foundation
import Glibc
import PogrebWorkload

/// The child steps of W6 (recovery, docs/WORKLOADS.md), in the order the parent runs them on one
/// database, each in a fresh process:
///
/// 1. `W6load`: W1's load (``Engine/load(path:order:data:whileOpen:)`` with `whileOpen`): the keys
///    made durable the engine's way, the database not closed; prints its report line and waits for
///    the parent's SIGKILL. Row "W6 load".
/// 2. `W6crash`: the timed open after that crash ("W6 open crash"); every key of the load is
///    checked, and the tail's keys must be absent; then puts the tail (keys N ..< N + N/100,
///    version 0, in id order, each with the engine's put without sync, ``Reader/put(_:_:)``),
///    prints its report line and waits for the parent's SIGKILL.
/// 3. `W6tail`: the timed open after the crash with a tail ("W6 open crash tail"), the same checks
///    (the tail keys that survived must be the first ones written, each with its value), then a
///    clean close.
/// 4. `W6clean`: the timed open after that clean close ("W6 open clean"), the same checks.
///
/// A timed open is the engine's open for reads and puts (``Engine/openForRecovery(path:n:)``), its
/// reader, and the lookup of key 0: SQLite reads the schema and replays its log at the first
/// statement, and LMDB's readers find the map at their first transaction, so the first lookup is
/// where the work of an open ends for every engine. The row's `seconds` is that time, `ops` 1.
let recoverySteps = ["W6load", "W6crash", "W6tail", "W6clean"]

/// W6's tail: N/100 puts after the last sync (at least 1).
func recoveryTail(_ n: Int) -> Int { max(1, n / 100) }

func recoveryStep<E: Engine>(
    _ engine: E.Type, step: String, n: Int, dir: String, report: inout ChildReport
) throws(CompareError) {
    let tail = recoveryTail(n)
    guard n + tail <= Int(UInt32.max) else { throw CompareError("W6 needs N + N/100 < 2^32") }
    if step == "W6load" {
        let order = WorkloadData.loadOrder(n)
        let start = nowNanoseconds()
        let snapshot = report
        _ = try E.load(path: dir, order: order, data: FixedData.self) {
            var done = snapshot
            done.measurements.append(
                Measurement(
                    row: "W6 load", threads: 1, ops: n, seconds: Double(nowNanoseconds() - start) / 1e9,
                    bytesOnDisk: bytesOnDisk(dir), rawBytes: FixedData.rawBytes(count: n),
                    peakResidentBytes: peakResidentBytes()))
            printAndWaitForKill(done)
        }
        throw CompareError("W6 load: the engine closed the database")
    }
    let row = ["W6crash": "W6 open crash", "W6tail": "W6 open crash tail", "W6clean": "W6 open clean"][step]!
    let start = nowNanoseconds()
    let db = try E.openForRecovery(path: dir, n: n)
    var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
    var measurement = Measurement(row: row, threads: 1, ops: 1, seconds: 0)
    do {
        let reader = try db.makeReader()
        WorkloadData.fillKey(0, &key)
        let first = try reader.lend(key) { $0.map { FixedData.matches($0, 0) ? 0 : 2 } ?? 1 }
        measurement.seconds = Double(nowNanoseconds() - start) / 1e9
        if first != 0 { measurement.note(wrong: "key 0 \(first == 1 ? "is missing" : "has a wrong value")") }
        try verifyRecovered(reader, n: n, tail: tail, tailWritten: step != "W6crash", into: &measurement)
        measurement.bytesOnDisk = bytesOnDisk(dir)
        measurement.rawBytes = FixedData.rawBytes(count: n)
        measurement.peakResidentBytes = peakResidentBytes()
        if step == "W6crash" {
            var value = [UInt8](repeating: 0, count: WorkloadData.valueSize)
            for id in UInt64(n)..<UInt64(n + tail) {
                WorkloadData.fillKey(id, &key)
                FixedData.fillValue(id, &value)
                try reader.put(key, value)
            }
            report.measurements.append(measurement)
            printAndWaitForKill(report)
        }
    }
    try db.close()
    report.measurements.append(measurement)
}

/// Checks every key of the load (version 0) and the tail: absent when not yet written; else the
/// keys that survived must be the first ones written, each with its value (their count goes into
/// `recovered`). Problems are counted in `wrong`.
func verifyRecovered<R: Reader>(
    _ reader: R, n: Int, tail: Int, tailWritten: Bool, into measurement: inout Measurement
) throws(CompareError) {
    var key = [UInt8](repeating: 0, count: WorkloadData.keySize)
    for id in 0..<UInt64(n) {
        WorkloadData.fillKey(id, &key)
        let state = try reader.lend(key) { $0.map { FixedData.matches($0, id) ? 0 : 2 } ?? 1 }
        if state != 0 { measurement.note(wrong: "key \(id) \(state == 1 ? "is missing" : "has a wrong value")") }
    }
    var recovered = 0
    var ended = false
    for id in UInt64(n)..<UInt64(n + tail) {
        WorkloadData.fillKey(id, &key)
        let state = try reader.lend(key) { $0.map { FixedData.matches($0, id) ? 0 : 2 } ?? 1 }
        if state == 1 {
            ended = true
        } else if !tailWritten {
            measurement.note(wrong: "tail key \(id) is present before the tail was written")
        } else if state == 2 {
            measurement.note(wrong: "tail key \(id) has a wrong value")
        } else if ended {
            measurement.note(wrong: "tail key \(id) survived but an earlier tail key did not")
        } else {
            recovered += 1
        }
    }
    measurement.tail = tail
    measurement.recovered = recovered
}

/// Prints `report` as the child's JSON line, flushed, and waits for the parent's SIGKILL.
func printAndWaitForKill(_ report: ChildReport) -> Never {
    let line = (try? JSONEncoder().encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
    while true { pause() }
}
