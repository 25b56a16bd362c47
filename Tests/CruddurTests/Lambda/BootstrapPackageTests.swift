import CruddurDatabase
import CruddurLambda
import CruddurLocalPostgres
import Foundation
import Logging
import PostgresNIO
import Testing

/// The packaged `bootstrap`: built by `cruddur lambda package` (scripts/test runs it first, so here it is only
/// brought up to date), run as Lambda runs it, reaching PostgreSQL over TCP by the host name `localhost`.
@Suite(.serialized, .timeLimit(.minutes(60)))
struct BootstrapPackageTests {
    /// `cruddur lambda package`, run once for the suite.
    static let packaging = Task { try await runPackage() }

    static func package() async throws -> String { try await packaging.value }

    /// Runs `cruddur lambda package`; returns the zip's path.
    static func runPackage() async throws -> String {
        let child = try ChildProcess(cruddurExecutable, ["lambda", "package"], environment: cleanEnvironment(), directory: packageDirectory)
        let status = await child.waitForExit(timeout: .seconds(3_000))
        let output = child.output
        try #require(status == 0, "cruddur lambda package failed: \(output.suffix(2_000))")
        let zip = output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        try #require(zip == packageDirectory + "/.build-static/lambda/cruddur-post-confirmation.zip", "package printed: \(output.suffix(500))")
        return zip
    }

    @Test func theBootstrapIsAStaticExecutableInTheZip() async throws {
        let zip = try await Self.package()
        let bootstrap = URL(fileURLWithPath: zip).deletingLastPathComponent().appendingPathComponent("bootstrap").path
        #expect(FileManager.default.isExecutableFile(atPath: bootstrap))
        let archive = try #require(FileManager.default.contents(atPath: zip))
        #expect(archive.prefix(2) == Data("PK".utf8))
        #expect(archive.range(of: Data("bootstrap".utf8)) != nil)
        let ldd = try ChildProcess("/usr/bin/ldd", [bootstrap], environment: cleanEnvironment())
        _ = await ldd.waitForExit(timeout: .seconds(30))
        #expect(ldd.output.contains("not a dynamic executable"), "ldd says: \(ldd.output)")
    }

