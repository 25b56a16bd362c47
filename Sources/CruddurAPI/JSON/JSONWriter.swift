import CruddurDomain
import CruddurLogging
import NIOCore

/// A small JSON serialiser for the API's responses: exact field order, explicit nulls, written straight to UTF-8
/// bytes (strings escaped by ``JSONText``, as log lines are). Keys are written by the caller as literal text.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    /// Literal JSON text: punctuation and keys, which need no escaping.
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ text: String) {
        JSONText.appendString(text, to: &bytes)
    }

    mutating func optionalString(_ text: String?) {
        if let text { string(text) } else { raw("null") }
    }

    mutating func integer(_ number: Int64) {
        JSONText.appendInteger(number, to: &bytes)
    }

    /// A timestamp as an ISO-8601 string with microseconds.
    mutating func timestamp(_ instant: Timestamp) {
        bytes.append(UInt8(ascii: "\""))
        instant.appendISO8601(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }
}
