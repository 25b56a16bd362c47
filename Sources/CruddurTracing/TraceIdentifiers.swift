import NIOConcurrencyHelpers

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

/// Random ids from a xoshiro256** generator seeded by the system's: the ids need to be unique and unguessable
/// enough for sampling (and request ids), not secret, and a system call per id would be most of a span's cost.
public final class IDGenerator: Sendable {
    private let state: NIOLockedValueBox<(UInt64, UInt64, UInt64, UInt64)>

    public init() {
        var system = SystemRandomNumberGenerator()
        var seed = (system.next() as UInt64, system.next() as UInt64, system.next() as UInt64, system.next() as UInt64)
        if seed == (0, 0, 0, 0) { seed.0 = 1 }
        state = NIOLockedValueBox(seed)
    }

    /// A span id, and a trace id when `newTrace` (else a placeholder that is never used), under one lock.
    func next(newTrace: Bool) -> (TraceID, SpanID) {
        state.withLockedValue { s in
            var traceID = Self.placeholder
            if newTrace {
                repeat {
                    if let id = TraceID(high: Self.step(&s), low: Self.step(&s)) { traceID = id }
                } while traceID == Self.placeholder
            }
            while true {
                if let spanID = SpanID(Self.step(&s)) { return (traceID, spanID) }
            }
        }
    }

    /// 128 random bits, as 32 lowercase hexadecimal digits.
    public func hex128() -> String {
        let (high, low) = state.withLockedValue { s in (Self.step(&s), Self.step(&s)) }
        return Hex.string(high, low)
    }

    private static let placeholder = TraceID(high: 0, low: 1)!

    private static func step(_ s: inout (UInt64, UInt64, UInt64, UInt64)) -> UInt64 {
        let result = rotateLeft(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotateLeft(s.3, 45)
        return result
    }

    private static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
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
