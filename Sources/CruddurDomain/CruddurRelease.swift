/// This build's release: `cruddur --version`, the start-up log line, the OpenAPI document's `info.version` and the
/// container image's tag.
public enum CruddurRelease {
    public static let version = "0.9.0"
}
