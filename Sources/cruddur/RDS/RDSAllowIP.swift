import ArgumentParser
import CruddurAWS
import Foundation

/// `cruddur rds allow-ip`: the seed's `bin/rds-update-sg-rule`: points the security-group rule at this machine's address.
struct RDSAllowIP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allow-ip",
        abstract: "Rewrite the security-group rule to allow PostgreSQL from one IP address.",
        discussion: """
            The rule is DB_SG_RULE_ID in the group DB_SG_ID (or the options). The address is --ip, else GITPOD_IP, \
            else this machine's public address as https://checkip.amazonaws.com reports it. Ranges wider than one \
            address (0.0.0.0/0 above all) need --force.
            """
    )

    @OptionGroup var aws: AWSOptions

    @Option(help: ArgumentHelp("The security group (default: DB_SG_ID).", valueName: "sg-id"))
    var securityGroupId: String?

    @Option(help: ArgumentHelp("The rule to rewrite (default: DB_SG_RULE_ID).", valueName: "sgr-id"))
    var ruleId: String?

    @Option(help: ArgumentHelp("The address to allow (default: GITPOD_IP, else detected).", valueName: "address"))
    var ip: String?

    @Option(help: "The rule's description.")
    var description = "cruddur workstation"

    @Option(help: "The PostgreSQL port to allow.")
    var port = 5432

    @Flag(help: "Allow a range wider than one address, even 0.0.0.0/0.")
    var force = false

    func validate() throws {
        if let securityGroupId, !EC2Client.isValidGroupId(securityGroupId) {
            throw ValidationError("'\(securityGroupId)' is not a security group id (sg-…)")
        }
        if let ruleId, !EC2Client.isValidRuleId(ruleId) {
            throw ValidationError("'\(ruleId)' is not a security group rule id (sgr-…)")
        }
        if let ip {
            _ = try Self.range(ip, source: "--ip", force: force)
        }
        guard (1...255).contains(description.count),
            description.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || " ._-:/()#,@[]+=&;{}!$*".contains($0)) })
        else {
            throw ValidationError("--description must be 1–255 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*")
        }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be from 1 to 65535") }
    }

    func run() async throws {
        try await reportingFailures {
            let environment = ProcessInfo.processInfo.environment
            let groupId = try Self.setting(
                securityGroupId, variable: "DB_SG_ID", option: "--security-group-id", environment: environment, valid: EC2Client.isValidGroupId)
            let rule = try Self.setting(
                ruleId, variable: "DB_SG_RULE_ID", option: "--rule-id", environment: environment, valid: EC2Client.isValidRuleId)
            let range: IPRange
            if let ip {
                range = try Self.range(ip, source: "--ip", force: force)
            } else if let fromEnvironment = environment["GITPOD_IP"], !fromEnvironment.isEmpty {
                range = try Self.range(fromEnvironment, source: "GITPOD_IP", force: force)
            } else {
                range = try Self.range(try await Self.detectPublicAddress(), source: "the detected address", force: force)
            }

            let ec2 = EC2Client(try aws.client(logger: makeCommandLogger()))
            let before = try await ec2.describeSecurityGroupRule(rule)
            guard before.groupId == groupId else {
                throw CommandFailure("the rule \(rule) belongs to \(before.groupId), not \(groupId); check DB_SG_ID and DB_SG_RULE_ID")
            }
            guard !before.isEgress else {
                throw CommandFailure("the rule \(rule) is an outbound (egress) rule; allow-ip needs the inbound rule for PostgreSQL")
            }
            let ruleIsIPv6 = before.cidrIpv6 != nil
            if before.cidrIpv4 != nil || ruleIsIPv6, ruleIsIPv6 != (range.family == .v6) {
                throw CommandFailure(
                    "the rule \(rule) allows \(ruleIsIPv6 ? "IPv6" : "IPv4") sources and AWS cannot switch a rule's address family; give an \(ruleIsIPv6 ? "IPv6" : "IPv4") address or a rule for \(range.description)"
                )
            }
            try await ec2.allowTCP(groupId: groupId, ruleId: rule, port: port, from: range, description: description)
            let after = try await ec2.describeSecurityGroupRule(rule)
            if aws.json {
                try printJSON(AllowResult(rule: after, previousSource: before.source))
            } else {
                print("\(rule) in \(groupId) now allows TCP \(port) from \(after.source) (was \(before.source))")
            }
        }
    }

    struct AllowResult: Encodable {
        let rule: EC2Client.SecurityGroupRule
        let previousSource: String
    }

    /// The address as a range; anything wider than one address only with `--force`.
    static func range(_ text: String, source: String, force: Bool) throws -> IPRange {
        let range: IPRange
        do {
            range = try IPRange(text)
        } catch {
            throw ValidationError("\(source): \(error)")
        }
        if range.isEverywhere && !force {
            throw ValidationError("\(source): \(range) opens PostgreSQL to the whole internet; refusing without --force")
        }
        if !range.isSingleHost && !force {
            throw ValidationError("\(source): \(range) is a range of addresses, not one; refusing without --force")
        }
        return range
    }

    private static func setting(
        _ option: String?, variable: String, option name: String, environment: [String: String], valid: (String) -> Bool
    ) throws -> String {
        if let option { return option }
        guard let value = environment[variable]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            throw CommandFailure("no \(name == "--rule-id" ? "security group rule" : "security group"): give \(name) or set \(variable)")
        }
        guard valid(value) else { throw CommandFailure("\(variable)='\(value)' is not a valid id") }
        return value
    }

    /// This machine's public address, as AWS's own checkip service sees it.
    private static func detectPublicAddress() async throws -> String {
        do {
            return try await PublicAddress.detect()
        } catch {
            throw CommandFailure("cannot detect this machine's public address (\(oneLine(error))); give --ip or set GITPOD_IP")
        }
    }
}
