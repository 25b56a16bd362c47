import AsyncHTTPClient
import Foundation

/// This machine's public IP address as AWS's checkip service sees it (what `curl ifconfig.me` did in the seed).
public enum PublicAddress {
    public static let service = "https://checkip.amazonaws.com/"

    public static func detect(timeout: Int64 = 10) async throws -> String {
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: service), timeout: .seconds(timeout))
            guard response.status == .ok else {
                throw AWSError.unexpectedResponse(service: "checkip", action: "GET", reason: "HTTP \(response.status.code)")
            }
            let body = try await response.body.collect(upTo: 1024)
            return String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch let error as AWSError {
            throw error
        } catch {
            throw AWSError.unreachable(service: "checkip", action: "GET", endpoint: service, reason: String(describing: error))
        }
    }
}
