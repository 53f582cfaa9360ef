import Foundation

/// RFC 3339 timestamps in UTC (`2026-12-05T10:57:11.388Z`), written and read by arithmetic.
/// Foundation's `ISO8601DateFormatter` builds an ICU date format each time one is made or its
/// options change, which was a tenth of the daemon's CPU per cycle (every Alertmanager send
/// writes two timestamps, every finding several); this is the same text without it.
public enum RFC3339 {
    public enum Fraction: Sendable {
        /// `…T10:57:11Z`
        case none
        /// `…T10:57:11.388Z`, always three digits (`.000` too).
        case milliseconds
        /// Three digits, none for a whole second.
        case millisecondsUnlessWhole
        /// Up to three digits without trailing zeros, none for a whole second (Go's
        /// `time.Time` in JSON, at millisecond precision).
        case millisecondsTrimmed
        /// Six digits (Kubernetes' MicroTime).
        case microseconds
    }

    /// The first and the last microsecond RFC 3339's four-digit years can write.
    static let firstMicrosecond: Int64 = -62_135_596_800 * 1_000_000
    static let lastMicrosecond: Int64 = 253_402_300_799_999_999

    /// The date in UTC. The fraction is cut, not rounded, after the date is taken to the
    /// nearest microsecond (so a time made from whole milliseconds prints them). A date past
    /// year 9999 is written as its last microsecond (a silence "forever" stays in the future),
    /// one before year 1, or NaN, as year 1's first (Go's zero time).
    public static func string(_ date: Date, _ fraction: Fraction = .none) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let total: Int64
        if micros.isNaN || micros <= Double(firstMicrosecond) {
            total = firstMicrosecond
        } else if micros >= Double(lastMicrosecond) {
            total = lastMicrosecond
        } else {
            total = Int64(micros)
        }
        let (seconds, microsecond) = floorDivide(total, 1_000_000)
        let (days, secondOfDay) = floorDivide(seconds, 86_400)
        let (year, month, day) = civil(fromDays: days)
        var out = ""
        out.reserveCapacity(32)
        append(&out, year, width: 4)
        out += "-"
        append(&out, month, width: 2)
        out += "-"
        append(&out, day, width: 2)
        out += "T"
        append(&out, secondOfDay / 3600, width: 2)
        out += ":"
        append(&out, secondOfDay / 60 % 60, width: 2)
        out += ":"
        append(&out, secondOfDay % 60, width: 2)
        switch fraction {
        case .none: break
        case .milliseconds:
            out += "."
            append(&out, microsecond / 1000, width: 3)
        case .millisecondsUnlessWhole:
            if microsecond / 1000 != 0 {
                out += "."
                append(&out, microsecond / 1000, width: 3)
            }
        case .millisecondsTrimmed:
            var milliseconds = microsecond / 1000, width = 3
            if milliseconds != 0 {
                while milliseconds % 10 == 0 {
                    milliseconds /= 10
                    width -= 1
                }
                out += "."
                append(&out, milliseconds, width: width)
            }
        case .microseconds:
            out += "."
            append(&out, microsecond, width: 6)
        }
        return out + "Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; nil for anything else, or a field out of
    /// range (month 13, 31 April, hour 24, second 60).
    public static func date(_ text: some StringProtocol) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + width] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += width
            return value
        }
        func expect(_ character: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == character else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(0x2D), let month = number(2), expect(0x2D), let day = number(2), expect(0x54),
              let hour = number(2), expect(0x3A), let minute = number(2), expect(0x3A), let second = number(2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24, minute < 60, second < 60 else {
            return nil
        }
        var fraction = 0.0
        if expect(0x2E) {
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= 0x30 && bytes[index] <= 0x39 {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect(0x5A) {
            offset = 0
        } else if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D {
            let sign = bytes[index] == 0x2D ? -1 : 1
            index += 1
            guard let hours = number(2), expect(0x3A), let minutes = number(2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, days since 1970-01-01)

    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// RFC 9110's IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), an HTTP `Date` header: the
    /// fields of `string(date)` (so the same clamping), rearranged; no calendar, no locale.
    public static func httpDate(_ date: Date) -> String {
        let text = Array(string(date).utf8)  // `YYYY-MM-DDTHH:MM:SSZ`
        func number(_ range: Range<Int>) -> Int { text[range].reduce(0) { $0 * 10 + Int($1 - 0x30) } }
        let year = number(0..<4), month = number(5..<7), day = number(8..<10)
        // Sakamoto's day of the week (0 Sunday), proleptic Gregorian as `string` is.
        let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        let weekday = (y + y / 4 - y / 100 + y / 400 + offsets[month - 1] + day) % 7
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return names[weekday] + ", " + String(decoding: text[8..<10], as: UTF8.self) + " " + months[month - 1] + " "
            + String(decoding: text[0..<4], as: UTF8.self) + " " + String(decoding: text[11..<19], as: UTF8.self) + " GMT"
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    private static func append(_ out: inout String, _ value: Int64, width: Int) {
        let digits = String(value)
        if digits.utf8.count < width { out += String(repeating: "0", count: width - digits.utf8.count) }
        out += digits
    }
}
