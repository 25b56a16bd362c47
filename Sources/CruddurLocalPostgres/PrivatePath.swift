import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The checks every folder and file of the cluster manager passes before it is used, so that nobody else can make
/// it (root, especially) follow a planted symbolic link or use a folder they prepared: not a symbolic link, of the
/// expected kind, owned by the expected user, and writable by nobody else.
enum PrivatePath {
    /// Creates `path` with `mode` owned by `owner` when it is missing, then checks it (an existing one included).
    static func ensureDirectory(_ path: String, owner: uid_t, group: gid_t? = nil, mode: mode_t) throws {
        if mkdir(path, mode) == 0 {
            // mkdir applies the umask; the folder is new, so nobody else can have replaced it in between.
            guard chmod(path, mode) == 0, owner == geteuid() || chown(path, owner, group ?? gid_t.max) == 0 else {
                throw LocalClusterError.cannotWrite(path)
            }
        } else if errno != EEXIST {
            throw LocalClusterError.cannotWrite(path)
        }
        try verify(path, owner: owner, kind: S_IFDIR)
    }

    /// Refuses `path` unless it is a real (not symbolically linked) file of `kind`, owned by `owner`, that neither its
    /// group nor others can write to; a sticky folder (like /tmp) is accepted as a parent only.
    static func verify(_ path: String, owner: uid_t, kind: mode_t) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw LocalClusterError.unsafePath(path, "it cannot be examined (errno \(errno))") }
        try check(status, path: path, owner: owner, kind: kind)
    }

    /// The same checks on an opened file (after `open(…, O_NOFOLLOW)`).
    static func verify(descriptor: Int32, path: String, owner: uid_t, kind: mode_t) throws {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw LocalClusterError.unsafePath(path, "it cannot be examined (errno \(errno))") }
        try check(status, path: path, owner: owner, kind: kind)
    }

    /// Creates or opens the file `path` (never through a symbolic link), hands a new one to `owner`, checks it, and
    /// writes `contents`: replacing what is there when `replacing`, else leaving it (a log file: `contents` nil).
    static func writeFile(_ path: String, contents: Data?, owner: uid_t, group: gid_t, replacing: Bool = false) throws {
        let descriptor = try openChecked(path, flags: O_WRONLY | O_CREAT, owner: owner, group: group)
        defer { close(descriptor) }
        if replacing, ftruncate(descriptor, 0) != 0 { throw LocalClusterError.cannotWrite(path) }
        if let contents { try write(contents, to: descriptor, path: path) }
    }

    /// Appends `contents` to the existing file `path`, which must be `owner`'s.
    static func appendFile(_ path: String, contents: Data, owner: uid_t) throws {
        let descriptor = try openChecked(path, flags: O_WRONLY | O_APPEND, owner: owner, group: nil)
        defer { close(descriptor) }
        try write(contents, to: descriptor, path: path)
    }

    private static func openChecked(_ path: String, flags: Int32, owner: uid_t, group: gid_t?) throws -> Int32 {
        let descriptor = open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw errno == ELOOP ? LocalClusterError.unsafePath(path, "it is a symbolic link") : LocalClusterError.cannotWrite(path)
        }
        var status = stat()
        // A file we have just created (ours while it should be the server's) is handed over; anyone else's is refused below.
        if fstat(descriptor, &status) == 0, status.st_uid == geteuid(), owner != geteuid(), let group {
            guard fchown(descriptor, owner, group) == 0 else {
                close(descriptor)
                throw LocalClusterError.cannotWrite(path)
            }
        }
        do {
            try verify(descriptor: descriptor, path: path, owner: owner, kind: S_IFREG)
        } catch {
            close(descriptor)
            throw error
        }
        return descriptor
    }

    private static func write(_ contents: Data, to descriptor: Int32, path: String) throws {
        let written = contents.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == contents.count else { throw LocalClusterError.cannotWrite(path) }
    }

    /// Refuses a parent folder that others can write to, unless it is sticky (others cannot then replace our entries).
    static func verifyParent(of path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        var status = stat()
        guard stat(parent, &status) == 0 else { throw LocalClusterError.unsafePath(parent, "it cannot be examined (errno \(errno))") }
        let sticky = status.st_mode & S_ISVTX != 0
        guard status.st_mode & 0o022 == 0 || sticky else {
            throw LocalClusterError.unsafePath(parent, "other users can write to it, so they could replace the cluster's folder")
        }
    }

    private static func check(_ status: stat, path: String, owner: uid_t, kind: mode_t) throws {
        let type = status.st_mode & S_IFMT
        if type == S_IFLNK { throw LocalClusterError.unsafePath(path, "it is a symbolic link") }
        guard type == kind else { throw LocalClusterError.unsafePath(path, kind == S_IFDIR ? "it is not a folder" : "it is not a regular file") }
        guard status.st_uid == owner else {
            throw LocalClusterError.unsafePath(path, "it belongs to uid \(status.st_uid), not \(owner)")
        }
        guard status.st_mode & 0o022 == 0 else { throw LocalClusterError.unsafePath(path, "its group or other users can write to it") }
    }
}
