import Crypto
import CryptoExtras
import Foundation

/// A SCRAM-SHA-256 password verifier (RFC 5802, RFC 7677) as PostgreSQL stores it, computed here the way
/// `psql`'s `\password` does, so that the password itself never travels to the server: it can appear in no
/// statement, parameter or error that the server logs.
///
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64).
public enum SCRAMVerifier {
    /// PostgreSQL's default (`scram_iterations`).
    public static let iterations = 4096

    /// The verifier for `password`, which must be printable ASCII (SASLprep leaves such a password as it is; other
    /// passwords would need its full normalisation, so they are refused).
    public static func make(password: String, salt: [UInt8] = randomSalt(), iterations: Int = iterations) -> String? {
        guard !password.isEmpty, password.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
        // `Hi(password, salt, i)` of RFC 5802 is PBKDF2-HMAC-SHA-256 with one 32-byte block. PostgreSQL's 4096
        // iterations are below CryptoExtras' checked minimum, hence the unchecked call.
        guard
            let key = try? KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        else { return nil }
        let clientKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Client Key".utf8), using: key))
        let storedKey = Data(SHA256.hash(data: clientKey))
        let serverKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Server Key".utf8), using: key))
        return "SCRAM-SHA-256$\(iterations):\(Data(salt).base64EncodedString())$\(storedKey.base64EncodedString()):\(serverKey.base64EncodedString())"
    }

    public static func randomSalt() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
