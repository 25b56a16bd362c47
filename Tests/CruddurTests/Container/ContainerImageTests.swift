import CruddurDatabase
import Foundation
import Testing

/// The container image (Containerfile, built by scripts/image from the static release build that scripts/test has
/// just made), run with rootful podman against a PostgreSQL reached over loopback TCP with a password role.
@Suite(.serialized, .timeLimit(.minutes(20)))
struct ContainerImageTests {
    /// `scripts/image --skip-build`, run once for the suite; returns its line (`cruddur:<version> (podman, N MB)`).
    static let building = Task { try await buildImage() }

    /// How podman runs containers on these machines (crun fails on the host's cgroups and on raising rlimits).
    static let runFlags = ["--runtime", "runc", "--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]

    static func buildImage() async throws -> String {
        let child = try ChildProcess(
            packageDirectory + "/scripts/image", ["--skip-build"], environment: cleanEnvironment(), directory: packageDirectory)
        let status = await child.waitForExit(timeout: .seconds(600))
        try #require(status == 0, "scripts/image failed: \(child.output.suffix(2_000))")
        return child.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
    }

    /// Runs `podman` with `arguments` to its end; returns its exit status and output.
    static func podman(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> (status: Int32?, output: String) {
        let child = try ChildProcess("/usr/bin/podman", arguments, environment: cleanEnvironment())
        let status = await child.waitForExit(timeout: timeout)
        return (status, child.output)
    }

    @Test("the image: FROM scratch under 100 MB, tagged with cruddur --version, a numeric non-root user, liveness as its health check")
    func imageConfiguration() async throws {
        let built = try await Self.building.value
        let versionChild = try ChildProcess(cruddurExecutable, ["--version"], environment: cleanEnvironment())
        _ = await versionChild.waitForExit(timeout: .seconds(30))
        let version = try #require(versionChild.output.split(separator: "\n").first.map(String.init))
        #expect(built.hasPrefix("cruddur:\(version) (podman, "), "\(built)")
        let inspect = try await Self.podman(["image", "inspect", "cruddur:\(version)"])
        try #require(inspect.status == 0, "\(inspect.output)")
        let images = try #require(try JSONSerialization.jsonObject(with: Data(inspect.output.utf8)) as? [[String: Any]])
        let image = try #require(images.first)
        let size = try #require(image["Size"] as? Int)
        #expect(size < 100_000_000, "the image is \(size) bytes")
        #expect((image["RootFS"] as? [String: Any])?["Layers"].map { ($0 as? [Any])?.count ?? 0 } ?? 0 <= 3, "FROM scratch: only our layers")
        let config = try #require(image["Config"] as? [String: Any])
        #expect(config["User"] as? String == "65532:65532")
        #expect(config["Entrypoint"] as? [String] == ["/usr/bin/cruddur"])
        #expect(config["Cmd"] as? [String] == ["serve"])
        let environment = config["Env"] as? [String] ?? []
        #expect(environment.contains("HOST=0.0.0.0") && environment.contains("PORT=4567"), "\(environment)")
        #expect((config["ExposedPorts"] as? [String: Any])?.keys.contains("4567/tcp") == true)
        // podman's inspect puts the Docker format's HEALTHCHECK beside Config.
        let healthCheck = try #require(image["Healthcheck"] as? [String: Any], "podman kept no HEALTHCHECK (built without --format docker?)")
        #expect(healthCheck["Test"] as? [String] == ["CMD", "/usr/bin/cruddur", "health"])
        // `latest` is the same image.
        let latest = try await Self.podman(["image", "inspect", "--format", "{{.Id}}", "cruddur:latest"])
        #expect(latest.output.contains(image["Id"] as? String ?? "?"))
    }

    @Test("without CONNECTION_URL the image says in one line that a container needs it, and exits 1")
    func needsConnectionURL() async throws {
        _ = try await Self.building.value
        let run = try await Self.podman(["run", "--rm"] + Self.runFlags + ["cruddur:latest"])
        #expect(run.status == 1)
        let ours = run.output.split(separator: "\n").filter { $0.hasPrefix("cruddur:") }
        #expect(ours.count == 1 && ours.first?.contains("a container needs CONNECTION_URL") == true, "\(run.output)")
        // With it but without Cognito, HOST=0.0.0.0 is refused as on any other non-loopback bind.
        let open = try await Self.podman(
            ["run", "--rm"] + Self.runFlags + ["-e", "CONNECTION_URL=postgresql://cruddur_app:x@localhost:1/cruddur", "cruddur:latest"])
        #expect(open.status == 1)
        #expect(open.output.contains("no Cognito user pool is configured"), "\(open.output)")
    }

    @Test("the image serves the API, the page and its health checks against PostgreSQL over TCP as a password role, and stops on SIGTERM")
    func servesAgainstPostgreSQL() async throws {
        _ = try await Self.building.value
        let database = try await TCPPasswordDatabase.start(label: "image-tcp", seeded: true)
        let port = try freePort()
        let name = "cruddur-test-\(UUID().uuidString.prefix(8).lowercased())"
        // The host name `localhost` (the image has no libc to resolve it with but the static executable's own).
        let started = try await Self.podman(
            ["run", "--detach", "--name", name] + Self.runFlags + [
                "-e", "CONNECTION_URL=\(database.appURL)", "-e", "HOST=127.0.0.1",
                "-e", "PORT=\(port)", "cruddur:latest",
            ])
        try #require(started.status == 0, "\(started.output)")
        // On a failure before the end, the container is removed as the test ends (best effort).
        defer { _ = try? ChildProcess("/usr/bin/podman", ["rm", "--force", name], environment: cleanEnvironment()) }
        let base = "http://127.0.0.1:\(port)"
        let healthy = await HTTP.waitUntilHealthy(base + "/api/health", timeout: .seconds(60))
        let startLog = try await Self.podman(["logs", name]).output
        try #require(healthy, "\(startLog)")

        #expect(try await HTTP.request("GET", base + "/api/health/live").status == 200)
        let post = try await HTTP.request(
            "POST", base + "/api/activities", body: #"{"user_handle":"bayko","message":"posted from a container","ttl":"1-day"}"#)
        #expect(post.status == 200, "\(post.body)")
        let feed = try await HTTP.request("GET", base + "/api/activities/home")
        #expect(feed.status == 200 && feed.body.contains("posted from a container"), "\(feed.body.prefix(300))")
        let page = try await HTTP.request("GET", base + "/")
        #expect(page.status == 200 && page.body.contains("<html"), "the page's resources are in the image")
        // The image's health check command, run inside the container as the orchestrator would.
        let health = try await Self.podman(["exec", name, "/usr/bin/cruddur", "health"])
        #expect(health.status == 0, "\(health.output)")
        let ready = try await Self.podman(["exec", name, "/usr/bin/cruddur", "health", "--url", base, "--ready"])
        #expect(ready.status == 0, "\(ready.output)")

        let stopped = try await Self.podman(["stop", "--time", "20", name], timeout: .seconds(60))
        #expect(stopped.status == 0)
        let exit = try await Self.podman(["inspect", "--format", "{{.State.ExitCode}}", name])
        #expect(exit.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "SIGTERM is a graceful stop: \(exit.output)")
        let logs = try await Self.podman(["logs", name]).output
        #expect(!logs.contains(database.appPassword), "the log shows the password")
        #expect(try await Self.podman(["rm", name]).status == 0)
        await database.release()
    }
}
