import Foundation
import Testing

/// `scripts/fleet --quick`: three release servers on a primary and a streaming replica behind haproxy, one killed
/// and one stopped under load; no acknowledged post lost or doubled, no 5xx while every server was up.
@Suite("scripts/fleet: a fleet behind haproxy loses and doubles nothing while servers die")
struct FleetTests {
    /// The read rates are the benchmark's business (`scripts/fleet` without `--skip-rates`), not a test's.
    @Test("the short fleet run passes its own checks, and its report says so")
    func shortRun() async throws {
        let binary = try releaseCruddurExecutable()
        let report = NSTemporaryDirectory() + "cruddur-fleet-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: report) }
        let result = try await runTool(
            packageDirectory + "/scripts/fleet", ["--quick", "--skip-rates", "--binary", binary, "--json", report],
            environment: cleanEnvironment(), timeout: .seconds(300))
        #expect(result.status == 0, "\(result)")
        let data = try #require(FileManager.default.contents(atPath: report), "no report: \(result)")
        let fields = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let acknowledged = try #require(fields["acknowledged_posts"] as? Int)
        #expect(acknowledged > 0)
        #expect(fields["rows_found"] as? Int == acknowledged)
        #expect(fields["lost"] as? Int == 0)
        #expect(fields["duplicated"] as? Int == 0)
        #expect(fields["responses_5xx_outside_kill_windows"] as? Int == 0)
        print("fleet: \(result.stdout)")
    }
}
