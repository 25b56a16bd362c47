/// The EC2 calls Cruddur makes (Query API, version 2016-11-15): reading and rewriting one security-group rule.
public struct EC2Client: Sendable {
    public static let apiVersion = "2016-11-15"
    let client: AWSClient

    public init(_ client: AWSClient) {
        self.client = client
    }

    /// One security-group rule as `DescribeSecurityGroupRules` reports it.
    public struct SecurityGroupRule: Sendable, Codable, Equatable {
        public var ruleId: String
        public var groupId: String
        public var isEgress: Bool
        public var ipProtocol: String
        public var fromPort: Int?
        public var toPort: Int?
        public var cidrIpv4: String?
        public var cidrIpv6: String?
        public var description: String?

        /// The source the rule allows, whichever family it is.
        public var source: String { cidrIpv4 ?? cidrIpv6 ?? "another source" }

        init(_ xml: XMLTree) {
            ruleId = xml.string("securityGroupRuleId") ?? ""
            groupId = xml.string("groupId") ?? ""
            isEgress = xml.bool("isEgress") ?? false
            ipProtocol = xml.string("ipProtocol") ?? ""
            fromPort = xml.int("fromPort")
            toPort = xml.int("toPort")
            cidrIpv4 = xml.string("cidrIpv4")
            cidrIpv6 = xml.string("cidrIpv6")
            description = xml.string("description")
        }
    }

    public func describeSecurityGroupRule(_ ruleId: String) async throws -> SecurityGroupRule {
        let document = try await client.query(
            service: "ec2", version: Self.apiVersion, action: "DescribeSecurityGroupRules", parameters: [("SecurityGroupRuleId.1", ruleId)],
            readOnly: true
        )
        let rules = document.first("securityGroupRuleSet")?.children(named: "item").map(SecurityGroupRule.init) ?? []
        guard let rule = rules.first(where: { $0.ruleId == ruleId }) else {
            throw AWSError.service(
                .init(
                    service: "ec2", action: "DescribeSecurityGroupRules", code: "InvalidSecurityGroupRuleId.NotFound",
                    message: "The security group rule ID '\(ruleId)' does not exist", requestId: nil, httpStatus: 400
                ))
        }
        return rule
    }

    /// Rewrites an ingress rule to allow TCP `port` from `range`, with a description.
    public func allowTCP(groupId: String, ruleId: String, port: Int, from range: IPRange, description: String) async throws {
        let prefix = "SecurityGroupRule.1.SecurityGroupRule."
        let document = try await client.query(
            service: "ec2", version: Self.apiVersion, action: "ModifySecurityGroupRules",
            parameters: [
                ("GroupId", groupId),
                ("SecurityGroupRule.1.SecurityGroupRuleId", ruleId),
                (prefix + "IpProtocol", "tcp"),
                (prefix + "FromPort", String(port)),
                (prefix + "ToPort", String(port)),
                (prefix + (range.family == .v4 ? "CidrIpv4" : "CidrIpv6"), range.description),
                (prefix + "Description", description),
            ])
        guard document.first("return")?.text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() == "true" else {
            throw AWSError.unexpectedResponse(
                service: "ec2", action: "ModifySecurityGroupRules", reason: "the rule was not changed (return is not true)")
        }
    }

    /// `sg-` followed by 8 or 17 hex digits.
    public static func isValidGroupId(_ id: String) -> Bool { hasHexSuffix(id, prefix: "sg-") }

    /// `sgr-` followed by 8 or 17 hex digits.
    public static func isValidRuleId(_ id: String) -> Bool { hasHexSuffix(id, prefix: "sgr-") }

    private static func hasHexSuffix(_ id: String, prefix: String) -> Bool {
        guard id.hasPrefix(prefix) else { return false }
        let digits = id.dropFirst(prefix.count)
        return (8...17).contains(digits.count) && digits.allSatisfy { $0.isHexDigit && ($0.isNumber || $0.isLowercase) }
    }
}
