import Foundation

/// An AWS shared configuration file (`~/.aws/credentials` or `~/.aws/config`): INI sections of `key = value` lines.
struct ProfileFile {
    /// Settings by section name as written (`default`, `profile cruddur`, `cruddur`); keys lower-cased.
    let sections: [String: [String: String]]
    let path: String

    /// Reads the file; a missing file is an empty one.
    static func load(_ path: String) throws -> ProfileFile {
        guard FileManager.default.fileExists(atPath: path) else { return ProfileFile(sections: [:], path: path) }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AWSError.configuration("cannot read \(path) as UTF-8 text")
        }
        return ProfileFile(parsing: text, path: path)
    }

    init(sections: [String: [String: String]], path: String) {
        self.sections = sections
        self.path = path
    }

    init(parsing text: String, path: String) {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            // Nested sub-settings (indented lines, e.g. under `s3 =`) are not ours: only top-level keys count.
            guard let section = current, !rawLine.hasPrefix(" "), !rawLine.hasPrefix("\t"),
                let equals = line.firstIndex(of: "=")
            else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        self.sections = sections
        self.path = path
    }

    /// The credentials file names sections plainly (`[cruddur]`).
    func credentialsSection(_ profile: String) -> [String: String]? {
        sections[profile]
    }

    /// The config file names them `[profile cruddur]`, except `[default]`.
    func configSection(_ profile: String) -> [String: String]? {
        profile == "default" ? (sections["default"] ?? sections["profile default"]) : sections["profile \(profile)"]
    }
}
