/// What this build is, for `--version`, `/metrics` and the logs.
package enum BuildInfo {
    package static let version = "0.1.0"
}
