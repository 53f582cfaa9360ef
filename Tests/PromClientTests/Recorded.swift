import Foundation
import MeshHTTP

/// A response recorded from Prometheus 2.42 (or written by hand where noted by `hand-`):
/// its body and HTTP status, from `Resources/NAME.json` and `NAME.status`.
struct Recorded {
    let name: String
    let body: [UInt8]
    let status: Int

    init(_ name: String) throws {
        guard let body = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Resources"),
              let status = Bundle.module.url(forResource: name, withExtension: "status", subdirectory: "Resources") else {
            throw CocoaError(.fileNoSuchFile)
        }
        self.name = name
        self.body = Array(try Data(contentsOf: body))
        self.status = Int(try String(contentsOf: status, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    static var all: [String] {
        guard case let directory = Bundle.module.bundleURL.appendingPathComponent("Resources"),
              let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    var response: HTTPResponse {
        HTTPResponse(status: status, headers: [], body: body, endpoint: "http://prometheus.test/api/v1/query")
    }
}
