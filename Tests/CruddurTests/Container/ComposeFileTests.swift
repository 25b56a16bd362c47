import Foundation
import Testing

/// compose.yaml cannot be run here (no base image can be pulled), so what can be checked is: it parses (PyYAML from
/// `.venv`), its services are wired as the README says, and every variable it gives Cruddur is one the README's
/// configuration table lists.
@Suite struct ComposeFileTests {
    static func composeDocument() async throws -> [String: Any] {
        let script = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)"
        let child = try ChildProcess(
            packageDirectory + "/.venv/bin/python", ["-c", script, packageDirectory + "/compose.yaml"], environment: cleanEnvironment())
        let status = await child.waitForExit(timeout: .seconds(30))
        try #require(status == 0, "compose.yaml does not parse: \(child.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(child.output.utf8)) as? [String: Any])
    }

    @Test("compose.yaml: PostgreSQL 16 with a volume and a health check, a one-shot db setup, serve on 4567 for local use")
    func services() async throws {
        let document = try await Self.composeDocument()
        let services = try #require(document["services"] as? [String: [String: Any]])
        #expect(Set(services.keys) == ["db", "setup", "api"])
        let db = try #require(services["db"])
        #expect(db["image"] as? String == "postgres:16")
        #expect((db["volumes"] as? [String])?.contains { $0.hasSuffix(":/var/lib/postgresql/data") } == true)
        #expect(db["healthcheck"] != nil)
        let setup = try #require(services["setup"])
        #expect(setup["image"] as? String == "cruddur:latest")
        #expect((setup["command"] as? [String])?.prefix(2) == ["db", "setup"])
        #expect(((setup["depends_on"] as? [String: Any])?["db"] as? [String: String])?["condition"] == "service_healthy")
        let api = try #require(services["api"])
        #expect(api["image"] as? String == "cruddur:latest")
        #expect(api["command"] as? [String] == ["serve", "--allow-unauthenticated-writes"])
        #expect(api["ports"] as? [String] == ["4567:4567"])
        #expect(((api["depends_on"] as? [String: Any])?["setup"] as? [String: String])?["condition"] == "service_completed_successfully")
        for service in [setup, api] {
            let url = try #require((service["environment"] as? [String: String])?["CONNECTION_URL"])
            #expect(url.hasPrefix("postgresql://postgres:password@db:5432/cruddur"))
        }
        // The comment says what --allow-unauthenticated-writes means.
        let text = try String(contentsOfFile: packageDirectory + "/compose.yaml", encoding: .utf8)
        #expect(text.contains("local use only"))
    }

    @Test("every variable compose.yaml gives Cruddur is in the README's configuration table, and the README shows compose.yaml")
    func variablesMatchTheReadme() async throws {
        let document = try await Self.composeDocument()
        let services = try #require(document["services"] as? [String: [String: Any]])
        let readme = try String(contentsOfFile: packageDirectory + "/README.md", encoding: .utf8)
        let table = readme.split(separator: "\n").filter { $0.hasPrefix("| `") }
        for name in ["setup", "api"] {
            for variable in (services[name]?["environment"] as? [String: String] ?? [:]).keys {
                #expect(table.contains { $0.hasPrefix("| `\(variable)`") }, "\(variable) is not in the README's configuration table")
            }
        }
        #expect(readme.contains("compose.yaml") && readme.contains("scripts/image"))
    }
}
