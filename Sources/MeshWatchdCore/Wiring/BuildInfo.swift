import Foundation

/// What this build is, for `--version`, `/metrics` and the logs.
package enum BuildInfo {
    package static let version = "0.1.0"
    /// The commit and branch built, when the build was told (`MESHWATCHD_REVISION`, `MESHWATCHD_BRANCH` at run time, else unknown).
    package static let revision = ProcessInfo.processInfo.environment["MESHWATCHD_REVISION"] ?? "unknown"
    package static let branch = ProcessInfo.processInfo.environment["MESHWATCHD_BRANCH"] ?? "unknown"
    #if swift(>=6.3)
    package static let swiftVersion = "6.3"
    #elseif swift(>=6.2)
    package static let swiftVersion = "6.2"
    #elseif swift(>=6.1)
    package static let swiftVersion = "6.1"
    #else
    package static let swiftVersion = "6.0"
    #endif
}
