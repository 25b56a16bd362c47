import CruddurAWS
import Foundation
import Testing

/// AWS's published SigV4 test suite ("aws-sig-v4-test-suite", as shipped in the AWS SDKs and aws-c-auth):
/// key AKIDEXAMPLE, date 2015-08-30T12:36:00Z, region us-east-1, service `service`, host example.amazonaws.com.
@Suite("SigV4 signer: AWS's published test-suite examples")
struct SigV4SignerTests {
    static let signer = SigV4Signer(
        credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1",
        service: "service"
    )
    static let date = Date(timeIntervalSince1970: 1_440_938_160) // 20150830T123600Z
    static let host = ("Host", "example.amazonaws.com")
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let method: String
        let query: [(String, String)]
        let headers: [(String, String)]
        let body: String
        let canonicalRequest: String
        let stringToSign: String
        let signature: String
        let signedHeaders: String
        var testDescription: String { name }
    }

    static let vectors: [Vector] = [
        Vector(
            name: "get-vanilla", method: "GET", query: [], headers: [host], body: "",
            canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign:
                "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            signedHeaders: "host;x-amz-date"
        ),
        Vector(
            name: "get-vanilla-query-order-key-case", method: "GET", query: [("Param2", "value2"), ("Param1", "value1")], headers: [host], body: "",
            canonicalRequest:
                "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign:
                "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            signedHeaders: "host;x-amz-date"
        ),
        Vector(
            name: "get-vanilla-query-unreserved", method: "GET", query: [(unreserved, unreserved)], headers: [host], body: "",
            canonicalRequest:
                "GET\n/\n\(unreserved)=\(unreserved)\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign:
                "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nc30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
            signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
            signedHeaders: "host;x-amz-date"
        ),
        Vector(
            name: "get-vanilla-utf8-query", method: "GET", query: [("\u{1234}", "bar")], headers: [host], body: "",
            canonicalRequest: "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign:
                "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\neb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
            signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
            signedHeaders: "host;x-amz-date"
        ),
        Vector(
            name: "post-x-www-form-urlencoded", method: "POST", query: [],
            headers: [("Content-Type", "application/x-www-form-urlencoded"), host], body: "Param1=value1",
            canonicalRequest:
                "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            stringToSign:
                "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            signedHeaders: "content-type;host;x-amz-date"
        ),
    ]

    @Test("canonical request, string to sign and signature match the published example", arguments: vectors)
    func publishedVector(_ vector: Vector) {
        let signed = Self.signer.sign(
            method: vector.method, path: "/", query: vector.query,
            headers: vector.headers.map { (name: $0.0, value: $0.1) }, payload: Array(vector.body.utf8), date: Self.date
        )
        #expect(signed.canonicalRequest == vector.canonicalRequest)
        #expect(signed.stringToSign == vector.stringToSign)
        #expect(signed.signature == vector.signature)
        #expect(signed.signedHeaders == vector.signedHeaders)
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=\(vector.signedHeaders), Signature=\(vector.signature)"
        )
        #expect(signed.headers.contains { $0.name == "X-Amz-Date" && $0.value == "20150830T123600Z" })
    }

    @Test("the query's order does not change the signature; its values do")
    func queryOrder() {
        func signature(_ query: [(String, String)]) -> String {
            Self.signer.sign(method: "GET", query: query, headers: [(name: "Host", value: "example.amazonaws.com")], payload: [], date: Self.date)
                .signature
        }
        #expect(signature([("Param1", "value1"), ("Param2", "value2")]) == signature([("Param2", "value2"), ("Param1", "value1")]))
        #expect(signature([("Param1", "value1")]) != signature([("Param1", "value2")]))
    }

    @Test("signing %-encodes spaces and reserved characters in upper-case hex; form bodies write a space as '+'")
    func encoding() {
        #expect(AWSPercentEncoding.encode("a b+c/d=é~") == "a%20b%2Bc%2Fd%3D%C3%A9~")
        #expect(
            AWSPercentEncoding.formBody([("Action", "DescribeDBInstances"), ("Filter.1.Value", "a&b c+d")])
                == "Action=DescribeDBInstances&Filter.1.Value=a%26b+c%2Bd")
    }

    @Test("a session token is signed as X-Amz-Security-Token and sent; secrets never appear in descriptions")
    func sessionToken() {
        let credentials = AWSCredentials(
            accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "TOKEN-123")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service")
        let signed = signer.sign(method: "GET", headers: [(name: "Host", value: "example.amazonaws.com")], payload: [], date: Self.date)
        #expect(signed.signedHeaders == "host;x-amz-date;x-amz-security-token")
        #expect(signed.canonicalRequest.contains("x-amz-security-token:TOKEN-123\n"))
        #expect(signed.headers.contains { $0.name == "X-Amz-Security-Token" && $0.value == "TOKEN-123" })
        #expect(signed.signature != Self.vectors[0].signature)
        #expect(!String(describing: credentials).contains("EXAMPLEKEY"))
        #expect(!String(describing: credentials).contains("TOKEN-123"))
    }
}
