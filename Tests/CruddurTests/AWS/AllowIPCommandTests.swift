import Foundation
import Testing

/// `cruddur rds allow-ip`, the seed's `bin/rds-update-sg-rule`, against moto_server; read back with the `aws` CLI.
@Suite("cruddur rds allow-ip against moto_server", .serialized)
struct AllowIPCommandTests {
    func cruddur(_ arguments: [String], _ moto: MotoEndpoint, _ environment: [String: String] = [:]) async throws -> ToolResult {
        try await runTool(cruddurExecutable, ["rds", "allow-ip"] + arguments, environment: moto.environment(environment), timeout: .seconds(60))
    }

    /// The rule as the aws CLI describes it.
    func rule(_ ruleId: String, _ moto: MotoEndpoint) async throws -> [String: Any] {
        let result = try await moto.aws(["ec2", "describe-security-group-rules", "--security-group-rule-ids", ruleId])
        #expect(result.status == 0, "\(result)")
        return (result.json["SecurityGroupRules"] as? [[String: Any]])?.first ?? [:]
    }

    @Test("--ip with DB_SG_ID and DB_SG_RULE_ID rewrites the rule to TCP 5432 from that /32, with a description")
    func rewritesTheRule() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let (groupId, ruleId) = try await moto.makeSecurityGroupRule()
        let result = try await cruddur(["--ip", "203.0.113.7"], moto, ["DB_SG_ID": groupId, "DB_SG_RULE_ID": ruleId])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("TCP 5432 from 203.0.113.7/32 (was 198.51.100.1/32)"), "\(result)")

        let after = try await rule(ruleId, moto)
        #expect(after["GroupId"] as? String == groupId)
        #expect(after["IsEgress"] as? Bool == false)
        #expect(after["IpProtocol"] as? String == "tcp")
        #expect(after["FromPort"] as? Int == 5432)
        #expect(after["ToPort"] as? Int == 5432)
        #expect(after["CidrIpv4"] as? String == "203.0.113.7/32")
        #expect(after["Description"] as? String == "cruddur workstation")
    }

    @Test("options beat the environment; GITPOD_IP is used without --ip; --json reports the rule")
    func optionsAndGitpodIP() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let (groupId, ruleId) = try await moto.makeSecurityGroupRule()
        let result = try await cruddur(
            ["--security-group-id", groupId, "--rule-id", ruleId, "--description", "GITPOD", "--json"], moto,
            ["GITPOD_IP": "192.0.2.44", "DB_SG_ID": "sg-0000000000000000f", "DB_SG_RULE_ID": "sgr-0000000000000000f"]
        )
        #expect(result.status == 0, "\(result)")
        let reported = result.json["rule"] as? [String: Any]
        #expect(reported?["cidrIpv4"] as? String == "192.0.2.44/32")
        #expect(result.json["previousSource"] as? String == "198.51.100.1/32")
        let after = try await rule(ruleId, moto)
        #expect(after["CidrIpv4"] as? String == "192.0.2.44/32")
        #expect(after["Description"] as? String == "GITPOD")
    }

    @Test("0.0.0.0/0 and other ranges are refused unless --force; bad addresses are refused; the rule is left alone")
    func refusesTheWholeInternet() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let (groupId, ruleId) = try await moto.makeSecurityGroupRule()
        let environment = ["DB_SG_ID": groupId, "DB_SG_RULE_ID": ruleId]
        for (ip, message) in [
            ("0.0.0.0/0", "whole internet"), ("10.0.0.0/8", "range of addresses"), ("999.1.1.1", "not an IPv4 or IPv6 address"),
            ("1.2.3.4/40", "prefix length"),
        ] {
            let refused = try await cruddur(["--ip", ip], moto, environment)
            #expect(refused.status != 0, "\(ip): \(refused)")
            #expect(refused.stderr.contains(message), "\(ip): \(refused)")
        }
        let gitpod = try await cruddur([], moto, environment.merging(["GITPOD_IP": "0.0.0.0/0"]) { $1 })
        #expect(gitpod.status != 0 && gitpod.stderr.contains("GITPOD_IP") && gitpod.stderr.contains("whole internet"), "\(gitpod)")
        #expect(try await rule(ruleId, moto)["CidrIpv4"] as? String == "198.51.100.1/32", "unchanged")

        let forced = try await cruddur(["--ip", "0.0.0.0/0", "--force"], moto, environment)
        #expect(forced.status == 0, "\(forced)")
        #expect(try await rule(ruleId, moto)["CidrIpv4"] as? String == "0.0.0.0/0")
    }

    @Test("an IPv6 address for an IPv4 rule is refused before AWS is asked (AWS cannot switch a rule's family)")
    func ipv6ForAnIPv4Rule() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let (groupId, ruleId) = try await moto.makeSecurityGroupRule()
        let result = try await cruddur(["--ip", "2001:DB8::7"], moto, ["DB_SG_ID": groupId, "DB_SG_RULE_ID": ruleId])
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("allows IPv4 sources") && result.stderr.contains("2001:db8::7/128"), "\(result)")
        #expect(try await rule(ruleId, moto)["CidrIpv4"] as? String == "198.51.100.1/32", "unchanged")
    }

    @Test("a missing group or rule, an unknown rule and a rule of another group are one-line failures")
    func failures() async throws {
        let moto = try await TestMoto.shared.endpoint()
        let (groupId, ruleId) = try await moto.makeSecurityGroupRule()
        let (otherGroup, _) = try await moto.makeSecurityGroupRule()

        let noGroup = try await cruddur(["--ip", "203.0.113.7"], moto, ["DB_SG_RULE_ID": ruleId])
        #expect(noGroup.status != 0 && noGroup.stderr.contains("give --security-group-id or set DB_SG_ID"), "\(noGroup)")
        let noRule = try await cruddur(["--ip", "203.0.113.7"], moto, ["DB_SG_ID": groupId])
        #expect(noRule.status != 0 && noRule.stderr.contains("give --rule-id or set DB_SG_RULE_ID"), "\(noRule)")
        let malformed = try await cruddur(["--ip", "203.0.113.7", "--rule-id", "rule-1", "--security-group-id", groupId], moto)
        #expect(malformed.status != 0 && malformed.stderr.contains("not a security group rule id"), "\(malformed)")

        let unknown = try await cruddur(["--ip", "203.0.113.7", "--security-group-id", groupId, "--rule-id", "sgr-0123456789abcdef0"], moto)
        #expect(unknown.status != 0, "\(unknown)")
        #expect(unknown.stderr.contains("InvalidSecurityGroupRuleId.NotFound"), "\(unknown)")
        #expect(unknown.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1)

        let wrongGroup = try await cruddur(["--ip", "203.0.113.7", "--security-group-id", otherGroup, "--rule-id", ruleId], moto)
        #expect(wrongGroup.status != 0 && wrongGroup.stderr.contains("belongs to \(groupId)"), "\(wrongGroup)")
        #expect(try await rule(ruleId, moto)["CidrIpv4"] as? String == "198.51.100.1/32", "unchanged")

        let wronglySigned = try await cruddur(
            ["--ip", "203.0.113.7"], moto, ["DB_SG_ID": groupId, "DB_SG_RULE_ID": ruleId, "AWS_SECRET_ACCESS_KEY": "not-the-secret"])
        // EC2 reports a bad signature as AuthFailure.
        #expect(wronglySigned.status != 0 && wronglySigned.stderr.contains("AuthFailure"), "\(wronglySigned)")
        #expect(!wronglySigned.stderr.contains("not-the-secret"))
    }
}
