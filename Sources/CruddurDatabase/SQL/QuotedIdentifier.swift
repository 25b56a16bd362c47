/// Quotes an SQL identifier, for the few statements (CREATE DATABASE, GRANT … TO role) that cannot bind one.
/// Only for names the program or its operator chose, never for request input.
public func quoteIdentifier(_ identifier: String) -> String {
    "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
