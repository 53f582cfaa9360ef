import AlertEngine
import MeshPacks
import Remediation

/// Which packs run, with which values: the configuration's `packs`, or `--pack` and `--set`.
/// A pack is built in (istio, linkerd, cilium) or a file the configuration names; either may
/// remediate, as the configuration chose to load it (step 8's opt-in).
package enum PackSelection {
    struct Problem: Error, CustomStringConvertible {
        /// Below `packs.NAME`, when one key is to blame.
        var keyPath: String?
        var message: String
        var description: String { message }
    }

    static var known: String { RulePack.builtInNames.joined(separator: ", ") }

    /// One configured pack with its values.
    static func expand(name: String, _ pack: Configuration.Pack) throws(Problem) -> RulePack.Expanded {
        let rulePack: RulePack
        if let path = pack.file {
            guard RulePack.builtIn(name) == nil else {
                throw Problem(keyPath: "file", message: "\"\(name)\" is a built-in pack: give your own pack another name")
            }
            do { rulePack = try RulePack.load(path: path) } catch { throw Problem(keyPath: "file", message: "\(error)") }
            guard rulePack.name == name else {
                throw Problem(keyPath: "file", message: "the file is pack \"\(rulePack.name)\", not \"\(name)\"")
            }
        } else {
            guard let builtIn = RulePack.builtIn(name) else {
                throw Problem(keyPath: nil, message: "unknown pack (built in: \(known); a pack of your own needs file)")
            }
            rulePack = builtIn
        }
        var values = rulePack.defaults
        for (key, text) in (pack.parameters ?? [:]).sorted(by: { $0.key < $1.key }) {
            do { try values.set(key, to: text) } catch { throw Problem(keyPath: "parameters.\(key)", message: "\(error)") }
        }
        do { return try rulePack.expanded(with: values) } catch { throw Problem(keyPath: pack.file == nil ? nil : "file", message: "\(error)") }
    }

    /// Built-in packs named on the command line, each `--set key=value` going to the packs that
    /// have that key (a key none has is an error).
    static func fromFlags(_ names: [String], settings: [(key: String, value: String)]) throws(Problem) -> [RulePack.Expanded] {
        var packs: [RulePack] = []
        for name in names {
            guard let pack = RulePack.builtIn(name) else { throw Problem(message: "--pack: unknown pack \"\(name)\" (known: \(known))") }
            if !packs.contains(where: { $0.name == name }) { packs.append(pack) }
        }
        for setting in settings where !packs.contains(where: { $0.defaults[setting.key] != nil }) {
            throw Problem(message: "--set \(setting.key): no pack loaded has this parameter")
        }
        var expanded: [RulePack.Expanded] = []
        for pack in packs {
            var values = pack.defaults
            for setting in settings where values[setting.key] != nil {
                do { try values.set(setting.key, to: setting.value) } catch { throw Problem(message: "pack \(pack.name): \(error)") }
            }
            do { expanded.append(try pack.expanded(with: values)) } catch { throw Problem(message: "pack \(pack.name): \(error)") }
        }
        return expanded
    }

    /// The configuration's enabled packs, in name order.
    static func fromConfiguration(_ configuration: Configuration) throws(Problem) -> [RulePack.Expanded] {
        var expanded: [RulePack.Expanded] = []
        for (name, pack) in (configuration.packs ?? [:]).sorted(by: { $0.key < $1.key }) where pack.enabled ?? true {
            do { expanded.append(try expand(name: name, pack)) } catch {
                throw Problem(keyPath: error.keyPath, message: "packs.\(name)\(error.keyPath.map { "." + $0 } ?? ""): \(error.message)")
            }
        }
        return expanded
    }

    /// Every runbook: the built-in packs' (with the configuration's values where it sets them),
    /// those of the packs it names by file, then its own `runbooks`, which replace a pack's.
    static func runbookCatalog(_ configuration: Configuration) -> [String: Runbook] {
        var base: [Runbook] = []
        for pack in RulePack.builtInPacks {
            let configured = configuration.packs?[pack.name].flatMap { try? expand(name: pack.name, $0) }
            base += (configured ?? (try? pack.expanded(with: pack.defaults)))?.runbooks ?? []
        }
        for (name, pack) in (configuration.packs ?? [:]).sorted(by: { $0.key < $1.key }) where pack.file != nil {
            base += (try? expand(name: name, pack))?.runbooks ?? []
        }
        return Runbook.catalog(base, definitions: configuration.runbooks?.definitions ?? [])
    }

    /// The built-in packs' runbooks with their defaults.
    package static var builtInRunbooks: [Runbook] {
        RulePack.builtInPacks.flatMap { (try? $0.expanded(with: $0.defaults))?.runbooks ?? [] }
    }
}
