import Foundation
import Testing

/// What the `cruddur rds …` suites share: running the command against moto, reading an instance back with the `aws`
/// CLI, and the shape of a failure.
protocol RDSCommandTesting {}

extension RDSCommandTesting {
    func cruddur(_ arguments: [String], _ moto: MotoEndpoint, _ environment: [String: String] = [:]) async throws -> ToolResult {
        try await runTool(cruddurExecutable, arguments, environment: moto.environment(environment), timeout: .seconds(60))
    }

    func uniqueIdentifier(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// The instance as the aws CLI describes it.
    func describe(_ identifier: String, _ moto: MotoEndpoint, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let result = try await moto.aws(["rds", "describe-db-instances", "--db-instance-identifier", identifier])
        #expect(result.status == 0, "\(result)", sourceLocation: sourceLocation)
        return (result.json["DBInstances"] as? [[String: Any]])?.first ?? [:]
    }

    /// A failure is one line on stderr, a non-zero exit, and no secret.
    func expectOneLineFailure(_ result: ToolResult, containing text: String, _ moto: MotoEndpoint, sourceLocation: SourceLocation = #_sourceLocation)
    {
        #expect(result.status != 0, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(text), "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains(moto.secretAccessKey) && !result.stdout.contains(moto.secretAccessKey), sourceLocation: sourceLocation)
    }
}
