import CruddurDatabase
import Foundation
import Testing

/// `cruddur lambda invoke --event FILE` against a test database given as CONNECTION_URL.
@Suite(.serialized)
struct LambdaInvokeCommandTests {
    let database: ConnectionSettings

    init() async throws {
        database = try await TestPostgres.shared.makeDatabase(seeded: true)
    }

    func invoke(_ event: [UInt8]?) async throws -> (status: Int32?, output: String) {
        var arguments = ["lambda", "invoke"]
        let path = NSTemporaryDirectory() + "cruddur-event-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        if let event {
            FileManager.default.createFile(atPath: path, contents: Data(event))
            arguments += ["--event", path]
        }
        let child = try ChildProcess(cruddurExecutable, arguments, environment: cleanEnvironment(["CONNECTION_URL": database.libpqURL]))
        let status = await child.waitForExit(timeout: .seconds(30))
        return (status, child.output)
    }

    @Test func itRunsTheHandlerOnceAndPrintsTheResponse() async throws {
        let attributes = userAttributes(handle: "invoked")
        let event = cognitoEvent(attributes: attributes)
        let first = try await invoke(event)
        #expect(first.status == 0)
        #expect(first.output.contains(String(decoding: event, as: UTF8.self) + "\n"))
        #expect(first.output.contains("cruddur: created user "))
        let second = try await invoke(event)
        #expect(second.status == 0)
        #expect(second.output.contains("already up to date; nothing written"))
    }

    @Test func failuresAreOneLineAndExitOne() async throws {
        let taken = try await invoke(cognitoEvent(attributes: userAttributes(handle: "bayko")))
        #expect(taken.status == 1)
        #expect(taken.output == "cruddur: Cruddur.HandleTaken: the handle 'bayko' already belongs to another user; nothing was stored\n")
        let malformed = try await invoke(Array("{".utf8))
        #expect(malformed.status == 1)
        #expect(malformed.output == "cruddur: Cruddur.InvalidEvent: the event is not valid JSON\n")
        let missing = try await invoke(nil)
        #expect(missing.status == 64)
    }
}
