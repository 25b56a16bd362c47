import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import Testing

@Suite("cruddur serve, as a user runs it: zero set-up on a private local PostgreSQL", .serialized)
struct ServeCommandTests {
    @Test("two servers share the project's cluster; the last one out stops it")
    func zeroSetup() async throws {
        let project = NSTemporaryDirectory() + "cruddur-project-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: project) }
        let firstPort = try freePort()
        let first = try ChildProcess(cruddurExecutable, ["serve"], environment: cleanEnvironment(["PORT": "\(firstPort)"]), directory: project)
        let base = "http://127.0.0.1:\(firstPort)"
        #expect(await HTTP.waitUntilHealthy(base + "/api/health", timeout: .seconds(90)), "\(first.output)")

        let feed = try await HTTP.request("GET", base + "/api/activities/home")
        #expect(feed.status == 200)
        #expect(feed.body.contains("This was imported as seed data!"))
        let post = try await HTTP.request(
            "POST", base + "/api/activities", body: #"{"user_handle": "bayko", "message": "Hello from a test", "ttl": "1-day"}"#)
        #expect(post.status == 200)
        let after = try await HTTP.request("GET", base + "/api/activities/home")
        let items = try JSONSerialization.jsonObject(with: Data(after.body.utf8)) as? [[String: Any]]
        #expect(items?.first?["message"] as? String == "Hello from a test")

        let secondPort = try freePort()
        let second = try ChildProcess(cruddurExecutable, ["serve"], environment: cleanEnvironment(["PORT": "\(secondPort)"]), directory: project)
        #expect(await HTTP.waitUntilHealthy("http://127.0.0.1:\(secondPort)/api/health", timeout: .seconds(30)), "\(second.output)")

        first.signal(SIGTERM)
        #expect(await first.waitForExit(timeout: .seconds(20)) == 0, "\(first.output)")
        let stillThere = try await HTTP.request("GET", "http://127.0.0.1:\(secondPort)/api/activities/home")
        #expect(stillThere.status == 200)
        #expect(stillThere.body.contains("Hello from a test"))

        second.signal(SIGINT)
        #expect(await second.waitForExit(timeout: .seconds(20)) == 0, "\(second.output)")
        let cluster = try await LocalCluster.forProject(directory: project)
        #expect(try await !cluster.isRunning())
    }

    @Test(
        "bad configuration is one line on stderr and a non-zero exit",
        arguments: [
            ["PORT": "eighty"], ["CONNECTION_URL": "mysql://x"], ["FRONTEND_URL": "not a url"],
            ["READ_CONNECTION_URL": "postgresql://reader@127.0.0.1:1/cruddur"],
            ["CONNECTION_URL": "postgresql://u@127.0.0.1:1/cruddur", "READ_CONNECTION_URL": "mysql://reader"],
            ["CONNECTION_URL": "postgresql://u@127.0.0.1:1/cruddur", "DB_AUTH": "iam", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"],
        ])
    func badEnvironment(overrides: [String: String]) async throws {
        let child = try ChildProcess(cruddurExecutable, ["serve"], environment: cleanEnvironment(overrides))
        let status = await child.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        let lines = child.output.split(whereSeparator: \.isNewline)
        #expect(lines.count == 1, "\(child.output)")
        #expect(lines.first?.hasPrefix("cruddur: ") == true)
    }

    @Test("a database with pending migrations is refused unless --migrate; a port in use is one clear line")
    func pendingMigrations() async throws {
        let empty = try await TestPostgres.shared.makeEmptyDatabase()
        guard case .unixSocket(let directory, _) = empty.endpoint else {
            Issue.record("the test cluster is expected to listen on a unix socket")
            return
        }
        let url = "postgresql://postgres@\(directory.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)/\(empty.database)"
        let port = try freePort()
        let refused = try ChildProcess(cruddurExecutable, ["serve"], environment: cleanEnvironment(["CONNECTION_URL": url, "PORT": "\(port)"]))
        #expect(await refused.waitForExit(timeout: .seconds(20)) == 1)
        #expect(refused.output.contains("pending migration"), "\(refused.output)")

        let migrating = try ChildProcess(
            cruddurExecutable, ["serve", "--migrate"], environment: cleanEnvironment(["CONNECTION_URL": url, "PORT": "\(port)"]))
        #expect(await HTTP.waitUntilHealthy("http://127.0.0.1:\(port)/api/health", timeout: .seconds(30)), "\(migrating.output)")
        let feed = try await HTTP.request("GET", "http://127.0.0.1:\(port)/api/activities/home")
        #expect(feed.status == 200 && feed.body == "[]")
        // A second server on the same port: one line that says so and what to do.
        let second = try ChildProcess(cruddurExecutable, ["serve"], environment: cleanEnvironment(["CONNECTION_URL": url, "PORT": "\(port)"]))
        #expect(await second.waitForExit(timeout: .seconds(20)) == 1)
        #expect(second.output.contains("cruddur: 127.0.0.1:\(port) is already in use"), "\(second.output)")
        #expect(second.output.contains("set PORT"), "\(second.output)")
        migrating.signal(SIGTERM)
        #expect(await migrating.waitForExit(timeout: .seconds(20)) == 0)
    }
}
