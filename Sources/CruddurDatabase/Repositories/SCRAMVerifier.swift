import Crypto
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
        let salted = saltedPassword(Array(password.utf8), salt: salt, iterations: iterations)
        let key = SymmetricKey(data: salted)
        let clientKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Client Key".utf8), using: key))
        let storedKey = Data(SHA256.hash(data: clientKey))
        let serverKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Server Key".utf8), using: key))
        return "SCRAM-SHA-256$\(iterations):\(Data(salt).base64EncodedString())$\(storedKey.base64EncodedString()):\(serverKey.base64EncodedString())"
    }

    public static func randomSalt() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// PBKDF2-HMAC-SHA-256 with one 32-byte block: `Hi(password, salt, i)` of RFC 5802.
    static func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var block = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = block
        for _ in 1..<iterations {
            block = Array(HMAC<SHA256>.authenticationCode(for: block, using: key))
            for index in result.indices { result[index] ^= block[index] }
        }
        return result
    }
}
