import PostgresNIO

extension PostgresRowSequence {
    /// Reads and discards every row, so a statement's errors surface here.
    func drain() async throws {
        for try await _ in self {}
    }
}
