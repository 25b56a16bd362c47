import CruddurDatabase
import Logging
import ServiceLifecycle

/// Deletes expired activities (and idempotency keys past 24 hours) in small batches in the background,
/// so the table holds live posts only.
struct ExpiryPurger: Service {
    let activities: ActivityRepository
    let interval: Duration
    let batchSize: Int
    let logger: Logger
    var metrics: ServerMetrics? = nil

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await purgeOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Deletes batches until fewer than a full batch remain.
    func purgeOnce() async {
        var total = 0
        do {
            while !Task.isCancelled {
                let deleted = try await activities.purgeExpired(batchSize: batchSize)
                total += deleted
                if deleted < batchSize { break }
            }
        } catch  where !Task.isCancelled {
            logger.warning("Purging expired activities failed", metadata: ["error": "\(error)"])
        } catch {
            return
        }
        metrics?.purgeRan(deleted: total)
        if total > 0 {
            logger.debug("Purged expired activities", metadata: ["count": "\(total)"])
        }
        await purgeStaleIdempotencyKeys()
    }

    /// Idempotency keys are kept for 24 hours.
    func purgeStaleIdempotencyKeys() async {
        do {
            while !Task.isCancelled {
                if try await activities.purgeStaleIdempotencyKeys(batchSize: batchSize) < batchSize { break }
            }
        } catch  where !Task.isCancelled {
            logger.warning("Purging idempotency keys failed", metadata: ["error": "\(error)"])
        } catch {
            return
        }
    }
}
