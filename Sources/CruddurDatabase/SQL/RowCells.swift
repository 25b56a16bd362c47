import PostgresNIO

/// A row's columns read in order, each with PostgresNIO's inlinable cell decoder, which is specialised here for each
/// type. The variadic `PostgresRow.decode((A, B, …).self)` instantiates generic metadata at run time on every row:
/// on the feed's hot path that was a tenth of the server's CPU.
struct RowCells {
    private var cells: PostgresRow.Iterator
    private let statement: String

    init(_ row: PostgresRow, statement: String) {
        cells = row.makeIterator()
        self.statement = statement
    }

    /// The next column as `Value`; a row with fewer columns than read is a ``MalformedRow``.
    mutating func next<Value: PostgresDecodable>(_: Value.Type) throws -> Value {
        guard let cell = cells.next() else { throw MalformedRow(statement: statement) }
        return try cell.decode(Value.self)
    }
}
