import CruddurDomain
import Foundation
import Testing

/// Runs `cruddur` with `arguments`; the output is stdout and stderr together.
private func cruddur(_ arguments: [String]) async throws -> (status: Int32?, output: String) {
    let child = try ChildProcess(cruddurExecutable, arguments, environment: cleanEnvironment())
    let status = await child.waitForExit(timeout: .seconds(30))
    if status == nil { child.signal(SIGKILL) }
    return (status, child.output)
}

/// The subcommand names a help text lists under `SUBCOMMANDS:`.
private func subcommands(inHelp help: String) -> [String] {
    guard let section = help.components(separatedBy: "SUBCOMMANDS:").dropFirst().first else { return [] }
    return section.split(separator: "\n").compactMap { line in
        // A subcommand line is indented by two spaces exactly; wrapped abstracts are indented further.
        guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
        let name = line.dropFirst(2).prefix { !$0.isWhitespace }
        return name.isEmpty || name == "See" ? nil : String(name)
    }
}

@Suite("cruddur's version, help, completion scripts and exit codes")
struct CLIHelpTests {
    @Test("--version prints the release")
    func version() async throws {
        let result = try await cruddur(["--version"])
        #expect(result.status == 0)
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == CruddurRelease.version)
    }

    @Test("--help explains Cruddur and its exit codes; `cruddur help` works for every subcommand at every level")
    func help() async throws {
        let root = try await cruddur(["--help"])
        #expect(root.status == 0)
        #expect(root.output.contains("expire after a time to live"), "\(root.output)")
        #expect(root.output.contains("Exit codes: 0 success, 1 failure"), "\(root.output)")
        #expect(subcommands(inHelp: root.output) == ["serve", "health", "db", "rds", "lambda"], "\(root.output)")

        var pending = subcommands(inHelp: root.output).map { [$0] }
        var visited: [String] = []
        while let path = pending.popLast() {
            let result = try await cruddur(["help"] + path)
            let name = path.joined(separator: " ")
            #expect(result.status == 0, "cruddur help \(name): \(result.output)")
            #expect(result.output.hasPrefix("OVERVIEW: "), "cruddur help \(name): \(result.output)")
            #expect(result.output.contains("USAGE: cruddur \(name)"), "cruddur help \(name): \(result.output)")
            visited.append(name)
            pending += subcommands(inHelp: result.output).map { path + [$0] }
        }
        for expected in ["db wait", "db status", "db connect", "rds create", "lambda package", "serve"] {
            #expect(visited.contains(expected), "\(visited)")
        }
        #expect(visited.count >= 25, "\(visited)")
    }

    @Test("completion scripts for bash, zsh and fish name the subcommands; the bash one parses")
    func completion() async throws {
        let bash = try await cruddur(["--generate-completion-script", "bash"])
        #expect(bash.status == 0)
        #expect(
            bash.output.contains("complete -o filenames -F _cruddur cruddur") || bash.output.contains("complete -F _cruddur cruddur"),
            "\(bash.output.prefix(400))")
        #expect(bash.output.contains("feed-cursor") && bash.output.contains("allow-ip"))
        let file = NSTemporaryDirectory() + "cruddur-completion-\(UUID().uuidString).bash"
        try bash.output.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let syntax = try ChildProcess("/bin/bash", ["-n", file], environment: cleanEnvironment())
        #expect(await syntax.waitForExit(timeout: .seconds(30)) == 0, "\(syntax.output)")

        let zsh = try await cruddur(["--generate-completion-script", "zsh"])
        #expect(zsh.status == 0 && zsh.output.hasPrefix("#compdef cruddur"), "\(zsh.output.prefix(200))")
        let fish = try await cruddur(["--generate-completion-script", "fish"])
        #expect(fish.status == 0)
        #expect(fish.output.contains("complete -c 'cruddur'") || fish.output.contains("complete -c cruddur"), "\(fish.output.prefix(400))")
    }

    @Test("exit codes: 64 for bad usage (one line on stderr), 1 for a failure; db wait has one timeout, --timeout")
    func exitCodes() async throws {
        let unknown = try await cruddur(["db", "frobnicate"])
        #expect(unknown.status == 64)
        let wait = try await cruddur(["db", "wait", "--wait", "3"])
        #expect(wait.status == 64)
        #expect(wait.output.contains("--wait"), "\(wait.output)")
        let help = try await cruddur(["help", "db", "wait"])
        #expect(help.output.contains("--timeout <seconds>") && !help.output.contains("--wait"), "\(help.output)")
        let badTimeout = try await cruddur(["db", "wait", "--timeout", "0"])
        #expect(badTimeout.status == 64)
        let failure = try await cruddur(["db", "status", "--url", "postgresql://nobody@127.0.0.1:9/none"])
        #expect(failure.status == 1)
        #expect(failure.output.split(separator: "\n").count == 1, "\(failure.output)")
    }
}
