import Foundation
@testable import MeshHTTP
import Testing

/// The byte-level paths every query takes: form escaping and header lines.
@Suite("form escaping and header lines, on bytes")
struct WireFormatTests {
    @Test("form fields: unreserved bytes as they are, everything else %XX in capitals, multi-byte UTF-8 byte by byte")
    func formEscape() {
        #expect(HTTPRequest.formEscape("rate(x[5m]) > 0.05") == "rate%28x%5B5m%5D%29%20%3E%200.05")
        #expect(HTTPRequest.formEscape("aZ09-._~") == "aZ09-._~")
        #expect(HTTPRequest.formEscape("a=b&c+d%e#f?g/h") == "a%3Db%26c%2Bd%25e%23f%3Fg%2Fh")
        #expect(HTTPRequest.formEscape("é😀\n\"") == "%C3%A9%F0%9F%98%80%0A%22")
        #expect(HTTPRequest.formEscape("") == "")
        // Round trip through Foundation's decoder.
        let text = "sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter=\"destination\"}[5m])) — ü"
        #expect(HTTPRequest.formEscape(text).removingPercentEncoding == text)
    }

    @Test("header lines: trimmed of spaces, tabs, CR and LF; the first colon splits; a status line starts over; non-ASCII kept")
    func headerLines() throws {
        let transfer = CurlTransfer(request: HTTPRequest(url: "http://127.0.0.1:1/"), settings: CurlSettings(connectTimeoutMillis: 1000, timeoutMillis: 1000, tls: .init(), proxy: ProxySettings(),
                                                                     basicAuth: nil, headers: [], userAgent: "test"), endpoint: "test",
                                    maxResponseBytes: 1024, secrets: [])
        func feed(_ line: String) { Array(line.utf8).withUnsafeBytes { transfer.receiveHeaderLine($0) } }
        feed("HTTP/1.1 100 Continue\r\n")
        feed("X-Early: dropped\r\n")
        feed("HTTP/1.1 200 OK\r\n")
        feed("Content-Type: application/json\r\n")
        feed("  X-Spaced \t:\t  a value with spaces  \r\n")
        feed("Location: http://example.com:8080/path?q=1\r\n")
        feed("X-Empty:\r\n")
        feed("X-Name: Ünïcødé\r\n")
        feed("no colon here\r\n")
        feed("\r\n")
        #expect(transfer.headers.map(\.name) == ["Content-Type", "X-Spaced", "Location", "X-Empty", "X-Name"])
        #expect(transfer.headers.map(\.value) == ["application/json", "a value with spaces", "http://example.com:8080/path?q=1", "", "Ünïcødé"])
    }
}

@Suite("Response headers found by name, ASCII case folded only")
struct ResponseHeaderTests {
    @Test("the last header of that name, whatever the ASCII case; a non-ASCII letter is never folded to an ASCII one")
    func headerByName() {
        let response = HTTPResponse(status: 503, headers: [("retry-after", "5"), ("X-Other", "1"), ("RETRY-AFTER", "7"),
                                                           ("\u{212A}eep-Alive", "timeout=5"), ("Content-Lengt", "3")],
                                    body: [], endpoint: "http://127.0.0.1/")
        #expect(response.header("Retry-After") == "7")
        #expect(response.header("x-other") == "1")
        // U+212A KELVIN SIGN folds to "k" in Unicode's case folding; field names are ASCII tokens.
        #expect(response.header("Keep-Alive") == nil)
        #expect(response.header("keep-alive") == nil)
        #expect(response.header("Content-Length") == nil)
        #expect(response.header("Content-Lengt\u{0301}") == nil)
        #expect(response.header("") == nil)
        #expect(HTTPResponse.sameFieldName("", ""))
        #expect(HTTPResponse.sameFieldName("a-Z", "A-z"))
        #expect(!HTTPResponse.sameFieldName("[", "{"))  // 0x5B | 0x20 is 0x7B: only letters fold
        #expect(!HTTPResponse.sameFieldName("@", "`"))
    }
}
