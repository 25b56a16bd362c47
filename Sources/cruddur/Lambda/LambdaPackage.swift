import ArgumentParser
import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import Subprocess

/// `cruddur lambda package`: a fully static `bootstrap` for the `provided.al2023` / `provided.al2` runtimes, zipped.
struct LambdaPackage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package",
        abstract: "Build the post-confirmation function as a static executable named bootstrap, and zip it for Lambda.",
        discussion: """
            Runs `swift build -c release --product cruddur-post-confirmation --static-swift-stdlib \
            -Xswiftc -static-executable` in the static release build's scratch folder (.build-static, shared with the \
            release `cruddur` that scripts/test and scripts/soak run), so it never waits on the debug build, then strips the symbol table (half the size; --no-strip keeps it). Needs `zip` (scripts/bootstrap \
            installs it) and binutils' `strip`. Prints the zip file's path.
            """
    )

    static let product = "cruddur-post-confirmation"
    static let zipName = "cruddur-post-confirmation.zip"

    @Option(help: ArgumentHelp("The folder of the Swift package.", valueName: "folder"))
    var packagePath = "."

    @Option(help: ArgumentHelp("Where to put bootstrap and the zip (default: <package>/.build-static/lambda).", valueName: "folder"))
    var output: String?

    @Flag(help: "Keep the symbol table (a larger bootstrap, with symbol names in crash backtraces).")
    var noStrip = false

    func validate() throws {
        guard FileManager.default.fileExists(atPath: packagePath + "/Package.swift") else {
            throw ValidationError("--package-path '\(packagePath)' holds no Package.swift")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let packageDirectory = URL(fileURLWithPath: packagePath).standardizedFileURL.path
            let outputDirectory = URL(fileURLWithPath: output ?? packageDirectory + "/.build-static/lambda").standardizedFileURL.path
            let swift = try Self.executable("swift", hint: "install Swift 6 and put it on PATH")
            let zip = try Self.executable("zip", hint: "install it (apt-get install zip; scripts/bootstrap does)")
            let strip = noStrip ? nil : try Self.executable("strip", hint: "install binutils, or pass --no-strip")
            let buildArguments = [
                "build", "-c", "release", "--product", Self.product, "--static-swift-stdlib", "-Xswiftc", "-static-executable",
                "--scratch-path", packageDirectory + "/.build-static", "--package-path", packageDirectory,
            ]
            writeToStandardError("cruddur: building the static \(Self.product) (a first build takes many minutes)\n")
            let build = try await Subprocess.run(
                .path(.init(swift)), arguments: .init(buildArguments),
                input: .none, output: .currentStandardError, error: .currentStandardError
            )
            let status = build.terminationStatus.shellStatus
            guard status == 0 else { throw CommandFailure("swift build failed (exit \(status)); see its output above") }
            let binDirectory = try await Self.capture([swift] + buildArguments + ["--show-bin-path"])
            let built = binDirectory + "/" + Self.product

            let fileManager = FileManager.default
            try fileManager.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
            let bootstrap = outputDirectory + "/bootstrap"
            let archive = outputDirectory + "/" + Self.zipName
            try? fileManager.removeItem(atPath: bootstrap)
            try? fileManager.removeItem(atPath: archive)
            do {
                try fileManager.copyItem(atPath: built, toPath: bootstrap)
                try fileManager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bootstrap)
            } catch {
                throw CommandFailure("cannot copy \(built) to \(bootstrap): \(error.localizedDescription)")
            }
            if let strip {
                try await Self.runToCompletion([strip, bootstrap], what: "strip")
            }
            try await Self.runToCompletion([zip, "-q", "-X", "-j", archive, bootstrap], what: "zip")
            let size = (try? fileManager.attributesOfItem(atPath: bootstrap)[.size] as? Int) ?? 0
            let zipSize = (try? fileManager.attributesOfItem(atPath: archive)[.size] as? Int) ?? 0
            writeToStandardError("cruddur: bootstrap is \(size) bytes, the zip \(zipSize) bytes\n")
            print(archive)
        }
    }

    /// The full path of a program on PATH.
    static func executable(_ name: String, hint: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        throw CommandFailure("\(name) not found on PATH: \(hint)")
    }

    /// Runs a tool to completion; a failure is one line with the end of its output.
    static func runToCompletion(_ argv: [String], what: String) async throws {
        let (status, output) = try await collect(argv)
        guard status == 0 else {
            let tail = output.split(whereSeparator: \.isNewline).suffix(2).joined(separator: " ")
            throw CommandFailure("\(what) failed (exit \(status)): \(tail)")
        }
    }

    /// Runs argv to completion; its exit status and combined output.
    static func collect(_ argv: [String]) async throws -> (status: Int32, output: String) {
        let result = try await Subprocess.run(
            .path(.init(argv[0])), arguments: .init(Array(argv.dropFirst())),
            input: .none, output: .string(limit: 1024 * 1024), error: .combinedWithOutput
        )
        return (result.terminationStatus.shellStatus, result.standardOutput)
    }

    /// The last line a command prints.
    static func capture(_ argv: [String]) async throws -> String {
        let (status, output) = try await collect(argv)
        let lastLine = output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        guard status == 0, lastLine.hasPrefix("/") else {
            throw CommandFailure("\(argv.prefix(2).joined(separator: " ")) --show-bin-path failed (exit \(status)): \(lastLine)")
        }
        return lastLine
    }
}
