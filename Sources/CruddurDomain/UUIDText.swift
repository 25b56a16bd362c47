/// UUIDs as text, as PostgreSQL and Cognito write them.
public enum UUIDText {
    /// The canonical `8-4-4-4-12` hexadecimal form (either case).
    public static func isCanonical(_ text: some StringProtocol) -> Bool {
        let groups = text.utf8.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy { (48...57).contains($0) || (65...70).contains($0) || (97...102).contains($0) } }
    }
}
