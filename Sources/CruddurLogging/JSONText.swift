/// JSON string literals written straight into UTF-8 bytes: log lines and the OTLP/JSON exporter share this one.
public enum JSONText {
    /// `text` as a JSON string literal: quotes, backslashes, control characters, DEL and the two JavaScript line
    /// separators (U+2028, U+2029) escaped; everything else passes as its UTF-8 bytes.
    public static func appendString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20, 0x7F: appendUnicodeEscape(UInt32(byte), to: &bytes)
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9; any other E2 sequence passes unchanged.
                let second = utf8.next()
                let third = second == nil ? nil : utf8.next()
                if second == 0x80, let third, third == 0xA8 || third == 0xA9 {
                    appendUnicodeEscape(third == 0xA8 ? 0x2028 : 0x2029, to: &bytes)
                } else {
                    bytes.append(byte)
                    if let second { bytes.append(second) }
                    if let third { bytes.append(third) }
                }
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func appendUnicodeEscape(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"\u"#.utf8)
        for shift in stride(from: 12, through: 0, by: -4) {
            bytes.append(hexDigits[Int((value >> UInt32(shift)) & 0xF)])
        }
    }
}
