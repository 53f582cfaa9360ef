import CCurl
import Foundation
import Synchronization

/// Drives libcurl's multi interface on a thread of its own, so that no Swift task ever
/// blocks the cooperative pool on network I/O.
///
/// Tasks hand transfers in through a mutex-guarded inbox and wake the loop with
/// `curl_multi_wakeup` (thread-safe by libcurl's contract). The multi handle keeps the
/// connection cache, so connections are reused across requests; finished easy handles are
/// reset and kept for the next request.
///
/// `@unchecked Sendable`: `multi`, `active` and `idleHandles` are touched only by the loop
/// thread; the inbox is behind a `Mutex`.
final class CurlMultiLoop: @unchecked Sendable {
    private struct Inbox {
        var submissions: [CurlTransfer] = []
        var cancellations: [CurlTransfer] = []
        var stopping = false
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())
    private let maxIdleHandles: Int
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private var idleHandles: [UnsafeMutableRawPointer] = []
    private let stopped = DispatchSemaphore(value: 0)

    static let globalInit: Void = { _ = curl_global_init(3) }()  // CURL_GLOBAL_SSL | CURL_GLOBAL_WIN32

    init(name: String, maxIdleHandles: Int) {
        _ = Self.globalInit
        guard let multi = curl_multi_init() else {
            // Only fails when out of memory; there is nothing sensible to continue with.
            preconditionFailure("curl_multi_init failed")
        }
        self.multi = multi
        self.maxIdleHandles = maxIdleHandles
        let thread = Thread { [self] in
            // Named for ps, top and /proc (Foundation's name does not reach the OS thread here).
            _ = mw_set_thread_name(String(name.prefix(15)))
            run()
        }
        thread.name = name
        thread.start()
    }

    /// The longest the loop sleeps with nothing to do (milliseconds): an hour.
    static let idleWait: Int32 = 3_600_000

    func submit(_ transfer: CurlTransfer) {
        inbox.withLock { $0.submissions.append(transfer) }
        curl_multi_wakeup(multi)
    }

    func cancel(_ transfer: CurlTransfer) {
        transfer.markCancelled()
        inbox.withLock { $0.cancellations.append(transfer) }
        curl_multi_wakeup(multi)
    }

    /// Fails every transfer still in flight, ends the thread and frees libcurl's handles.
    func stop() {
        let alreadyStopping = inbox.withLock { inbox -> Bool in
            defer { inbox.stopping = true }
            return inbox.stopping
        }
        guard !alreadyStopping else { return }
        curl_multi_wakeup(multi)
        stopped.wait()
    }

    // MARK: Loop thread

    private func run() {
        while true {
            let (submissions, cancellations, stopping) = inbox.withLock { inbox in
                defer { inbox.submissions.removeAll(); inbox.cancellations.removeAll() }
                return (inbox.submissions, inbox.cancellations, inbox.stopping)
            }
            for transfer in submissions { start(transfer) }
            for transfer in cancellations { abort(transfer, with: CancellationError()) }
            if stopping {
                for transfer in Array(active.values) {
                    abort(transfer, with: HTTPError(kind: .transport, endpoint: transfer.endpoint,
                                                    message: "HTTP client shut down"))
                }
                break
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            collectFinished()
            // Sleeps until a socket is ready, a timeout of libcurl's own is due (libcurl lowers the
            // wait to it), or a wakeup (every submission, cancellation and stop sends one, and a
            // wakeup sent before the poll starts still ends it). Idle, the thread does not wake:
            // no timer of its own.
            curl_multi_poll(multi, nil, 0, Self.idleWait, nil)
        }
        for easy in idleHandles { curl_easy_cleanup(easy) }
        idleHandles.removeAll()
        curl_multi_cleanup(multi)
        stopped.signal()
    }

    private func start(_ transfer: CurlTransfer) {
        if transfer.isCancelled {
            transfer.finish(.failure(CancellationError()))
            return
        }
        guard let easy = idleHandles.popLast() ?? curl_easy_init() else {
            transfer.finish(.failure(HTTPError(kind: .transport, endpoint: transfer.endpoint,
                                               message: "curl_easy_init failed")))
            return
        }
        transfer.easy = easy
        let code = transfer.configure(easy)
        guard code == CURLE_OK else {
            release(easy, of: transfer)
            transfer.finish(transfer.outcome(code: code, osErrno: 0))
            return
        }
        active[easy] = transfer
        curl_multi_add_handle(multi, easy)
    }

    private func abort(_ transfer: CurlTransfer, with error: any Error) {
        // Only a transfer still running as itself: its handle may already serve another
        // transfer when the cancellation arrives after it finished.
        guard let easy = transfer.easy, active[easy] === transfer else { return }
        active[easy] = nil
        curl_multi_remove_handle(multi, easy)
        release(easy, of: transfer)
        transfer.finish(.failure(error))
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                  let transfer = active.removeValue(forKey: easy) else { continue }
            let code = message.pointee.data.result
            var status = 0
            var osErrno = 0
            _ = mw_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            _ = mw_curl_easy_getinfo_long(easy, CURLINFO_OS_ERRNO, &osErrno)
            transfer.status = status
            curl_multi_remove_handle(multi, easy)
            release(easy, of: transfer)
            transfer.finish(transfer.outcome(code: code, osErrno: osErrno))
        }
    }

    /// Takes the handle from its transfer (which no longer refers to it) and keeps it for
    /// reuse, up to `maxIdleHandles`.
    private func release(_ easy: UnsafeMutableRawPointer, of transfer: CurlTransfer) {
        transfer.easy = nil
        if idleHandles.count < maxIdleHandles {
            curl_easy_reset(easy)
            idleHandles.append(easy)
        } else {
            curl_easy_cleanup(easy)
        }
    }
}
