import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A long-running child process started with `posix_spawn` and reaped with `waitpid`: the detached reaper and the
/// tests' server processes (commands that run to completion use swift-subprocess, through ``CommandRunner``).
///
/// Foundation's `Process` can miss a child's exit when no run loop runs (it is then left a zombie and
/// `waitUntilExit` never returns); swift-subprocess runs a command to completion inside one call, while these
/// processes outlive the call that starts them (the reaper detaches with `setsid -f`, a test server is signalled).
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `argv` with stdin from /dev/null and stdout and stderr appended to `outputPath` (or /dev/null);
    /// with `inheritingTerminal`, the child shares this process's standard streams instead (e.g. `psql`).
    public init(
        _ argv: [String], environment: [String: String]? = nil, directory: String? = nil, outputPath: String? = nil,
        inheritingTerminal: Bool = false
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if !inheritingTerminal {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Nothing else of ours reaches the child: an inherited database socket kept a session open for as long as
        // the (long-lived) reaper ran, and a listening socket would keep the port. (glibc ignores a close action for
        // a descriptor closed meanwhile; `addclosefrom_np` is not visible to Swift.)
        for descriptor in Self.openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP] { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        // Start in another folder through the shell's `cd`: posix_spawn has no portable chdir action.
        let argv = directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + argv } ?? argv
        let environment = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var childPID: pid_t = 0
        let result = withCStrings(argv) { arguments in
            withCStrings(environment) { environmentPointers in
                posix_spawn(&childPID, argv[0], &actions, &attributes, arguments, environmentPointers)
            }
        }
        guard result == 0 else {
            throw LocalClusterError.commandFailed(command: argv[0], status: -1, output: "cannot start it: \(String(cString: strerror(result)))")
        }
        pid = childPID
    }

    /// This process's open file descriptors, from `/proc/self/fd`.
    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    /// Blocks until the child exits; returns its exit status (128 + signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        while true {
            if let status = poll(block: true) { return status }
        }
    }

    /// The exit status if the child has exited, else nil (never blocks).
    public var exitCode: Int32? { poll(block: false) }

    /// Polls until the child exits or `timeout` passes.
    public func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitCode { return status }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return exitCode
    }

    public func signal(_ signal: Int32) {
        if exitCode == nil { kill(pid, signal) }
    }

    private func poll(block: Bool) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, block ? 0 : WNOHANG)
        if result == pid {
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            exitStatus = code
            return code
        }
        if result == -1 && errno != EINTR {
            exitStatus = -1
            return -1
        }
        return nil
    }

    deinit {
        if poll(block: false) == nil {
            kill(pid, SIGKILL)
            _ = poll(block: true)
        }
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer {
        for pointer in pointers { free(pointer) }
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
