import CruddurDatabase
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A private PostgreSQL cluster run from the machine's own binaries, like embedded-postgres libraries do.
///
/// The cluster listens only on a unix socket in a folder only its owner can enter, so `trust` authentication
/// admits nobody else. Every process that uses it holds a lease (a file named by its pid); the last one to
/// leave stops the server, and a small reaper stops it when all leasing processes died without leaving.
public struct LocalCluster: Sendable {
    /// Where the cluster keeps its files.
    public struct Layout: Sendable, Equatable {
        public let stateDirectory: String
        public let socketDirectory: String

        public var dataDirectory: String { stateDirectory + "/pgdata" }
        public var logFile: String { stateDirectory + "/postgres.log" }
        var lockFile: String { stateDirectory + "/lock" }
        var leasesDirectory: String { stateDirectory + "/leases" }
        var configurationFile: String { dataDirectory + "/cruddur.conf" }
    }

    /// Settings that differ between a developer's cluster and a throwaway test cluster.
    public struct Options: Sendable {
        /// Delete the whole state folder when the cluster stops.
        public var isEphemeral = false
        /// Trade durability for speed (`fsync = off`): for throwaway clusters only.
        public var isDurable = true
        public var maxConnections = 100
        /// Require this password (SCRAM) for the superuser instead of trusting the private socket;
        /// for clusters that stand in for a remote server in tests.
        public var superuserPassword: String?
        /// Also listen on TCP at 127.0.0.1 on this port (the socket file is then named by it too); for tests of
        /// programs that reach the server by host name. Give a password with it: `trust` would admit every local user.
        public var tcpPort: Int?
        /// More `postgresql.conf` lines (e.g. `ssl = on` for TLS tests), written after Cruddur's own.
        public var extraSettings: [String] = []

        public init(
            isEphemeral: Bool = false, isDurable: Bool = true, maxConnections: Int = 100, superuserPassword: String? = nil,
            tcpPort: Int? = nil
        ) {
            self.isEphemeral = isEphemeral
            self.isDurable = isDurable
            self.maxConnections = maxConnections
            self.superuserPassword = superuserPassword
            self.tcpPort = tcpPort
        }
    }

    public static let port = 5432
    public static let superuser = "postgres"

    public let layout: Layout
    public let binaries: PostgresBinaries
    public let options: Options
    let runner: CommandRunner

    public init(layout: Layout, binaries: PostgresBinaries, options: Options = .init()) throws {
        self.layout = layout
        self.binaries = binaries
        self.options = options
        self.runner = CommandRunner(serverUser: try Self.serverUser())
    }

    /// Where root keeps the clusters of projects the `postgres` user cannot reach: a root-owned folder that no other
    /// user can create or change anything in (never a predictable name in a shared folder).
    public static let rootStateParent = "/var/lib/cruddur"

