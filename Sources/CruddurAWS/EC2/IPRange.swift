import Foundation

/// An IPv4 or IPv6 range in CIDR form, validated: a bare address means the single host (`/32`, `/128`).
public struct IPRange: Sendable, Equatable, CustomStringConvertible {
    public enum Family: Sendable { case v4, v6 }

    public let family: Family
    /// The address in canonical text form.
    public let address: String
    public let prefixLength: Int

    public var description: String { "\(address)/\(prefixLength)" }

    /// True when the range is exactly one host.
    public var isSingleHost: Bool { prefixLength == (family == .v4 ? 32 : 128) }

    /// True for `0.0.0.0/0` and `::/0`: the whole internet.
    public var isEverywhere: Bool { prefixLength == 0 }

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case notAnAddress(String)
        case badPrefix(String)
        case hostBitsSet(String)

        public var description: String {
            switch self {
            case .notAnAddress(let text): "'\(text)' is not an IPv4 or IPv6 address"
            case .badPrefix(let text): "'\(text)' has a prefix length out of range"
            case .hostBitsSet(let text): "'\(text)' has bits set beyond its prefix length"
            }
        }
    }

    /// Parses `203.0.113.7`, `203.0.113.7/32`, `2001:db8::1` or `0.0.0.0/0`.
    public init(_ text: String) throws(ParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addressText = parts.first.map(String.init), !addressText.isEmpty else {
            throw .notAnAddress(text)
        }
        var v4 = in_addr()
        var v6 = in6_addr()
        let bytes: [UInt8]
        if inet_pton(AF_INET, addressText, &v4) == 1 {
            family = .v4
            bytes = withUnsafeBytes(of: v4) { Array($0) }
        } else if inet_pton(AF_INET6, addressText, &v6) == 1 {
            family = .v6
            bytes = withUnsafeBytes(of: v6) { Array($0) }
        } else {
            throw .notAnAddress(text)
        }
        let maximum = bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), parts[1].allSatisfy(\.isNumber), (0...maximum).contains(length) else {
                throw .badPrefix(text)
            }
            prefixLength = length
        } else {
            prefixLength = maximum
        }
        for bit in prefixLength..<maximum where bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 {
            throw .hostBitsSet(text)
        }
        address = Self.format(bytes, family: family)
    }

    private static func format(_ bytes: [UInt8], family: Family) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        bytes.withUnsafeBytes { raw in
            _ = inet_ntop(family == .v4 ? AF_INET : AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
