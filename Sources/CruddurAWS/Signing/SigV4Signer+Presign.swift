import Foundation

extension SigV4Signer {
    /// The query string of a presigned URL (SigV4 in the query, as botocore's `generate_presigned_url` writes it):
    /// `parameters` first, in the order given, then `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
    /// `X-Amz-Expires`, `X-Amz-SignedHeaders` (only `host`), the session token when there is one, and last
    /// `X-Amz-Signature`. The payload signed is the empty body's hash, as botocore signs it (not S3's `UNSIGNED-PAYLOAD`).
    /// - Parameters:
    ///   - host: the `Host` header's value, with the port when it is not the scheme's default (`db.example:5432`).
    ///   - expires: seconds the URL stays valid from `date`.
    public func presignedQuery(
        method: String = "GET", host: String, path: String = "/", parameters: [(String, String)], expires: Int, date: Date
    ) -> String {
        let timestamp = AWSTimestamp(date)
        let credentialScope = scope(timestamp)
        var authentication: [(String, String)] = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(credentials.accessKeyId)/\(credentialScope)"),
            ("X-Amz-Date", timestamp.dateTime),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if let token = credentials.sessionToken {
            authentication.append(("X-Amz-Security-Token", token))
        }
        let signed = parameters + authentication
        let canonicalRequest = [
            method.uppercased(),
            Self.canonicalURI(path),
            Self.canonicalQuery(signed),
            "host:\(host.trimmingCharacters(in: .whitespaces))\n",
            "host",
            Self.hexSHA256([]),
        ].joined(separator: "\n")
        let signatureHex = signature(of: Self.stringToSign(timestamp, scope: credentialScope, canonicalRequest: canonicalRequest), timestamp)
        return (signed + [("X-Amz-Signature", signatureHex)])
            .map { AWSPercentEncoding.encode($0.0) + "=" + AWSPercentEncoding.encode($0.1) }
            .joined(separator: "&")
    }
}
