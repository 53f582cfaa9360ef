import CCurl
import Foundation
import Synchronization

/// One request in flight: its easy handle, the bytes received so far and the continuation
/// that hands the result back to the awaiting task.
///
/// `@unchecked Sendable`: the buffers and the handle are touched only by the loop thread
/// (and by libcurl's callbacks, which run on that thread inside `curl_multi_perform`);
/// the cancellation flag and the continuation are guarded by mutexes.
final class CurlTransfer: @unchecked Sendable {
    let request: HTTPRequest
    let settings: CurlSettings
    let endpoint: String
    let maxResponseBytes: Int
    /// Strings that must never show in an error message.
    let secrets: [String]

    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    var status = 0
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    var exceededLimit = false

    private let cancelled = Atomic<Bool>(false)
    private let continuation = Mutex<CheckedContinuation<HTTPResponse, any Error>?>(nil)

    init(request: HTTPRequest, settings: CurlSettings, endpoint: String, maxResponseBytes: Int, secrets: [String]) {
        self.request = request
        self.settings = settings
        self.endpoint = endpoint
        self.maxResponseBytes = maxResponseBytes
        self.secrets = secrets
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
    func markCancelled() { cancelled.store(true, ordering: .releasing) }

    func setContinuation(_ continuation: CheckedContinuation<HTTPResponse, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    /// Resumes the waiting task once; later calls do nothing.
    func finish(_ result: Result<HTTPResponse, any Error>) {
        let waiting = continuation.withLock { current -> CheckedContinuation<HTTPResponse, any Error>? in
            defer { current = nil }
            return current
        }
        waiting?.resume(with: result)
    }

    // MARK: libcurl callbacks (loop thread)

    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if body.count + bytes.count > maxResponseBytes {
            exceededLimit = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// One header line as libcurl hands it over, parsed on its bytes (HTTP's whitespace is ASCII:
    /// going through Foundation's trimming was a quarter of a cycle's instructions).
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        let line = Self.trimmed(bytes.assumingMemoryBound(to: UInt8.self))
        if line.starts(with: "HTTP/".utf8) {
            // A new response starts (after `100 Continue`, or through a proxy's CONNECT).
            headers.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = Self.trimmed(UnsafeBufferPointer(rebasing: line[..<colon]))
        let value = Self.trimmed(UnsafeBufferPointer(rebasing: line[(colon + 1)...]))
        headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    /// Without leading and trailing spaces, tabs, CR and LF.
    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> Slice<UnsafeBufferPointer<UInt8>> {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end && isSpace(bytes[start]) { start += 1 }
        while end > start && isSpace(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }

    // MARK: Outcome

    /// Turns libcurl's result code into a response or a typed error.
    func outcome(code: CURLcode, osErrno: Int) -> Result<HTTPResponse, any Error> {
        if code == CURLE_OK {
            return .success(HTTPResponse(status: status, headers: headers, body: body, endpoint: endpoint))
        }
        let detail = errorBuffer.pointee == 0
            ? String(cString: curl_easy_strerror(code))
            : String(cString: errorBuffer)
        let message = Redaction.scrub(detail, secrets: secrets)
        func error(_ kind: HTTPError.Kind, _ text: String = message) -> Result<HTTPResponse, any Error> {
            .failure(HTTPError(kind: kind, endpoint: endpoint, message: text))
        }
        switch code {
        case CURLE_WRITE_ERROR where exceededLimit, CURLE_FILESIZE_EXCEEDED:
            return error(.tooLarge, "response exceeds the limit of \(maxResponseBytes) bytes")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return error(.dns)
        case CURLE_COULDNT_CONNECT:
            return error(osErrno == Int(ECONNREFUSED) ? .connectionRefused : .connectionFailed)
        case CURLE_OPERATION_TIMEDOUT:
            return error(.timeout)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE,
             CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
             CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED, CURLE_USE_SSL_FAILED,
             CURLE_SSL_CLIENTCERT, CURLE_SSL_INVALIDCERTSTATUS:
            return error(.tls)
        case CURLE_RECV_ERROR where detail.contains("SSL"), CURLE_SEND_ERROR where detail.contains("SSL"):
            // TLS 1.3 servers refuse a missing client certificate after the handshake, as an
            // alert that libcurl reports as a read error.
            return error(.tls)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return error(.invalidRequest)
        default:
            return error(.transport)
        }
    }
}
