import ArgumentParser
import Glibc
import Pogreb

/// `pogreb`: look into, load, check and benchmark a Pogreb database.
@main
struct PogrebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pogreb",
        abstract: "Look into, load, check, repair and benchmark a Pogreb database.",
        discussion: """
            A database is a directory. Commands that only read (get, has, scan, export, stats, check) \
            open it read-only and never change a file; the others take the writer's lock and close \
            the database cleanly, also on Ctrl-C.

            Keys and values are text by default; --hex and --base64 take them encoded. \
            Import and export use JSON Lines ({"key":"<base64>","value":"<base64>"}) or TSV; \
            an export imported into an empty database exports byte for byte the same.

            \(ExitStatus.helpText)

            Start with `swift run -c release pogreb bench` to measure this machine.
            """,
        version: "0.1.0",
        subcommands: [
            Get.self, Put.self, Delete.self, Has.self, Scan.self,
            Import.self, Export.self, Stats.self, Check.self, Repair.self,
            Compact.self, Backup.self, SyncCommand.self, Bench.self,
            Serve.self, BenchChild.self, KillWriter.self,
        ]
    )

    static func main() {
        Glibc.signal(SIGPIPE, SIG_IGN)
        let status = run(arguments: Array(CommandLine.arguments.dropFirst()))
        Console.current.out.flushQuietly()
        Console.current.err.flushQuietly()
        Glibc.exit(status)
    }

    /// Parses `arguments`, runs the command and returns the exit status. Everything is written
    /// to ``Console/current``, so tests can run commands in-process.
    static func run(arguments: [String]) -> Int32 {
        let console = Console.current
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            try console.out.flush()
            return ExitStatus.ok.rawValue
        } catch let error as ToolError {
            console.out.flushQuietly()
            if !error.silent { console.error(error.message) }
            return error.status.rawValue
        } catch let error as PogrebError {
            let tool = ToolError(error)
            console.error(tool.message)
            return tool.status.rawValue
        } catch {
            console.out.flushQuietly()
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { console.out.write(message + "\n") }
                console.out.flushQuietly()
                return 0
            }
            if !message.isEmpty { console.note(message) }
            return code == .validationFailure ? ExitStatus.usage.rawValue : code.rawValue
        }
    }
}
