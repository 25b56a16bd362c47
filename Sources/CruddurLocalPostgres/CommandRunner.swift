import Foundation

/// Runs helper programs (`initdb`, `pg_ctl`, …), optionally as the unprivileged server user.
struct CommandRunner: Sendable {
    /// The OS user PostgreSQL runs as when we are root (it refuses to run as root); nil to run as ourselves.
    let serverUser: String?

    /// Runs a program to completion and returns its combined output; throws when it exits non-zero.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], asServerUser: Bool = true) throws -> String {
        let (status, output) = try Self.launch(command(executable, arguments, asServerUser: asServerUser))
        guard status == 0 else {
            throw LocalClusterError.commandFailed(
                command: URL(fileURLWithPath: executable).lastPathComponent, status: status, output: output
            )
        }
        return output
    }

    /// Runs a program and returns its exit status, ignoring its output.
    func status(_ executable: String, _ arguments: [String], asServerUser: Bool = true) throws -> Int32 {
        try Self.launch(command(executable, arguments, asServerUser: asServerUser)).status
    }

    /// The argv that runs `executable` as the server user.
    func command(_ executable: String, _ arguments: [String], asServerUser: Bool = true) -> [String] {
        guard asServerUser, let serverUser else { return [executable] + arguments }
        return [Self.runuser, "-u", serverUser, "--", executable] + arguments
    }

    static var runuser: String {
        ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(where: FileManager.default.isExecutableFile(atPath:))
            ?? "runuser"
    }

    /// The standard output of a short command, for probes like `pg_config --bindir`.
    static func output(of executable: String, _ arguments: [String]) throws -> String {
        let (status, output) = try launch([executable] + arguments)
        guard status == 0 else {
            throw LocalClusterError.commandFailed(command: executable, status: status, output: output)
        }
        return output
    }

    /// Launches argv with stdin from /dev/null and output to a temporary file (never a pipe: a daemon
    /// started by the command could hold a pipe open forever), and waits for it.
    static func launch(_ argv: [String]) throws -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("cruddur-command-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C.UTF-8"
        environment.removeValue(forKey: "PGPASSWORD")
        let child = try Subprocess(argv, environment: environment, outputPath: outputPath)
        let status = child.wait()
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (status, output)
    }
}
