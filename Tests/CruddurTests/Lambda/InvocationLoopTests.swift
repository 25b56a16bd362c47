import CruddurDatabase
import CruddurLambda
import Foundation
import Logging
import PostgresNIO
import Testing

/// The Runtime API loop against a loopback stand-in, and the function's start-up, against a real PostgreSQL.
@Suite(.serialized)
struct InvocationLoopTests {
    let database: ConnectionSettings

    init() async throws {
        database = try await TestPostgres.shared.makeDatabase(seeded: true)
    }

    @Test func theLoopServesEventsInARowAndReportsEachResult() async throws {
        let standIn = RuntimeAPIStandIn()
        let attributes = userAttributes()
        let newUser = cognitoEvent(attributes: attributes)
        let malformed = Array(#"{"triggerSource": "PostConfirmation_ConfirmSignUp", "userPoolId": "#.utf8)
        let otherTrigger = cognitoEvent(triggerSource: "PreSignUp_SignUp", attributes: userAttributes())
        var withoutEmail = userAttributes()
        withoutEmail.removeValue(forKey: "email")
        let missingEmail = cognitoEvent(attributes: withoutEmail)
        let repeated = cognitoEvent(triggerSource: "PostConfirmation_ConfirmForgotPassword", attributes: attributes)
        let takenHandle = cognitoEvent(attributes: userAttributes(handle: "bayko"))
        let events = [newUser, malformed, otherTrigger, missingEmail, repeated, takenHandle]
        var ids: [String] = []
        for event in events { ids.append(await standIn.enqueue(event)) }
        let before = try await userCount(database)

        try await standIn.serve { endpoint in
            try await withPostConfirmationHandler(database) { handler, _ in
                let loop = InvocationLoop(api: try RuntimeAPIClient(endpoint: endpoint), handler: handler, logger: TestPostgres.logger)
                let running = Task { try await loop.run() }
                _ = await standIn.waitForReports(events.count)
                await standIn.finish()
                await #expect(throws: RuntimeAPIError.unexpectedStatus(call: "next", status: 410)) { try await running.value }
            }
        }
        let reports = await standIn.reports
        try #require(reports.count == events.count)
        #expect(reports.map(\.requestID) == ids)
        #expect(reports.map(\.kind) == ["response", "error", "response", "error", "response", "error"])
        #expect(reports[0].body == newUser)
        #expect(reports[2].body == otherTrigger)
        #expect(reports[4].body == repeated)
        #expect(reports[1].errorFields == ["errorType": "Cruddur.InvalidEvent", "errorMessage": "the event is not valid JSON"])
        #expect(reports[1].errorTypeHeader == "Cruddur.InvalidEvent")
        #expect(reports[3].errorFields == ["errorType": "Cruddur.InvalidEvent", "errorMessage": "the event has no request.userAttributes.email"])
        #expect(reports[5].errorFields["errorType"] == "Cruddur.HandleTaken")
        #expect(try await userCount(database) == before + 1)
    }

    @Test func theRuntimeReusesOnePoolAcrossInvocations() async throws {
        let standIn = RuntimeAPIStandIn()
        let environment = ["AWS_LAMBDA_RUNTIME_API": "", "CONNECTION_URL": database.libpqURL, "PGPASSFILE": "/dev/null"]
        let before = try await userCount(database)
        try await standIn.serve { endpoint in
            let variables = environment.merging(["AWS_LAMBDA_RUNTIME_API": endpoint]) { $1 }
            let runtime = Task { await PostConfirmationRuntime.main(environment: variables, logger: TestPostgres.logger) }
            // The events go once the pool's connection is open: the test is about reuse, and on a loaded machine a
            // cold connection plus a commit can outlast the handler's 3.5 s budget.
            let deadline = ContinuousClock.now + .seconds(60)
            while try await Self.backends(of: PostConfirmationRuntime.applicationName, in: database) == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            for _ in 0..<5 { await standIn.enqueue(cognitoEvent(attributes: userAttributes())) }
            let reports = await standIn.waitForReports(5)
            #expect(reports.map(\.kind) == Array(repeating: "response", count: 5))
            let backends = try await Self.backends(of: PostConfirmationRuntime.applicationName, in: database)
            #expect(backends == 1)
            await standIn.finish()
            #expect(await runtime.value == 1)
        }
        #expect(try await userCount(database) == before + 5)
    }

    @Test func startUpFailuresAreReportedToInitError() async throws {
        let cases: [([String: String], String)] = [
            ([:], "CONNECTION_URL is not set: give the function the database URL in its environment"),
            (
                ["CONNECTION_URL": "mysql://app:hunter2-secret@db.example.com/cruddur"],
                "CONNECTION_URL: invalid connection URL: it must start with postgresql:// or postgres://"
            ),
            (
                ["CONNECTION_URL": "postgresql://app:hunter2-secret@db.example.com/cruddur?sslmode=sometimes"],
                "CONNECTION_URL: invalid connection URL: sslmode 'sometimes' is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ),
            (
                ["CONNECTION_URL": "postgresql://app:hunter2-secret@db.example.com/cruddur?sslmode=verify-full&sslrootcert=/nonexistent.pem"],
                "CONNECTION_URL: cannot read the sslrootcert file '/nonexistent.pem' as PEM certificates"
            ),
        ]
        for (variables, message) in cases {
            let standIn = RuntimeAPIStandIn()
            let status = try await standIn.serve { endpoint in
                await PostConfirmationRuntime.main(
                    environment: variables.merging(["AWS_LAMBDA_RUNTIME_API": endpoint]) { $1 }, logger: TestPostgres.logger
                )
            }
            #expect(status == 1)
            let reports = await standIn.reports
            #expect(reports.map(\.kind) == ["init/error"])
            #expect(reports.first?.errorFields == ["errorType": "Cruddur.InvalidConfiguration", "errorMessage": message])
            #expect(reports.first.map { !String(decoding: $0.body, as: UTF8.self).contains("hunter2") } == true)
        }
    }

    @Test func withoutTheRuntimeAPIItStopsAtOnce() async throws {
        #expect(await PostConfirmationRuntime.main(environment: ["CONNECTION_URL": database.libpqURL], logger: TestPostgres.logger) == 1)
        #expect(await PostConfirmationRuntime.main(environment: ["AWS_LAMBDA_RUNTIME_API": "no-port"], logger: TestPostgres.logger) == 1)
    }

    /// How many server processes serve `application` in the database right now.
    static func backends(of application: String, in settings: ConnectionSettings) async throws -> Int {
        try await withTestConnection(settings) { connection in
            let rows = try await connection.query(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE application_name = \(application) AND datname = \(settings.database)",
                logger: TestPostgres.logger
            ).collect()
            return Int(try rows[0].decode(Int64.self))
        }
    }
}
