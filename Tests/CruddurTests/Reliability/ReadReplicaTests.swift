import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import NIOConcurrencyHelpers
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A primary and a real streaming replica of it (`pg_basebackup -R`), both on loopback TCP with a password.
struct StreamingPair: Sendable {
    static let password = "replica-Test-\(UUID().uuidString.prefix(8))"

    let primaryLease: LocalClusterLease
    let primaryPort: Int
    let replicaPort: Int
    let replicaDirectory: String
    let binaries: PostgresBinaries

    var primaryURL: String { "postgresql://postgres:\(Self.password)@127.0.0.1:\(primaryPort)/cruddur?sslmode=disable" }
    var replicaURL: String { "postgresql://postgres:\(Self.password)@127.0.0.1:\(replicaPort)/cruddur?sslmode=disable" }
    var primary: ConnectionSettings { get throws { try ConnectionSettings(url: primaryURL, environment: [:]) } }
    var replica: ConnectionSettings { get throws { try ConnectionSettings(url: replicaURL, environment: [:]) } }

    /// As the `postgres` OS user when we are root (PostgreSQL refuses root), else as ourselves.
    private static func asServerUser(_ command: [String]) -> [String] {
        geteuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + command : command
    }

    static func start() async throws -> StreamingPair {
        let binaries = try await PostgresBinaries.locate()
        let primaryPort = try freePort()
        let cluster = try await LocalCluster.temporary(label: "primary", superuserPassword: password, tcpPort: primaryPort)
        let lease = try await cluster.acquire(logger: TestPostgres.logger)
        _ = try await lease.createDatabaseIfMissing("cruddur", logger: TestPostgres.logger)
        try await withTestConnection(cluster.connectionSettings(database: "cruddur")) { connection in
            try await MigrationRunner(logger: TestPostgres.logger).migrate(on: connection)
            try await SeedData.load(on: connection, logger: TestPostgres.logger)
        }

        var template = Array((NSTemporaryDirectory() + "cruddur-replica-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw ReplicaTestError("cannot create the replica's folder") }
        let replicaDirectory = String(cString: made)
        if geteuid() == 0, let user = getpwnam("postgres") {
            chown(replicaDirectory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        chmod(replicaDirectory, 0o700)
        let environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PGPASSWORD": password, "HOME": "/tmp"]
        let backup = try SpawnedProcess(
            asServerUser([
                binaries.directory + "/pg_basebackup", "-D", replicaDirectory + "/pgdata", "-R", "-X", "stream", "-h", "127.0.0.1", "-p",
                "\(primaryPort)", "-U", "postgres", "-c", "fast", "--no-sync",
            ]),
            environment: environment)
        guard await backup.wait(timeout: .seconds(120)) == 0 else { throw ReplicaTestError("pg_basebackup failed") }

        let replicaPort = try freePort()
        let pair = StreamingPair(
            primaryLease: lease, primaryPort: primaryPort, replicaPort: replicaPort, replicaDirectory: replicaDirectory, binaries: binaries)
        try await pair.startReplica()
        // Stop the replica when this test process is gone, however it ends.
        _ = try SpawnedProcess(
            [
                "/bin/sh", "-c",
                "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; "
                    + asServerUser([binaries.pgCtl, "stop", "-D", replicaDirectory + "/pgdata", "-m", "immediate"]).joined(separator: " ")
                    + "; rm -rf '\(replicaDirectory)'",
            ], environment: environment)
        return pair
    }

    func startReplica() async throws {
        let start = try SpawnedProcess(
            Self.asServerUser([
                binaries.pgCtl, "start", "-D", replicaDirectory + "/pgdata", "-l", replicaDirectory + "/log", "-w", "-t", "60", "-s", "-o",
                "-p \(replicaPort) -k \(replicaDirectory) -c listen_addresses=127.0.0.1",
            ]),
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp"])
        guard await start.wait(timeout: .seconds(90)) == 0 else {
            throw ReplicaTestError("the replica did not start: \((try? String(contentsOfFile: replicaDirectory + "/log", encoding: .utf8)) ?? "")")
        }
    }

    /// Stops the replica at once, as a crash would.
    func stopReplica() async throws {
        let stop = try SpawnedProcess(
            Self.asServerUser([binaries.pgCtl, "stop", "-D", replicaDirectory + "/pgdata", "-m", "immediate", "-w", "-s"]),
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp"])
        guard await stop.wait(timeout: .seconds(60)) == 0 else { throw ReplicaTestError("the replica did not stop") }
    }

    /// Runs `sql` on the replica as the superuser.
    func onReplica(_ sql: String) async throws {
        try await withTestConnection(try replica) { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestPostgres.logger).collect()
        }
    }

    /// Index and sequential scans of `activities` the replica has counted (its feed reads).
    func replicaFeedScans() async throws -> Int {
        try await withTestConnection(try replica) { connection in
            let rows = try await connection.query(
                "SELECT (coalesce(sum(idx_scan), 0) + coalesce(sum(seq_scan), 0))::int8 FROM pg_stat_user_tables WHERE relname = 'activities'",
                logger: TestPostgres.logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        }
    }
}

struct ReplicaTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Reads from a real streaming replica through two `cruddur serve` processes: the author's server shows a post at
/// once, the other within the 1 s bound (cache and replica lag together), a replica that stops replaying or stops
/// altogether costs no failed read, and it is used again when it recovers.
@Suite("READ_CONNECTION_URL: a streaming replica behind two servers", .serialized)
struct ReadReplicaTests {
    struct Post: Sendable {
        let uuid: String
        let acknowledged: ContinuousClock.Instant
    }

    struct Read: Sendable {
        let started: ContinuousClock.Instant
        let uuids: Set<String>
    }

    static func post(_ server: LocalServer, _ message: String) async throws -> Post {
        let reply = try await HTTP.request(
            "POST", server.base + "/api/activities", body: #"{"user_handle": "bayko", "message": "\#(message)", "ttl": "1-hour"}"#)
        let acknowledged = ContinuousClock.now
        try #require(reply.status == 200, "\(reply.status) \(reply.body)")
        let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
        return Post(uuid: try #require(object?["uuid"] as? String), acknowledged: acknowledged)
    }

    static func feed(_ server: LocalServer) async throws -> (status: Int, uuids: Set<String>) {
        let reply = try await HTTP.request("GET", server.base + "/api/activities/home?limit=40")
        guard reply.status == 200, let items = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]] else {
            return (reply.status, [])
        }
        return (200, Set(items.compactMap { $0["uuid"] as? String }))
    }

    /// Waits until the replica has counted more feed reads than `before` (a server read from it again).
    static func waitForReplicaReads(_ pair: StreamingPair, after before: Int, reading servers: [LocalServer], within: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            for server in servers { _ = try await feed(server) }
            try await Task.sleep(for: .milliseconds(200))
            if try await pair.replicaFeedScans() > before { return true }
        }
        return false
    }

    @Test("read-your-writes on the author's server, ≤ 1 s on the other, no failed read when the replica lags or stops, and back")
    func replicaReads() async throws {
        let pair = try await StreamingPair.start()
        let environment = ["CONNECTION_URL": pair.primaryURL, "READ_CONNECTION_URL": pair.replicaURL, "ACCESS_LOG": "off", "POST_RATE_LIMIT": "off"]
        // The release build users deploy: the debug build's cost per request would load the machine the other suites share.
        let release = try releaseCruddurExecutable()
        let serverA = try await LocalServer.start(database: try pair.primary, executable: release, environment: environment)
        let serverB = try await LocalServer.start(database: try pair.primary, executable: release, environment: environment)
        defer {
            serverA.process.signal(SIGTERM)
            serverB.process.signal(SIGTERM)
        }

        // 1. Posts through A; A shows each at once; a reader on B records what it sees.
        let scansBefore = try await pair.replicaFeedScans()
        let reads = NIOLockedValueBox<[Read]>([])
        let failures = NIOLockedValueBox<[Int]>([])
        let stop = NIOLockedValueBox(false)
        let reader = Task {
            while !stop.withLockedValue({ $0 }) {
                let started = ContinuousClock.now
                let (status, uuids) = try await Self.feed(serverB)
                if status == 200 {
                    reads.withLockedValue { $0.append(Read(started: started, uuids: uuids)) }
                } else {
                    failures.withLockedValue { $0.append(status) }
                }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        var posts: [Post] = []
        for index in 0..<300 {
            let post = try await Self.post(serverA, "replica test \(index)")
            posts.append(post)
            let (status, onA) = try await Self.feed(serverA)
            #expect(status == 200 && onA.contains(post.uuid), "post \(index) is not on its author's server's next read")
            if !onA.contains(post.uuid) { break }
            // At most ~25 posts a second: a page holds the newest 40, so every post stays on it longer than the 1 s
            // bound and B's reads can see each one (the release build would otherwise post faster than a page turns).
            try await Task.sleep(for: .milliseconds(40))
        }
        try await Task.sleep(for: .milliseconds(1200))
        stop.withLockedValue { $0 = true }
        try await reader.value
        #expect(failures.withLockedValue { $0 }.isEmpty, "failed reads on B: \(failures.withLockedValue { $0 })")

        // Every read on B that started 1 s after a post's acknowledgement shows it, unless newer posts pushed it off
        // the page: a page is the newest activities, so a read that shows an older post of this run must show it too.
        let observed = reads.withLockedValue { $0 }
        let index = Dictionary(uniqueKeysWithValues: posts.enumerated().map { ($1.uuid, $0) })
        var violations = 0
        for read in observed {
            guard let oldestShown = read.uuids.compactMap({ index[$0] }).min() else { continue }
            for position in (oldestShown + 1)..<posts.count where posts[position].acknowledged + .seconds(1) <= read.started {
                if !read.uuids.contains(posts[position].uuid) { violations += 1 }
            }
        }
        #expect(violations == 0, "\(violations) reads on B started over 1 s after a post's acknowledgement and lacked it")
        var staleness: [Duration] = []
        for post in posts {
            if let seen = observed.first(where: { $0.uuids.contains(post.uuid) }) {
                staleness.append(max(.zero, seen.started - post.acknowledged))
            }
        }
        staleness.sort()
        let p99 = staleness[min(staleness.count - 1, staleness.count * 99 / 100)]
        let median = staleness[staleness.count / 2]
        print(
            "replica: \(posts.count) posts, \(observed.count) reads on B; staleness on B: median \(median), p99 \(p99), max \(staleness.last ?? .zero)"
        )
        #expect(staleness.count == posts.count)
        #expect((staleness.last ?? .zero) <= .seconds(1))
        #expect(
            try await Self.waitForReplicaReads(pair, after: scansBefore, reading: [serverB], within: .seconds(10)), "B never read from the replica")

        // 2. The replica stops replaying: reads leave it within the lag bound, so B still shows A's posts within 1 s.
        try await pair.onReplica("SELECT pg_wal_replay_pause()")
        var pausedStaleness: [Duration] = []
        for index in 0..<10 {
            let post = try await Self.post(serverA, "while the replica is paused \(index)")
            var seenAfter: Duration?
            while ContinuousClock.now - post.acknowledged < .seconds(3) {
                let started = ContinuousClock.now
                let (status, uuids) = try await Self.feed(serverB)
                #expect(status == 200)
                if uuids.contains(post.uuid) {
                    seenAfter = started - post.acknowledged
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let seen = try #require(seenAfter, "B never showed a post while the replica was paused")
            #expect(seen <= .seconds(1), "B showed a post \(seen) after it was acknowledged")
            pausedStaleness.append(seen)
        }
        print("replica: replay paused: B showed each of 10 posts within \(pausedStaleness.max() ?? .zero)")
        try await pair.onReplica("SELECT pg_wal_replay_resume()")
        let resumed = try await pair.replicaFeedScans()
        #expect(
            try await Self.waitForReplicaReads(pair, after: resumed, reading: [serverB], within: .seconds(10)),
            "the resumed replica was not used again")

        // 3. The replica stops altogether mid-run: no read fails; once it is back, it is used again.
        let hammering = NIOLockedValueBox(true)
        let failedReads = NIOLockedValueBox(0)
        let served = NIOLockedValueBox(0)
        let hammer = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for server in [serverA, serverB] {
                    group.addTask {
                        while hammering.withLockedValue({ $0 }) {
                            let (status, _) = try await Self.feed(server)
                            if status == 200 { served.withLockedValue { $0 += 1 } } else { failedReads.withLockedValue { $0 += 1 } }
                            try await Task.sleep(for: .milliseconds(5))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(for: .seconds(1))
        let stopped = ContinuousClock.now
        try await pair.stopReplica()
        let post = try await Self.post(serverA, "while the replica is down")
        try await Task.sleep(for: .seconds(2))
        hammering.withLockedValue { $0 = false }
        try await hammer.value
        #expect(failedReads.withLockedValue { $0 } == 0, "reads failed while the replica went down")
        #expect(served.withLockedValue { $0 } > 0)
        #expect(try await Self.feed(serverB).uuids.contains(post.uuid))
        print(
            "replica: stopped for \(ContinuousClock.now - stopped) under load: \(served.withLockedValue { $0 }) reads served, \(failedReads.withLockedValue { $0 }) failed"
        )

        try await pair.startReplica()
        let restarted = try await pair.replicaFeedScans()
        #expect(
            try await Self.waitForReplicaReads(pair, after: restarted, reading: [serverA, serverB], within: .seconds(15)),
            "the restarted replica was not used again")
    }
}
