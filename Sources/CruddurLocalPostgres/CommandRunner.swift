import Foundation
import Subprocess

/// Runs helper programs to completion (`initdb`, `pg_ctl`, …) with swift-subprocess, optionally as the
/// unprivileged server user.
struct CommandRunner: Sendable {
    /// The OS user PostgreSQL runs as when we are root (it refuses to run as root); nil to run as ourselves.
    let serverUser: String?

    /// The most output kept from one command (its last lines go into error messages).
    static let outputLimit = 1024 * 1024

    /// Runs a program to completion and returns its combined output; throws when it exits non-zero.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], asServerUser: Bool = true) async throws -> String {
        let (status, output) = try await Self.launch(command(executable, arguments, asServerUser: asServerUser))
        guard status == 0 else {
            throw LocalClusterError.commandFailed(
                command: URL(fileURLWithPath: executable).lastPathComponent, status: status, output: output
            )
        }
        return output
    }

    /// Runs a program and returns its exit status, ignoring its output.
    func status(_ executable: String, _ arguments: [String], asServerUser: Bool = true) async throws -> Int32 {
        try await Self.launch(command(executable, arguments, asServerUser: asServerUser)).status
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
    static func output(of executable: String, _ arguments: [String]) async throws -> String {
        let (status, output) = try await launch([executable] + arguments)
        guard status == 0 else {
            throw LocalClusterError.commandFailed(command: executable, status: status, output: output)
        }
        return output
    }

    /// Runs argv to completion with no standard input and a minimal environment (no secrets: see
    /// ``childEnvironment``), and returns its exit status (128 + signal when killed) and combined output.
    ///
    /// `pg_ctl start` leaves `postgres` running with the output pipe open: swift-subprocess returns when the
    /// command exits, with what it wrote, rather than waiting for the pipe's end.
    static func launch(_ argv: [String]) async throws -> (status: Int32, output: String) {
        var environment: [Environment.Key: String] = [:]
        for (name, value) in childEnvironment {
            if let key = Environment.Key(rawValue: name) { environment[key] = value }
        }
        let result = try await Subprocess.run(
            .path(.init(argv[0])), arguments: .init(Array(argv.dropFirst())), environment: .custom(environment),
            input: .none, output: .string(limit: outputLimit), error: .combinedWithOutput
        )
        return (result.terminationStatus.shellStatus, result.standardOutput)
    }

    /// What a helper program needs of our environment: the search path and the locale, nothing else (no
    /// `PGPASSWORD`, no AWS keys: in root mode the programs run as `postgres`, who can read their environment).
    static var childEnvironment: [String: String] {
        let current = ProcessInfo.processInfo.environment
        var environment = ["LC_ALL": "C.UTF-8", "PATH": current["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
        if let home = current["HOME"] { environment["HOME"] = home }
        return environment
    }
}

extension TerminationStatus {
    /// The exit status as a shell reports it: the code, or 128 + the signal that ended the process.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}
