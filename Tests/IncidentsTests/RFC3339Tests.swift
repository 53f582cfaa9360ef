import Foundation
import Incidents
@testable import MetricModel
import Testing

/// The hand-written RFC 3339 against Foundation's ISO8601DateFormatter, which it replaced on the
/// hot paths (every Alertmanager send, every finding).
@Suite("RFC 3339 timestamps: the same text as ISO8601DateFormatter, read back the same")
struct RFC3339Tests {
    /// Dates over 1970–2200 in whole milliseconds (as ticks and timestamps are), with the
    /// calendar's edges: leap days, centuries, the epoch, the ends of months and years.
    static var dates: [Date] {
        var generator = SystemRandomNumberGenerator()
        var dates = (0..<5000).map { _ in Date(timeIntervalSince1970: Double(Int64.random(in: 0...7_258_118_400_000, using: &generator)) / 1000) }
        for text in ["1970-01-01T00:00:00Z", "1972-02-29T23:59:59Z", "2000-02-29T12:00:00Z", "2000-03-01T00:00:00Z", "2100-02-28T23:59:59Z",
                     "2100-03-01T00:00:00Z", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z", "2026-12-05T10:57:11Z", "2199-12-31T23:59:59Z"] {
            let date = try! #require(ISO8601DateFormatter().date(from: text))
            dates += [date, date.addingTimeInterval(0.001), date.addingTimeInterval(0.999), date.addingTimeInterval(0.5)]
        }
        return dates
    }

    static var fractionalFormatter: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }

    @Test("writes what ISO8601DateFormatter writes, with and without milliseconds; years beyond four digits at the ends")
    func writesTheSame() throws {
        let plain = ISO8601DateFormatter()
        let fractional = Self.fractionalFormatter
        let fractionalFormatter = fractional
        for date in Self.dates {
            #expect(RFC3339.string(date) == plain.string(from: date))
            #expect(RFC3339.string(date, .milliseconds) == fractional.string(from: date))
            #expect(Finding.timestamp(date) == fractional.string(from: date))
        }
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1_796_467_031.388), .millisecondsUnlessWhole) == "2026-12-05T10:37:11.388Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1_796_467_031), .millisecondsUnlessWhole) == "2026-12-05T10:37:11Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1_796_467_031.388123), .microseconds) == "2026-12-05T10:37:11.388123Z")
        // Before the epoch the fraction still counts forward within its second.
        #expect(RFC3339.string(Date(timeIntervalSince1970: -0.25), .milliseconds) == "1969-12-31T23:59:59.750Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: .nan)) == "0001-01-01T00:00:00Z")
        // Four-digit years to the end (there a Double holds time to ~30 µs, so the half second):
        // a silence ending in 9950 is written as 9950 and read back,
        // one past 9999 (a duration of a million years) as 9999's last instant, never as year 1.
        let late = try! #require(RFC3339.date("9950-06-01T12:00:00.500Z"))
        #expect(RFC3339.string(late, .milliseconds) == "9950-06-01T12:00:00.500Z")
        #expect(Finding.timestamp(late) == fractionalFormatter.string(from: late))
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1e15), .milliseconds) == "9999-12-31T23:59:59.999Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: .infinity)) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: -1e15)) == "0001-01-01T00:00:00Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: -.infinity)) == "0001-01-01T00:00:00Z")
        #expect(RFC3339.string(RFC3339.date("0001-01-01T00:00:01Z")!) == "0001-01-01T00:00:01Z")
    }

    @Test("reads back every text it writes, and offsets and fractions as ISO8601DateFormatter does")
    func readsTheSame() {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for date in Self.dates {
            let text = fractional.string(from: date)
            let ours = RFC3339.date(text), theirs = fractional.date(from: text)
            #expect(ours != nil && abs(ours!.timeIntervalSince1970 - theirs!.timeIntervalSince1970) < 0.0005, "\(text)")
        }
        #expect(RFC3339.date("2026-12-05T12:57:11+02:00") == RFC3339.date("2026-12-05T10:57:11Z"))
        #expect(RFC3339.date("2026-12-05T05:27:11-05:30") == RFC3339.date("2026-12-05T10:57:11Z"))
        #expect(RFC3339.date("2026-12-05T10:57:11.123456789Z").map { abs($0.timeIntervalSince1970 - 1_796_468_231.123456789) < 1e-6 } == true)
    }

    @Test("refuses what is not RFC 3339 or out of range", arguments: [
        "", "2026-12-05", "2026-12-05T10:57:11", "2026-12-05 10:57:11Z", "2026-13-05T10:57:11Z", "2026-02-29T10:57:11Z",
        "2026-04-31T10:57:11Z", "2026-12-05T24:00:00Z", "2026-12-05T10:60:11Z", "2026-12-05T10:57:60Z", "2026-12-05T10:57:11.Z",
        "2026-12-05T10:57:11+0200", "2026-12-05T10:57:11Zjunk", "２026-12-05T10:57:11Z", "2026-12-05T10:57:11+25:00",
    ])
    func refuses(_ text: String) {
        #expect(RFC3339.date(text) == nil)
        #expect(Finding.parseTimestamp(text) == nil)
    }

    @Test("the HTTP Date header (RFC 9110 IMF-fixdate) as a POSIX DateFormatter in GMT writes it, weekdays across leap years and centuries")
    func httpDate() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        for date in Self.dates + [Date(timeIntervalSince1970: -1), Date(timeIntervalSince1970: -86_400 * 365 * 300)] {
            // Whole seconds, as `string` writes them (a fraction of .9995 s is the next second's text there too).
            let whole = Date(timeIntervalSince1970: ((date.timeIntervalSince1970 * 1_000_000).rounded() / 1_000_000).rounded(.down))
            #expect(RFC3339.httpDate(date) == formatter.string(from: whole), "\(date.timeIntervalSince1970)")
        }
        #expect(RFC3339.httpDate(Date(timeIntervalSince1970: 784_111_777)) == "Sun, 06 Nov 1994 08:49:37 GMT")  // RFC 9110's example
    }
}
