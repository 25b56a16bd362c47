import Foundation

/// The PostgreSQL server programs this machine has (`initdb`, `pg_ctl`, `postgres`).
public struct PostgresBinaries: Sendable, Equatable {
    public let directory: String

    public var initdb: String { directory + "/initdb" }
    public var pgCtl: String { directory + "/pg_ctl" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Finds the binaries: `PG_BINDIR`, `pg_config --bindir`, `PATH`, then the distributions' per-version folders.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> PostgresBinaries {
        var candidates: [String] = []
        if let explicit = environment["PG_BINDIR"] { candidates.append(explicit) }
        let path = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        if let pgConfig = path.map({ $0 + "/pg_config" }).first(where: FileManager.default.isExecutableFile(atPath:)),
            let bindir = try? await CommandRunner.output(of: pgConfig, ["--bindir"])
        {
            candidates.append(bindir.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        candidates += path
        for root in ["/usr/lib/postgresql", "/usr/pgsql", "/opt/homebrew/opt", "/usr/local/opt"] {
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
            let sorted = versions.sorted { (Int($0.filter(\.isNumber)) ?? 0) > (Int($1.filter(\.isNumber)) ?? 0) }
            candidates += sorted.map { "\(root)/\($0)/bin" }
        }
        candidates += ["/usr/local/pgsql/bin"]
        for candidate in candidates {
            let binaries = PostgresBinaries(directory: candidate)
            if FileManager.default.isExecutableFile(atPath: binaries.initdb),
                FileManager.default.isExecutableFile(atPath: binaries.pgCtl)
            {
                return binaries
            }
        }
        throw LocalClusterError.binariesNotFound
    }
}