    @Test func theBootstrapServesEventsAgainstPostgreSQLReachedAsLocalhost() async throws {
        let zip = try await Self.package()
        let bootstrap = URL(fileURLWithPath: zip).deletingLastPathComponent().appendingPathComponent("bootstrap").path
        let database = try await TCPPasswordDatabase.start(label: "lambda-tcp")
        let admin = database.admin

        let standIn = RuntimeAPIStandIn()
        let attributes = userAttributes(handle: "static-duck")
        let events = [
            cognitoEvent(attributes: attributes),
            Array("{oops".utf8),
            cognitoEvent(triggerSource: "PostConfirmation_ConfirmForgotPassword", attributes: attributes),
        ]
        let timed = (0..<15).map { _ in cognitoEvent(attributes: userAttributes()) }
        let child = try await standIn.serve { endpoint in
            for event in events { await standIn.enqueue(event) }
            // The application role's password goes in CONNECTION_URL, as in the Lambda's configuration.
            let child = try ChildProcess(
                bootstrap, [],
                environment: [
                    "AWS_LAMBDA_RUNTIME_API": endpoint,
                    "CONNECTION_URL": database.appURL,
                    "PGPASSFILE": "/dev/null",
                    "PATH": "/usr/bin:/bin",
                ])
            let reports = await standIn.waitForReports(events.count, timeout: .seconds(20))
            try #require(reports.count == events.count, "bootstrap output: \(child.output)")
            #expect(reports.map(\.kind) == ["response", "error", "response"])
            #expect(reports[0].body == events[0])
            #expect(reports[1].errorFields == ["errorType": "Cruddur.InvalidEvent", "errorMessage": "the event is not valid JSON"])
            #expect(reports[2].body == events[2])

            // Warm invocations, one at a time: from handing the event out to receiving the response.
            var latencies: [Duration] = []
            for event in timed {
                let count = await standIn.reports.count
                await standIn.enqueue(event)
                let reports = await standIn.waitForReports(count + 1, timeout: .seconds(10))
                try #require(reports.count == count + 1 && reports[count].kind == "response", "bootstrap output: \(child.output)")
                latencies.append(try #require(reports[count].latency))
            }
            let median = latencies.sorted()[latencies.count / 2]
            print(
                "bootstrap warm invocation against local PostgreSQL over TCP: median \(median) of \(latencies.count), min \(latencies.min()!), max \(latencies.max()!)"
            )
            #expect(median < .seconds(1))
            // One pool per execution environment: all those invocations went through one server connection.
            let backends = try await InvocationLoopTests.backends(of: PostConfirmationRuntime.applicationName, in: admin)
            #expect(backends == 1)
            return child
        }
        // The stand-in now answers `next` with 410: the function stops.
        #expect(await child.waitForExit(timeout: .seconds(10)) == 1)
        #expect(!child.output.contains(database.appPassword), "the log shows the password")
        let stored = try await withTestConnection(admin) { connection in
            try await connection.query(
                "SELECT count(*)::int8, count(*) FILTER (WHERE handle = 'static-duck')::int8 FROM public.users", logger: TestPostgres.logger
            ).collect()[0].decode((Int64, Int64).self)
        }
        #expect(stored.0 == Int64(1 + timed.count))
        #expect(stored.1 == 1)
        await database.release()
    }

    @Test func theBootstrapReportsAStartUpFailure() async throws {
        let zip = try await Self.package()
        let bootstrap = URL(fileURLWithPath: zip).deletingLastPathComponent().appendingPathComponent("bootstrap").path
        let standIn = RuntimeAPIStandIn()
        let status = try await standIn.serve { endpoint in
            let child = try ChildProcess(
                bootstrap, [],
                environment: [
                    "AWS_LAMBDA_RUNTIME_API": endpoint, "CONNECTION_URL": "postgresql://app:hunter2-secret@localhost/cruddur?sslmode=maybe",
                ])
            let status = await child.waitForExit(timeout: .seconds(10))
            #expect(!child.output.contains("hunter2"))
            return status
        }
        #expect(status == 1)
        let reports = await standIn.reports
        #expect(reports.map(\.kind) == ["init/error"])
        #expect(reports.first?.errorFields["errorType"] == "Cruddur.InvalidConfiguration")
    }

    @Test("with OTEL_EXPORTER_OTLP_ENDPOINT each invocation's spans have left before it answers; a hung collector delays it by at most 200 ms")
    func theBootstrapSendsItsSpansBeforeItAnswers() async throws {
        let zip = try await Self.package()
        let bootstrap = URL(fileURLWithPath: zip).deletingLastPathComponent().appendingPathComponent("bootstrap").path
        let database = try await TestPostgres.shared.makeDatabase()
        for mode in [OTLPReceiver.Mode.ok, .hang] {
            let receiver = try await OTLPReceiver.start(mode: mode)
            defer { receiver.stop() }
            let standIn = RuntimeAPIStandIn()
            let child = try await standIn.serve { endpoint in
                let child = try ChildProcess(
                    bootstrap, [],
                    environment: [
                        "AWS_LAMBDA_RUNTIME_API": endpoint, "CONNECTION_URL": database.libpqURL, "PGPASSFILE": "/dev/null", "PATH": "/usr/bin:/bin",
                        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                    ])
                var latencies: [Duration] = []
                for index in 0..<5 {
                    let requestID = await standIn.enqueue(cognitoEvent(attributes: userAttributes()))
                    let reports = await standIn.waitForReports(index + 1, timeout: .seconds(20))
                    try #require(reports.count == index + 1 && reports[index].kind == "response", "bootstrap output: \(child.output)")
                    latencies.append(try #require(reports[index].latency))
                    guard mode == .ok else { continue }
                    // Read at once: the span must already be at the collector when the response arrives.
                    let spans = receiver.spans()
                    let invocation = try #require(
                        spans.first { $0.attributes["faas.invocation_id"] == requestID }, "\(spans.map(\.name)) \(child.output)")
                    #expect(invocation.name == PostConfirmationRuntime.applicationName)
                    #expect(invocation.kind == "SERVER")
                    #expect(invocation.resource["service.name"] == PostConfirmationRuntime.applicationName)
                    let upsert = try #require(spans.first { $0.parentSpanID == invocation.spanID })
                    #expect(upsert.name == "cruddur_cognito_user_upsert")
                    #expect(upsert.attributes["db.system.name"] == "postgresql")
                }
                let slowest = try #require(latencies.max())
                #expect(slowest < .seconds(1), "\(mode): \(latencies)")
                return child
            }
            #expect(await child.waitForExit(timeout: .seconds(10)) == 1)
            print("bootstrap with traces (\(mode.rawValue) collector): invocations answered in \(await standIn.reports.compactMap(\.latency))")
        }
    }
}
