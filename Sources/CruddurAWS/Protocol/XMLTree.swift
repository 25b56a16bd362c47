import Foundation

/// A parsed XML element: a name, its text and its children. Enough for AWS Query responses.
public struct XMLTree: Sendable {
    public let name: String
    public let text: String
    public let children: [XMLTree]

    /// The first child with this name.
    public func child(_ name: String) -> XMLTree? {
        children.first { $0.name == name }
    }

    /// All children with this name (list members such as `<member>` or `<item>`).
    public func children(named name: String) -> [XMLTree] {
        children.filter { $0.name == name }
    }

    /// The first element with this name at any depth, itself included.
    public func first(_ name: String) -> XMLTree? {
        if self.name == name { return self }
        for child in children {
            if let found = child.first(name) { return found }
        }
        return nil
    }

    /// The text of the child with this name, trimmed; nil when absent or empty.
    public func string(_ name: String) -> String? {
        guard let text = child(name)?.text.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }

    public func int(_ name: String) -> Int? {
        string(name).flatMap { Int($0) }
    }

    public func bool(_ name: String) -> Bool? {
        string(name).map { $0.lowercased() == "true" }
    }

    /// Parses a document; nil when it is not well-formed XML (or declares a DTD, which AWS responses never do).
    ///
    /// A small parser of our own rather than Foundation's `XMLParser`: FoundationXML links libxml2, which the
    /// fully static `cruddur` (the container image's) cannot link without ICU's 30 MB of data.
    public static func parse(_ data: Data) -> XMLTree? {
        var parser = Parser(bytes: Array(data))
        return parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        static let maximumDepth = 256

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func document() -> XMLTree? {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
            var stack: [(name: String, text: [UInt8], children: [XMLTree])] = []
            var root: XMLTree?
            while index < bytes.count {
                if bytes[index] != UInt8(ascii: "<") {
                    let start = index
                    while index < bytes.count, bytes[index] != UInt8(ascii: "<") { index += 1 }
                    let raw = bytes[start..<index]
                    if stack.isEmpty {
                        guard raw.allSatisfy(Self.isSpace) else { return nil }
                    } else {
                        guard let text = Self.decodeEntities(raw) else { return nil }
                        stack[stack.count - 1].text += text
                    }
                    continue
                }
                if skip("<?") {
                    guard skip(until: "?>") else { return nil }
                } else if skip("<!--") {
                    guard skip(until: "-->") else { return nil }
                } else if skip("<![CDATA[") {
                    let start = index
                    guard skip(until: "]]>"), !stack.isEmpty else { return nil }
                    stack[stack.count - 1].text += bytes[start..<(index - 3)]
                } else if skip("<!") {
                    return nil
                } else if skip("</") {
                    guard let name = name(), let open = stack.popLast(), open.name == name else { return nil }
                    skipSpaces()
                    guard skip(">") else { return nil }
                    let element = XMLTree(name: name, text: String(decoding: open.text, as: UTF8.self), children: open.children)
                    if stack.isEmpty {
                        guard root == nil else { return nil }
                        root = element
                    } else {
                        stack[stack.count - 1].children.append(element)
                    }
                } else {
                    index += 1
                    guard root == nil, stack.count < Self.maximumDepth, let name = name(), let selfClosing = attributes() else { return nil }
                    if selfClosing {
                        let element = XMLTree(name: name, text: "", children: [])
                        if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
                    } else {
                        stack.append((name, [], []))
                    }
                }
            }
            return stack.isEmpty ? root : nil
        }

        /// Skips the attributes of a start tag and its end; true when it was `/>`. Nil when malformed.
        mutating func attributes() -> Bool? {
            while true {
                skipSpaces()
                if skip("/>") { return true }
                if skip(">") { return false }
                guard name() != nil else { return nil }
                skipSpaces()
                guard skip("=") else { return nil }
                skipSpaces()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else { return nil }
                let quote = bytes[index]
                index += 1
                let start = index
                while index < bytes.count, bytes[index] != quote { index += 1 }
                guard index < bytes.count, Self.decodeEntities(bytes[start..<index]) != nil else { return nil }
                index += 1
            }
        }

        mutating func name() -> String? {
            let start = index
            while index < bytes.count, !Self.isSpace(bytes[index]), !"/>=<".utf8.contains(bytes[index]) { index += 1 }
            return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }

        mutating func skipSpaces() {
            while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
        }

        /// Consumes `literal` if the input continues with it.
        mutating func skip(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            let matches = literal.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
            }
            if matches { index += count }
            return matches
        }

        /// Consumes everything up to and including `terminator`; false when it never comes.
        mutating func skip(until terminator: StaticString) -> Bool {
            while index < bytes.count {
                if skip(terminator) { return true }
                index += 1
            }
            return false
        }

        static func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
        }

        /// Text with XML's five named entities and numeric character references replaced; nil when malformed.
        static func decodeEntities(_ raw: ArraySlice<UInt8>) -> [UInt8]? {
            guard raw.contains(UInt8(ascii: "&")) else { return Array(raw) }
            var output: [UInt8] = []
            output.reserveCapacity(raw.count)
            var index = raw.startIndex
            while index < raw.endIndex {
                guard raw[index] == UInt8(ascii: "&") else {
                    output.append(raw[index])
                    index += 1
                    continue
                }
                guard let end = raw[index...].firstIndex(of: UInt8(ascii: ";")), end - index <= 10 else { return nil }
                let entity = String(decoding: raw[(index + 1)..<end], as: UTF8.self)
                let scalar: Unicode.Scalar?
                switch entity {
                case "amp": scalar = "&"
                case "lt": scalar = "<"
                case "gt": scalar = ">"
                case "quot": scalar = "\""
                case "apos": scalar = "'"
                default:
                    if entity.hasPrefix("#x") {
                        scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                    } else if entity.hasPrefix("#") {
                        scalar = UInt32(entity.dropFirst(1)).flatMap(Unicode.Scalar.init)
                    } else {
                        scalar = nil
                    }
                }
                guard let scalar else { return nil }
                output.append(contentsOf: Array(String(Character(scalar)).utf8))
                index = end + 1
            }
            return output
        }
    }
}
