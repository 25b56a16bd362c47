/// A small JSON serialiser for the API's responses: exact field order, explicit nulls, no Foundation.
enum JSONWriter {
    enum Value {
        case string(String)
        case optionalString(String?)
        case integer(Int64)
    }

    static func object(_ fields: [(String, Value)]) -> String {
        var output = ""
        appendObject(fields, to: &output)
        return output
    }

    static func array(_ values: [Value]) -> String {
        var output = "["
        for (index, value) in values.enumerated() {
            if index > 0 { output.append(",") }
            append(value, to: &output)
        }
        output.append("]")
        return output
    }

    static func appendObject(_ fields: [(String, Value)], to output: inout String) {
        output.append("{")
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { output.append(",") }
            appendString(key, to: &output)
            output.append(":")
            append(value, to: &output)
        }
        output.append("}")
    }

    static func append(_ value: Value, to output: inout String) {
        switch value {
        case .string(let text): appendString(text, to: &output)
        case .optionalString(let text?): appendString(text, to: &output)
        case .optionalString(nil): output.append("null")
        case .integer(let number): output.append(String(number))
        }
    }

    /// Escapes per RFC 8259: quotes, backslash and control characters; everything else as UTF-8.
    static func appendString(_ text: String, to output: inout String) {
        output.append("\"")
        var needsEscaping = false
        for byte in text.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            needsEscaping = true
            break
        }
        guard needsEscaping else {
            output.append(text)
            output.append("\"")
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }
}
