import Foundation

// `compare`: the parent runs the side-by-side comparison; `compare child …` is one of its children.
do {
    let arguments = try Arguments.parse(Array(CommandLine.arguments.dropFirst()))
    if arguments.isChild {
        guard let name = arguments.childEngine, let engine = engineType(named: name),
            let workload = arguments.childWorkload, let dir = arguments.dir
        else { throw CompareError("child needs --engine, --workload, --n and --dir") }
        let report = runChild(
            engine, workloads: workload.split(separator: ",").map(String.init), n: arguments.n, dir: dir)
        let data = try JSONEncoder().encode(report)
        print(String(decoding: data, as: UTF8.self))
    } else {
        try Comparison(arguments).run()
    }
} catch {
    FileHandle.standardError.write(Data("compare: \(error)\n".utf8))
    exit(2)
}
