import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

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

    /// Parses a document; nil when it is not well-formed XML.
    public static func parse(_ data: Data) -> XMLTree? {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = false
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        private var stack: [(name: String, text: String, children: [XMLTree])] = []
        var root: XMLTree?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            stack.append((elementName, "", []))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            guard let top = stack.popLast() else { return }
            let element = XMLTree(name: top.name, text: top.text, children: top.children)
            if stack.isEmpty {
                root = element
            } else {
                stack[stack.count - 1].children.append(element)
            }
        }
    }
}
