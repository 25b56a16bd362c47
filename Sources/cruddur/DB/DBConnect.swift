import ArgumentParser
import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import Subprocess

#if canImport(Glibc)
import Glibc
#endif

/// `cruddur db connect [-- psql options]` (seed: `bin/db-connect [prod]`): hands over to `psql`.
///
/// The password reaches `psql` through a private temporary password file (`PGPASSFILE`, mode 0600),
/// never its command line, and the file is removed when `psql` exits.
struct DBConnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Open psql on the target database.")

    @OptionGroup var target: TargetOptions

    @Argument(parsing: .postTerminator, help: "Options passed on to psql, after --.")
    var psqlArguments: [String] = []

    func run() async throws {
        var status: Int32 = 0
        try await target.withOpened { opened, logger in
            let psql = try Self.locatePsql()
            if opened.isProduction {
                writeToStandardError("cruddur: connecting to the production database \(opened.settings)\n")
            }
            let passwordFile = try PrivatePasswordFile(password: opened.settings.password)
            defer { passwordFile.remove() }
            // psql handles Ctrl-C and Ctrl-\ itself (cancelling a query); we must not die of them meanwhile.
            signal(SIGINT, SIG_IGN)
            signal(SIGQUIT, SIG_IGN)
            defer {
                signal(SIGINT, SIG_DFL)
                signal(SIGQUIT, SIG_DFL)
            }
            let result = try await Subprocess.run(
                .path(.init(psql)), arguments: .init([opened.settings.libpqURL] + psqlArguments),
                environment: .inherit.updating(["PGPASSWORD": nil, "PGPASSFILE": passwordFile.path, "PGAPPNAME": "cruddur-psql"]),
                input: .currentStandardInput, output: .currentStandardOutput, error: .currentStandardError
            )
            status = result.terminationStatus.shellStatus
        }
        if status != 0 {
            throw ExitCode(status)
        }
    }

    static func locatePsql() throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        let candidates = path.map { $0 + "/psql" } + ["/usr/bin/psql", "/usr/local/bin/psql"]
        guard let psql = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw CommandFailure("psql not found: install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client)")
        }
        return psql
    }
}

/// A `~/.pgpass`-format file readable only by us, in a private temporary folder.
struct PrivatePasswordFile {
    let directory: String
    let path: String

    init(password: String?) throws {
        var template = Array((NSTemporaryDirectory() + "cruddur-psql-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw CommandFailure("cannot create a private temporary folder") }
        directory = String(cString: created)
        path = directory + "/pgpass"
        let escaped = (password ?? "").replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
        let contents = password == nil ? "" : "*:*:*:*:\(escaped)\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CommandFailure("cannot write a private password file")
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
