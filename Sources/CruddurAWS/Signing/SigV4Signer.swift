import Crypto
import Foundation

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for requests signed in the `Authorization` header.
///
/// The canonical request, string to sign and signature follow AWS's published algorithm and reproduce
/// the examples of its SigV4 test suite (see the tests). Paths are URI-encoded once per segment;
/// the services used here (RDS, EC2, Secrets Manager) are all addressed at `/`.
public struct SigV4Signer: Sendable {
    public let credentials: AWSCredentials
    public let region: String
    public let service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Everything signing computed, for a request to carry and for tests to check.
    public struct Signature: Sendable, Equatable {
        public let canonicalRequest: String
        public let stringToSign: String
        /// The hex signature.
        public let signature: String
        public let signedHeaders: String
        /// The value of the `Authorization` header.
        public let authorization: String
        /// Headers to add to the request: `X-Amz-Date`, `Authorization` and, with a session token, `X-Amz-Security-Token`.
        public let headers: [(name: String, value: String)]

        public static func == (lhs: Signature, rhs: Signature) -> Bool {
            lhs.authorization == rhs.authorization && lhs.canonicalRequest == rhs.canonicalRequest
        }
    }

    /// Signs a request.
    /// - Parameters:
    ///   - query: unencoded name/value pairs, in any order.
    ///   - headers: the headers to sign (at least `Host`); `X-Amz-Date` and the session token are added here.
    ///   - payload: the exact body bytes.
    public func sign(
        method: String,
        path: String = "/",
        query: [(String, String)] = [],
        headers: [(name: String, value: String)],
        payload: [UInt8],
        date: Date
    ) -> Signature {
        let timestamp = AWSTimestamp(date)
        var allHeaders = headers.filter { $0.name.lowercased() != "x-amz-date" && $0.name.lowercased() != "authorization" }
        allHeaders.append(("X-Amz-Date", timestamp.dateTime))
        if let token = credentials.sessionToken {
            allHeaders.append(("X-Amz-Security-Token", token))
        }

        let canonicalHeaders = Self.canonicalHeaders(allHeaders)
        let signedHeaders = canonicalHeaders.map(\.name).joined(separator: ";")
        let canonicalRequest = [
            method.uppercased(),
            Self.canonicalURI(path),
            Self.canonicalQuery(query),
            canonicalHeaders.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            Self.hexSHA256(payload),
        ].joined(separator: "\n")

        let credentialScope = scope(timestamp)
        let stringToSign = Self.stringToSign(timestamp, scope: credentialScope, canonicalRequest: canonicalRequest)
        let signatureHex = signature(of: stringToSign, timestamp)
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(credentialScope), SignedHeaders=\(signedHeaders), Signature=\(signatureHex)"

        var added: [(name: String, value: String)] = [("X-Amz-Date", timestamp.dateTime), ("Authorization", authorization)]
        if let token = credentials.sessionToken {
            added.append(("X-Amz-Security-Token", token))
        }
        return Signature(
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signature: signatureHex,
            signedHeaders: signedHeaders,
            authorization: authorization,
            headers: added
        )
    }

    /// `<date>/<region>/<service>/aws4_request`.
    func scope(_ timestamp: AWSTimestamp) -> String {
        "\(timestamp.date)/\(region)/\(service)/aws4_request"
    }

    static func stringToSign(_ timestamp: AWSTimestamp, scope: String, canonicalRequest: String) -> String {
        ["AWS4-HMAC-SHA256", timestamp.dateTime, scope, hexSHA256(Array(canonicalRequest.utf8))].joined(separator: "\n")
    }

    /// The hex HMAC of `stringToSign` with the day's signing key.
    func signature(of stringToSign: String, _ timestamp: AWSTimestamp) -> String {
        Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey(date: timestamp.date)))
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    func signingKey(date: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return key
    }

    /// Lower-cased names, values trimmed with inner runs of spaces folded, sorted by name; repeated names joined by commas.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                .trimmingCharacters(in: .whitespaces)
            merged[name.lowercased(), default: []].append(trimmed)
        }
        return merged.keys.sorted().map { ($0, merged[$0]!.joined(separator: ",")) }
    }

    static func canonicalURI(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false)
            .map { AWSPercentEncoding.encode(String($0)) }
            .joined(separator: "/")
    }

    /// Names and values URI-encoded, then sorted by name and, for equal names, by value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { pair in
            (name: AWSPercentEncoding.encode(pair.0), value: AWSPercentEncoding.encode(pair.1))
        }
        let sorted = encoded.sorted { left, right in
            left.name == right.name ? left.value < right.value : left.name < right.name
        }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    static func hexSHA256(_ bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// Lower-case hex, two digits a byte.
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// The two time formats SigV4 uses, in UTC: `20150830T123600Z` and `20150830`.
struct AWSTimestamp {
    let dateTime: String
    let date: String

    init(_ instant: Date) {
        var seconds = time_t(instant.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        date = String(format: "%04d%02d%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
        dateTime = date + String(format: "T%02d%02d%02dZ", Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}

/// RFC 3986 percent-encoding as AWS signs it: everything but `A-Z a-z 0-9 - . _ ~` is encoded, bytes of UTF-8 in upper-case hex.
public enum AWSPercentEncoding {
    public static func encode(_ text: String) -> String {
        var encoded = ""
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += String(format: "%%%02X", Int(byte))
            }
        }
        return encoded
    }

    /// A form body (`application/x-www-form-urlencoded`): encoded as above, except that a space is `+`, as HTML
    /// forms and the AWS SDKs write it. AWS signs the body's bytes as sent; local endpoints such as moto re-encode
    /// the parsed form this way before checking the signature, so this spelling satisfies both.
    public static func formBody(_ parameters: [(String, String)]) -> String {
        func formEncode(_ text: String) -> String { encode(text).replacingOccurrences(of: "%20", with: "+") }
        return parameters.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
    }
}
