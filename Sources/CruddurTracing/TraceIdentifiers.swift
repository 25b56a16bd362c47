import Synchronization

/// A W3C trace id: 16 bytes, never all zero.
public struct TraceID: Sendable, Hashable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init?(high: UInt64, low: UInt64) {
        guard high != 0 || low != 0 else { return nil }
        self.high = high
        self.low = low
    }

    /// 32 lowercase hexadecimal digits.
    public var description: String { Hex.string(high, low) }
}

/// A W3C span id: 8 bytes, never all zero.
public struct SpanID: Sendable, Hashable, CustomStringConvertible {
    public let value: UInt64

    public init?(_ value: UInt64) {
        guard value != 0 else { return nil }
        self.value = value
    }

    /// 16 lowercase hexadecimal digits.
    public var description: String { Hex.string(value) }
}

/// Random-looking ids without a lock: a counter (one atomic add per id), mixed by SplitMix64's finalizer with keys
/// from the system's generator. Each mix is a bijection, so ids are unique within the process (for 2^64 of them);
/// they are unpredictable enough for sampling (which reads a trace id's low bits) and request ids, not secret, and
/// neither a system call nor a lock per id, which would be much of a span's cost.
public final class IDGenerator: Sendable {
    private let counter = Atomic<UInt64>(0)
    private let keys: (span: UInt64, high: UInt64, low: UInt64)

    public init() {
        var system = SystemRandomNumberGenerator()
        keys = (system.next(), system.next(), system.next())
    }

    /// A span id, and a trace id when `newTrace` (else a placeholder that is never used).
    func next(newTrace: Bool) -> (TraceID, SpanID) {
        while true {
            let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
            guard let spanID = SpanID(Self.mix(count, keys.span)) else { continue }
            guard newTrace else { return (Self.placeholder, spanID) }
            guard let traceID = TraceID(high: Self.mix(count, keys.high), low: Self.mix(count, keys.low)), traceID != Self.placeholder
            else { continue }
            return (traceID, spanID)
        }
    }

    /// 128 random bits, as 32 lowercase hexadecimal digits.
    public func hex128() -> String {
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return Hex.string(Self.mix(count, keys.high), Self.mix(count, keys.low))
    }

    private static let placeholder = TraceID(high: 0, low: 1)!

    /// SplitMix64: the count spread by an odd multiplier and keyed, then its finalizer; a bijection for each key.
    private static func mix(_ count: UInt64, _ key: UInt64) -> UInt64 {
        var z = count &* 0x9E37_79B9_7F4A_7C15 &+ key
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func string(_ words: UInt64...) -> String {
        String(unsafeUninitializedCapacity: words.count * 16) { buffer in
            var index = 0
            for word in words {
                for shift in stride(from: 60, through: 0, by: -4) {
                    buffer[index] = digits[Int((word >> UInt64(shift)) & 0xF)]
                    index += 1
                }
            }
            return index
        }
    }

    /// The value of exactly 16 hexadecimal digits (lowercase, as W3C requires); nil for anything else.
    static func word<S: Collection<UInt8>>(_ text: S) -> UInt64? {
        guard text.count == 16 else { return nil }
        var value: UInt64 = 0
        for byte in text {
            guard let digit = nibble(byte) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    /// One lowercase hexadecimal digit's value.
    static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
