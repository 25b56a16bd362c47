/// A Cognito user pool id, `<region>_<id>` (e.g. `us-east-1_AbCdEf123`): the API checks tokens against one, the
/// post-confirmation Lambda reads one from each event.
public struct CognitoUserPoolID: Sendable, Equatable, CustomStringConvertible {
    public let description: String
    /// The region the id names, e.g. `us-east-1`.
    public let region: String

    /// Nil unless `text` is an AWS region, an underscore, then ASCII letters and digits; 55 characters at most.
    public init?(_ text: String) {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard text.utf8.count <= 55, parts.count == 2, Self.isRegion(parts[0]), !parts[1].isEmpty,
            parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        else { return nil }
        self.description = text
        self.region = String(parts[0])
    }

    /// An AWS region name such as `eu-west-2` or `us-gov-west-1`.
    public static func isRegion(_ text: some StringProtocol) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, text.count <= 32, let last = parts.last, last.allSatisfy(\.isASCII), Int(last) != nil else { return false }
        return parts.dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isLowercase } }
    }
}
