/// JSON string literals written straight into UTF-8 bytes: log lines and the OTLP/JSON exporter share this one.
public enum JSONText {
    /// `text` as a JSON string literal: quotes, backslashes, control characters, DEL and the two JavaScript line
    /// separators (U+2028, U+2029) escaped; everything else passes as its UTF-8 bytes.
    public static func appendString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { appendEscaped($0, to: &bytes) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Copies runs of bytes that need no escape in one go, and escapes the rest.
    private static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        var runStart = 0
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != 0x7F && byte != 0xE2 {
                index += 1
                continue
            }
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9; any other E2 sequence passes unchanged.
            let lineSeparator = byte == 0xE2 && index + 2 < utf8.count && utf8[index + 1] == 0x80 && (utf8[index + 2] | 1) == 0xA9
            if byte == 0xE2 && !lineSeparator {
                index += 1
                continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: #"\t"#.utf8)
            case 0xE2:
                appendUnicodeEscape(utf8[index + 2] == 0xA8 ? 0x2028 : 0x2029, to: &bytes)
                index += 2
            default: appendUnicodeEscape(UInt32(byte), to: &bytes)
            }
            index += 1
            runStart = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
    }

    /// `number` in decimal digits, as JSON writes an integer (log lines and the API share it).
    public static func appendInteger(_ number: Int64, to bytes: inout [UInt8]) {
        if number < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = number.magnitude
        var width = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            width += 1
        }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        for position in stride(from: start + width - 1, through: start, by: -1) {
            bytes[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func appendUnicodeEscape(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"\u"#.utf8)
        for shift in stride(from: 12, through: 0, by: -4) {
            bytes.append(hexDigits[Int((value >> UInt32(shift)) & 0xF)])
        }
    }
}
