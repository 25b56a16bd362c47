import ArgumentParser
import Foundation

/// Runs a command body and turns any error into one line on stderr and exit code 1.
///
/// Errors are described by `String(describing:)`, so every error type the commands can throw
/// describes itself in one human line without secrets.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch let exit as CleanExit {
        throw exit
    } catch {
        writeToStandardError("cruddur: \(oneLine(error))\n")
        throw ExitCode.failure
    }
}

/// Writes text to stderr unbuffered.
func writeToStandardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// The error's description with line breaks folded, so a failure is always one line.
func oneLine(_ error: any Error) -> String {
    String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
}
