import CruddurDatabase
import Foundation
import Testing

@testable import CruddurLocalPostgres

/// Issue 14, items 1-3: the cluster manager (run as root here, as in CI) uses nothing another user could have
/// planted, and its children see none of our secrets.
@Suite("The local cluster's folders and children are private", .serialized)
struct LocalClusterSafetyTests {
    static let nobody: uid_t = 65_534

    /// A fresh private folder under /tmp holding a `state` folder path (not created) and a victim folder with a file.
    struct Scene {
        let base: String
        var state: String { base + "/state" }
        var victim: String { base + "/victim" }
        var victimFile: String { victim + "/precious" }

        init() throws {
            var template = Array((NSTemporaryDirectory() + "cruddur-safety-XXXXXX").utf8CString)
            let created = try #require(mkdtemp(&template))
            base = String(cString: created)
            chmod(base, 0o755)
            try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false)
            FileManager.default.createFile(atPath: victimFile, contents: Data("keep".utf8))
        }

        func cluster(socketDirectory: String? = nil) async throws -> LocalCluster {
            try LocalCluster(
                layout: .init(stateDirectory: state, socketDirectory: socketDirectory ?? state + "/run"),
                binaries: try await PostgresBinaries.locate(),
                options: .init(isEphemeral: true, isDurable: false)
            )
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: base)
        }
    }

    /// Acquiring must fail with the one-line refusal naming `path`, and touch nothing outside.
    func expectRefusal(_ scene: Scene, socketDirectory: String? = nil, naming path: String, because reason: String) async throws {
        let cluster = try await scene.cluster(socketDirectory: socketDirectory)
        let error = await #expect(throws: LocalClusterError.self) { _ = try await cluster.acquire(logger: TestPostgres.logger) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.hasPrefix("refusing to use \(path) for the local PostgreSQL cluster: \(reason)"), "\(text)")
        #expect(!text.contains("\n"))
        #expect(FileManager.default.fileExists(atPath: scene.victimFile), "a file outside the cluster was removed")
        #expect(try await !cluster.isRunning())
    }

    @Test("a planted symbolic link (leases, lock, data, socket, the state folder itself) is refused, and nothing is followed")
    func plantedLinks() async throws {
        for name in ["leases", "lock", "pgdata", "run", ""] {
            let scene = try Scene()
            defer { scene.remove() }
            let link = name.isEmpty ? scene.state : scene.state + "/" + name
            if !name.isEmpty { try FileManager.default.createDirectory(atPath: scene.state, withIntermediateDirectories: false) }
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: scene.victim)
            try await expectRefusal(scene, naming: link, because: "it is a symbolic link")
        }
    }

    @Test("a state folder another user made, or one that others can write to, is refused")
    func foreignFolders() async throws {
        let scene = try Scene()
        defer { scene.remove() }
        try FileManager.default.createDirectory(atPath: scene.state, withIntermediateDirectories: false)
        chown(scene.state, Self.nobody, gid_t(Self.nobody))
        try await expectRefusal(scene, naming: scene.state, because: "it belongs to uid 65534, not 0")
        chown(scene.state, 0, 0)
        chmod(scene.state, 0o777)
        try await expectRefusal(scene, naming: scene.state, because: "its group or other users can write to it")

        let open = try Scene()
        defer { open.remove() }
        chmod(open.base, 0o777)
        try await expectRefusal(open, naming: open.base, because: "other users can write to it")
    }

    @Test("the short socket folder for long paths is private: one another user created first is refused")
    func socketFolder() async throws {
        let scene = try Scene()
        defer { scene.remove() }
        let sockets = "/tmp/cruddur-sock-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: sockets) }
        chown(sockets, Self.nobody, gid_t(Self.nobody))
        try await expectRefusal(scene, socketDirectory: sockets, naming: sockets, because: "it belongs to uid 65534")
        let long = LocalCluster.layout(stateDirectory: "/tmp/" + String(repeating: "long-project-path-", count: 6), tag: "long")
        #expect(long.socketDirectory.hasPrefix("/tmp/cruddur-sock-\(geteuid())-"), "the fallback name is per user: \(long.socketDirectory)")
    }

    @Test("root keeps a project the postgres user cannot reach under /var/lib/cruddur, never /var/tmp")
    func rootStateFolder() async throws {
        try #require(geteuid() == 0, "CI runs as root; this is root's behaviour")
        let scene = try Scene()
        defer { scene.remove() }
        chmod(scene.base, 0o700)
        let cluster = try await LocalCluster.forProject(directory: scene.base)
        #expect(cluster.layout.stateDirectory.hasPrefix(LocalCluster.rootStateParent + "/"), "\(cluster.layout.stateDirectory)")
    }

    @Test("the server and the reaper run without our environment's secrets")
    func childrenGetNoSecrets() async throws {
        setenv("CRUDDUR_TEST_SECRET_CANARY", "canary-\(UUID().uuidString)", 1)
        defer { unsetenv("CRUDDUR_TEST_SECRET_CANARY") }
        let cluster = try await LocalCluster.temporary(label: "secrets")
        let lease = try await cluster.acquire(logger: TestPostgres.logger)
        let postmaster = try String(contentsOfFile: cluster.layout.dataDirectory + "/postmaster.pid", encoding: .utf8)
            .split(separator: "\n").first.map(String.init)
        var checked: [String] = []
        for pid in (try FileManager.default.contentsOfDirectory(atPath: "/proc")).filter({ Int32($0) != nil }) {
            guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let isReaper = variables.contains("STATE=\(cluster.layout.stateDirectory)")
            guard isReaper || pid == postmaster else { continue }
            checked.append(isReaper ? "reaper \(pid)" : "postgres \(pid)")
            #expect(!variables.contains { $0.hasPrefix("CRUDDUR_TEST_SECRET_CANARY=") }, "process \(pid) has our environment")
        }
        #expect(checked.contains { $0.hasPrefix("reaper") } && checked.contains { $0.hasPrefix("postgres") }, "\(checked)")
        await lease.release(logger: TestPostgres.logger)
    }
}
