import Foundation
import PromQL

/// Loads rule files the way Prometheus's `rule_files` does: each path a file or a glob
/// (`rules/*.yml`), and, for convenience, a directory meaning its `*.yml` and `*.yaml`.
public enum RuleFileLoader {
    public static func load(paths: [String], syntax: Syntax = .prometheus2,
                            recordingRules: RecordingRulePolicy = .evaluate) throws(RuleFileError) -> LoadedRules {
        var files: [String] = []
        var problems: [RuleFileError.Problem] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted().map { path + "/" + $0 }
            } else if path.contains(where: { "*?[".contains($0) }) {
                let matches = glob(path)
                if matches.isEmpty { problems.append(.init(file: path, location: "", message: "the pattern matches no file")) }
                files += matches
            } else if FileManager.default.fileExists(atPath: path) {
                files.append(path)
            } else {
                problems.append(.init(file: path, location: "", message: "no such file"))
            }
        }
        var loaded = LoadedRules(groups: [], warnings: [])
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                problems.append(.init(file: file, location: "", message: "cannot be read"))
                continue
            }
            do {
                let rules = try RuleFileParser.parse(String(decoding: data, as: UTF8.self), file: file, syntax: syntax,
                                                     recordingRules: recordingRules)
                loaded.groups += rules.groups
                loaded.warnings += rules.warnings
            } catch {
                problems += error.problems
            }
        }
        guard problems.isEmpty else { throw RuleFileError(problems: problems) }
        return loaded
    }

    /// Paths matching a shell pattern, sorted, as Go's `filepath.Glob`.
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}
