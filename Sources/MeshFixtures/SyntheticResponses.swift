import Foundation

/// Prometheus query responses made up for the benchmark and the differential tests, in the
/// exact shape Prometheus writes (labels sorted, timestamps in seconds with millisecond
/// decimals, values as Go float strings).
public enum SyntheticResponses {
    /// An instant-vector response with `series` Istio request-rate series, about 220 bytes
    /// each: 10,000 of them is what a 1,000-service mesh answers. `exotic` mixes in escapes,
    /// non-ASCII label values and every special value, for differential tests.
    public static func vector(series: Int, seed: UInt64 = 1, exotic: Bool = false) -> [UInt8] {
        var random = SplitMix(seed: seed)
        var out = #"{"status":"success","data":{"resultType":"vector","result":["#
        out.reserveCapacity(series * 240)
        for index in 0..<series {
            if index > 0 { out += "," }
            out += #"{"metric":"# + metric(index: index, random: &random, exotic: exotic)
            out += #","value":["# + timestamp(&random) + #",""# + value(&random, exotic: exotic) + #""]}"#
        }
        out += "]}"
        if exotic && random.next() % 2 == 0 { out += #","warnings":["partial data: remote read failed"]"# }
        out += "}"
        return Array(out.utf8)
    }

    /// A range-vector response with `series` series of `points` samples each.
    public static func matrix(series: Int, points: Int, seed: UInt64 = 1, exotic: Bool = false) -> [UInt8] {
        var random = SplitMix(seed: seed)
        var out = #"{"status":"success","data":{"resultType":"matrix","result":["#
        for index in 0..<series {
            if index > 0 { out += "," }
            out += #"{"metric":"# + metric(index: index, random: &random, exotic: exotic) + #","values":["#
            let start = 1_700_000_000 + Int(random.next() % 1000)
            for point in 0..<points {
                if point > 0 { out += "," }
                out += "[\(start + point * 15),\"\(value(&random, exotic: exotic))\"]"
            }
            out += "]}"
        }
        out += "]}}"
        return Array(out.utf8)
    }

    private static func metric(index: Int, random: inout SplitMix, exotic: Bool) -> String {
        let service = "svc-\(index % 1000)"
        let namespace = "team-\(index % 37)"
        let code = ["200", "200", "200", "404", "503", "500"][Int(random.next() % 6)]
        var labels = [
            ("destination_service", "\(service).\(namespace).svc.cluster.local"),
            ("destination_workload", service),
            ("destination_workload_namespace", namespace),
            ("reporter", "destination"),
            ("response_code", code),
        ]
        if exotic {
            let odd = ["quote\"d", "back\\slash", "new\nline", "tab\there", "ünïcødé", "emoji 🚀", "ctl\u{01}", "slash/ok", ""]
            labels.append(("note", odd[Int(random.next() % UInt64(odd.count))]))
            if random.next() % 3 == 0 { labels.append(("__name__", "istio_requests_total")) }
        }
        labels.sort { $0.0 < $1.0 }
        return "{" + labels.map { "\"\($0.0)\":\(jsonString($0.1))" }.joined(separator: ",") + "}"
    }

    private static func timestamp(_ random: inout SplitMix) -> String {
        let millis = random.next() % 1000
        if millis % 10 == 0 { return "\(1_700_000_000 + Int(random.next() % 100))" }
        let fraction = String(millis)
        return "\(1_700_000_000 + Int(random.next() % 100)).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    private static func value(_ random: inout SplitMix, exotic: Bool) -> String {
        let pick = random.next() % (exotic ? 10 : 6)
        let unit = Double(random.next() % 1_000_000_007) / 1_000_000_007
        switch pick {
        case 0: return String(random.next() % 100_000)
        case 1, 2: return String(unit)  // shortest round-trip form, up to 17 digits
        case 3: return String(unit * 1e6)
        case 4: return String(format: "%.4f", unit * 100)
        case 5: return "0"
        case 6: return "NaN"
        case 7: return "+Inf"
        case 8: return "-Inf"
        default: return String(unit * 1e-12)  // exponent form
        }
    }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            case "🚀": out += "\\ud83d\\ude80"  // a surrogate pair, as some encoders write it
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A small deterministic generator, so fixtures are the same on every run (and a randomised
/// test can be replayed from its seed).
public struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