    /// The cluster of the project in `projectDirectory`: its `.cruddur` folder when the server's OS user can
    /// reach it, else (root only) a per-project folder under ``rootStateParent``.
    public static func forProject(
        directory projectDirectory: String = FileManager.default.currentDirectoryPath,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> LocalCluster {
        let binaries = try await PostgresBinaries.locate(environment: environment)
        let runner = CommandRunner(serverUser: try serverUser())
        let project = URL(fileURLWithPath: projectDirectory).standardizedFileURL.path
        let tag = "\(URL(fileURLWithPath: project).lastPathComponent.prefix(24))-\(stableHash(project))"
        var stateDirectory = project + "/.cruddur"
        if runner.serverUser != nil, try await runner.status("/usr/bin/test", ["-x", project]) != 0 {
            stateDirectory = "\(rootStateParent)/\(tag)"
        }
        return try LocalCluster(layout: layout(stateDirectory: stateDirectory, tag: tag), binaries: binaries)
    }

    /// A throwaway cluster in a new temporary folder, removed when it stops.
    public static func temporary(
        label: String, superuserPassword: String? = nil, tcpPort: Int? = nil, extraSettings: [String] = []
    ) async throws -> LocalCluster {
        let binaries = try await PostgresBinaries.locate()
        let tag = "\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let stateDirectory = "/tmp/cruddur-\(tag)"
        return try LocalCluster(
            layout: layout(stateDirectory: stateDirectory, tag: tag),
            binaries: binaries,
            options: {
                var options = Options(
                    isEphemeral: true, isDurable: false, maxConnections: 300, superuserPassword: superuserPassword, tcpPort: tcpPort)
                options.extraSettings = extraSettings
                return options
            }()
        )
    }

    static func layout(stateDirectory: String, tag: String) -> Layout {
        var socketDirectory = stateDirectory + "/run"
        // A unix socket path must fit in sockaddr_un (108 bytes on Linux). The shorter folder is checked like every
        // other (ours, private, not a link): another user who creates that name first gets a clear refusal, not our queries.
        if (socketDirectory + "/.s.PGSQL.\(port)").utf8.count > 100 {
            socketDirectory = "/tmp/cruddur-sock-\(geteuid())-\(stableHash(stateDirectory))"
        }
        return Layout(stateDirectory: stateDirectory, socketDirectory: socketDirectory)
    }

    /// The OS user the server must run as: ourselves, or `postgres` when we are root.
    static func serverUser() throws -> String? {
        guard geteuid() == 0 else { return nil }
        guard getpwnam(superuser) != nil else { throw LocalClusterError.noServerUser }
        return superuser
    }

    /// The server's port: it names the socket file, and is the TCP port when ``Options/tcpPort`` is set.
    public var serverPort: Int { options.tcpPort ?? Self.port }

    /// Settings to connect to a database of this cluster as its superuser.
    public func connectionSettings(database: String) -> ConnectionSettings {
        ConnectionSettings(
            endpoint: .unixSocket(directory: layout.socketDirectory, port: serverPort),
            username: Self.superuser, password: options.superuserPassword, database: database, sslMode: .disable
        )
    }

    /// Initialises the cluster if needed, starts it if it is not running, and records this process as a user.
    public func acquire(logger: Logger) async throws -> LocalClusterLease {
        try await withLock {
            try prepareDirectories()
            if !FileManager.default.fileExists(atPath: layout.dataDirectory + "/PG_VERSION") {
                logger.info("Creating the local PostgreSQL cluster", metadata: ["directory": "\(layout.dataDirectory)"])
                try await initialise()
            }
            if try await !isRunning() {
                try writeConfiguration()
                logger.info("Starting the local PostgreSQL cluster", metadata: ["socket": "\(layout.socketDirectory)"])
                try await runner.run(binaries.pgCtl, ["start", "-D", layout.dataDirectory, "-l", layout.logFile, "-w", "-t", "60", "-s"])
                try startReaper()
            }
            let lease = layout.leasesDirectory + "/\(getpid())"
            guard FileManager.default.createFile(atPath: lease, contents: nil) else {
                throw LocalClusterError.cannotWrite(lease)
            }
        }
        return LocalClusterLease(cluster: self)
    }

    /// Whether the server is running.
    public func isRunning() async throws -> Bool {
        guard FileManager.default.fileExists(atPath: layout.dataDirectory + "/PG_VERSION") else { return false }
        return try await runner.status(binaries.pgCtl, ["status", "-D", layout.dataDirectory]) == 0
    }

    /// Stops the server now (`pg_ctl stop -m fast`), leases or not: for outage tests and operators.
    /// The next ``acquire(logger:)`` or ``startServer()`` starts it again on the same data.
    public func stopServer() async throws {
        try await withLock {
            if try await isRunning() {
                try await runner.run(binaries.pgCtl, ["stop", "-D", layout.dataDirectory, "-m", "fast", "-w", "-t", "60", "-s"])
            }
        }
    }

    /// Starts a stopped server again (after ``stopServer()``).
    public func startServer() async throws {
        try await withLock {
            if try await !isRunning() {
                try writeConfiguration()
                try await runner.run(binaries.pgCtl, ["start", "-D", layout.dataDirectory, "-l", layout.logFile, "-w", "-t", "60", "-s"])
            }
        }
    }

    /// Removes this process's lease and stops the server when no other live process holds one.
    func release(logger: Logger) async throws {
        try await withLock {
            try? FileManager.default.removeItem(atPath: layout.leasesDirectory + "/\(getpid())")
            guard liveLeaseholders().isEmpty else {
                logger.debug("Local PostgreSQL cluster still in use; leaving it running")
                return
            }
            if try await isRunning() {
                logger.info("Stopping the local PostgreSQL cluster")
                try await runner.run(binaries.pgCtl, ["stop", "-D", layout.dataDirectory, "-m", "fast", "-w", "-t", "60", "-s"])
            }
            if options.isEphemeral {
                try? FileManager.default.removeItem(atPath: layout.stateDirectory)
                try? FileManager.default.removeItem(atPath: layout.socketDirectory)
            }
        }
    }

    /// Pids of processes that hold a lease and are alive; stale leases are removed.
    func liveLeaseholders() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.leasesDirectory)) ?? []
        return names.compactMap { name in
            guard let pid = Int32(name) else { return nil }
            if kill(pid, 0) == 0 || errno == EPERM { return pid }
            try? FileManager.default.removeItem(atPath: layout.leasesDirectory + "/" + name)
            return nil
        }
    }

    /// Runs `body` holding the cluster's lock file (`flock`), which the other `cruddur` processes and the reaper share.
    private func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try prepareStateDirectory()
        let descriptor = open(layout.lockFile, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw errno == ELOOP
                ? LocalClusterError.unsafePath(layout.lockFile, "it is a symbolic link") : LocalClusterError.cannotWrite(layout.lockFile)
        }
        defer { close(descriptor) }
        try PrivatePath.verify(descriptor: descriptor, path: layout.lockFile, owner: geteuid(), kind: S_IFREG)
        guard flock(descriptor, LOCK_EX) == 0 else { throw LocalClusterError.cannotWrite(layout.lockFile) }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }

    /// The state folder (and, for root, ``rootStateParent``): ours, private, in a parent nobody else can change.
    private func prepareStateDirectory() throws {
        let me = geteuid()
        if layout.stateDirectory.hasPrefix(Self.rootStateParent + "/") {
            try PrivatePath.ensureDirectory(Self.rootStateParent, owner: me, mode: 0o755)
        }
        // A project's own `.cruddur` is as safe as the project (whoever may write there may change the code too).
        if !layout.stateDirectory.hasSuffix("/.cruddur") {
            try PrivatePath.verifyParent(of: layout.stateDirectory)
        }
        // The server's user (when it is not us) must pass through to its data, socket and log; it may not list or change it.
        try PrivatePath.ensureDirectory(layout.stateDirectory, owner: me, mode: runner.serverUser == nil ? 0o700 : 0o711)
    }

    /// The leases (ours), and the data folder, socket folder and log (the server's), each checked before use.
    private func prepareDirectories() throws {
        let server = try serverIdentity()
        try PrivatePath.ensureDirectory(layout.leasesDirectory, owner: geteuid(), mode: 0o700)
        if !layout.socketDirectory.hasPrefix(layout.stateDirectory + "/") {
            try PrivatePath.verifyParent(of: layout.socketDirectory)
        }
        for directory in [layout.dataDirectory, layout.socketDirectory] {
            try PrivatePath.ensureDirectory(directory, owner: server.uid, group: server.gid, mode: 0o700)
        }
        try PrivatePath.writeFile(layout.logFile, contents: nil, owner: server.uid, group: server.gid)
    }

    /// The uid and gid the server runs as.
    private func serverIdentity() throws -> (uid: uid_t, gid: gid_t) {
        guard let user = runner.serverUser else { return (geteuid(), getegid()) }
        guard let entry = getpwnam(user) else { throw LocalClusterError.noServerUser }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    private func initialise() async throws {
        var arguments = ["-D", layout.dataDirectory, "-U", Self.superuser, "--encoding=UTF8", "--no-locale", "--no-instructions"]
        let passwordFile = layout.stateDirectory + "/initdb-password"
        if let password = options.superuserPassword {
            let server = try serverIdentity()
            try PrivatePath.writeFile(passwordFile, contents: Data(password.utf8), owner: server.uid, group: server.gid, replacing: true)
            arguments += ["--auth=scram-sha-256", "--pwfile=\(passwordFile)"]
        } else {
            arguments += ["--auth=trust"]
        }
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        try await runner.run(binaries.initdb, arguments)
        let server = try serverIdentity()
        try PrivatePath.appendFile(
            layout.dataDirectory + "/postgresql.conf", contents: Data("\ninclude_if_exists = 'cruddur.conf'\n".utf8), owner: server.uid)
    }

    /// The settings that pin the server to its private socket; rewritten at each start (folders can move).
    private func writeConfiguration() throws {
        var lines = [
            options.tcpPort == nil ? "listen_addresses = ''" : "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = '\(layout.socketDirectory.replacingOccurrences(of: "'", with: "''"))'",
            "unix_socket_permissions = 0700",
            "port = \(serverPort)",
            "max_connections = \(options.maxConnections)",
        ]
        if !options.isDurable {
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        }
        lines += options.extraSettings
        let server = try serverIdentity()
        try PrivatePath.writeFile(
            layout.configurationFile, contents: Data((lines.joined(separator: "\n") + "\n").utf8), owner: server.uid, group: server.gid,
            replacing: true)
    }

    /// A detached watcher that stops the server once every leaseholder has exited (also after a crash).
    /// It outlives a manual stop and restart of the server, so a restarted cluster is still reaped.
    private func startReaper() throws {
        let stop = runner.command(binaries.pgCtl, ["stop", "-D", layout.dataDirectory, "-m", "fast", "-w", "-t", "60", "-s"])
        let cleanup = options.isEphemeral ? "rm -rf \"$STATE\" \"$SOCKETS\"" : ":"
        let script = """
            while sleep 1; do
              [ -d "$STATE/leases" ] || break
              flock -x "$STATE/lock" sh -c '
                for f in "$1"/*; do
                  [ -e "$f" ] || continue
                  kill -0 "${f##*/}" 2>/dev/null && exit 1
                  rm -f "$f"
                done
                shift
                "$@" >/dev/null 2>&1
                exit 0' reaper "$STATE/leases" "$@" && break
            done
            \(cleanup)
            """
        // What the script needs and nothing more: no secrets of ours in a process that may outlive us.
        var environment = CommandRunner.childEnvironment
        environment["STATE"] = layout.stateDirectory
        environment["SOCKETS"] = layout.socketDirectory
        let reaper = try SpawnedProcess(["/usr/bin/setsid", "-f", "/bin/sh", "-c", script, "cruddur-pg-reaper"] + stop, environment: environment)
        reaper.wait()
    }
}

