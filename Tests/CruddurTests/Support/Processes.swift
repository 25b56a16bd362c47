import AsyncHTTPClient
import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The folder holding the built products (`cruddur`, the test bundle).
var productsDirectory: URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
}

/// The built `cruddur` executable (`swift build` makes it before the tests run).
var cruddurExecutable: String {
    productsDirectory.appendingPathComponent("cruddur").path
}

/// The package's root folder.
let packageDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The static release `cruddur` (what users deploy), built by `scripts/test` into `.build-static` before the tests run.
func releaseCruddurExecutable() throws -> String {
    let path = packageDirectory + "/.build-static/release/cruddur"
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw ReleaseBuildMissing(path: path)
    }
    return path
}

struct ReleaseBuildMissing: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path) is missing: run scripts/test, which builds the static release binary before the tests" }
}

/// A TCP port nothing listens on right now.
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    try withUnsafeMutablePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            guard bind(descriptor, socketAddress, length) == 0, getsockname(descriptor, socketAddress, &length) == 0 else {
                throw POSIXError(.EADDRINUSE)
            }
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A child process whose output is captured to a file, killed at the latest when the test ends.
final class ChildProcess: Sendable {
    let subprocess: SpawnedProcess
    let outputPath: String

    init(_ executable: String, _ arguments: [String], environment: [String: String], directory: String? = nil) throws {
        outputPath = NSTemporaryDirectory() + "cruddur-child-\(UUID().uuidString).log"
        subprocess = try SpawnedProcess([executable] + arguments, environment: environment, directory: directory, outputPath: outputPath)
    }

    var pid: Int32 { subprocess.pid }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { subprocess.signal(signal) }

    /// Waits for exit up to `timeout`; returns the exit status, or nil if still running.
    func waitForExit(timeout: Duration) async -> Int32? {
        await subprocess.wait(timeout: timeout)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: outputPath)
    }
}

/// The environment of this process without the variables that would point `cruddur` elsewhere.
func cleanEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for name in ["CONNECTION_URL", "PROD_CONNECTION_URL", "PORT", "HOST", "AWS_COGNITO_USER_POOL_ID", "PGPASSWORD"] {
        environment.removeValue(forKey: name)
    }
    // A developer's own trace settings would send the tests' spans to their collector.
    for name in environment.keys where name.hasPrefix("OTEL_") {
        environment.removeValue(forKey: name)
    }
    return environment.merging(overrides) { $1 }
}

/// A small HTTP client for talking to a `cruddur serve` child process.
struct HTTP {
    struct Reply {
        let status: Int
        let headers: [(String, String)]
        let body: String
    }

    /// `timeout` bounds the whole exchange, from the request's start (waiting for a pooled connection included).
    static func request(
        _ method: String, _ url: String, body: String? = nil, headers: [(String, String)] = [], timeout: Duration = .seconds(10)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .init(timeout))
        let bytes = try await response.body.collect(upTo: 10 * 1024 * 1024)
        return Reply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: String(buffer: bytes))
    }

    /// Polls `url` until it answers 200 or the timeout passes.
    static func waitUntilHealthy(_ url: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let reply = try? await request("GET", url), reply.status == 200 { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }
}

/// A `cruddur serve` child process in local development mode (no Cognito settings) on `database`, on a free port,
/// waited for until its health check answers; `environment` adds or overrides variables.
struct LocalServer {
    let process: ChildProcess
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    static func start(
        database: ConnectionSettings, executable: String = cruddurExecutable, environment: [String: String] = [:]
    ) async throws -> LocalServer {
        let port = try freePort()
        let process = try ChildProcess(
            executable, ["serve"],
            environment: cleanEnvironment(
                [
                    "CONNECTION_URL": database.libpqURL, "PORT": "\(port)",
                    "AWS_COGNITO_USER_POOL_ID": "", "AWS_COGNITO_USER_POOL_CLIENT_ID": "", "COGNITO_JWKS_URL": "",
                ].merging(environment) { $1 })
        )
        let server = LocalServer(process: process, port: port)
        let healthy = await HTTP.waitUntilHealthy(server.base + "/api/health", timeout: .seconds(30))
        #expect(healthy, "\(process.output)")
        return server
    }
}