/// This process's hold on a running ``LocalCluster``.
public final class LocalClusterLease: Sendable {
    public let cluster: LocalCluster

    init(cluster: LocalCluster) {
        self.cluster = cluster
    }

    /// Gives the cluster up; the server stops if no other process uses it.
    public func release(logger: Logger) async {
        do {
            try await cluster.release(logger: logger)
        } catch {
            logger.error("Could not stop the local PostgreSQL cluster", metadata: ["error": "\(error)"])
        }
    }

    /// Creates `database` if it does not exist; returns true when it created it.
    @discardableResult
    public func createDatabaseIfMissing(_ database: String, logger: Logger) async throws -> Bool {
        try await DatabaseAdministration(logger: logger).createIfMissing(cluster.connectionSettings(database: database))
    }
}

/// FNV-1a: a short name for a path that is the same in every process.
private func stableHash(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return String(hash, radix: 16).padding(toLength: 12, withPad: "0", startingAt: 0)
}

/// Why the local cluster cannot be used.
public enum LocalClusterError: CruddurError {
    case binariesNotFound
    case noServerUser
    case commandFailed(command: String, status: Int32, output: String)
    case cannotWrite(String)
    /// A folder or file that someone else could control: the path and why it is refused.
    case unsafePath(String, String)

    public var description: String {
        switch self {
        case .binariesNotFound:
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install them (Debian/Ubuntu: apt-get install postgresql) or set CONNECTION_URL to an existing database"
        case .noServerUser:
            "running as root, but PostgreSQL refuses to run as root and there is no 'postgres' user to run it as: create one (useradd --system postgres), run as a normal user, or set CONNECTION_URL"
        case .commandFailed(let command, let status, let output):
            "\(command) failed (exit \(status)): \(output.split(whereSeparator: \.isNewline).suffix(2).joined(separator: " "))"
        case .cannotWrite(let path):
            "cannot write \(path)"
        case .unsafePath(let path, let reason):
            "refusing to use \(path) for the local PostgreSQL cluster: \(reason); remove it if you did not make it"
        }
    }
}
