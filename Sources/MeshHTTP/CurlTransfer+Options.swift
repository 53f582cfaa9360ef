import CCurl

/// Per-transfer settings, resolved by `HTTPClient` before the transfer reaches the loop
/// (so the bearer token file is read on the caller's side, not on the loop thread).
struct CurlSettings: Sendable {
    var connectTimeoutMillis: Int
    var timeoutMillis: Int
    var tls: HTTPClientConfiguration.TLS
    var proxy: ProxySettings
    var basicAuth: (username: String, password: String)?
    var headers: [String]
    var userAgent: String
}

extension CurlTransfer {
    /// Sets every option of this transfer on a fresh or reset easy handle.
    func configure(_ easy: UnsafeMutableRawPointer) -> CURLcode {
        var result = CURLE_OK
        func long(_ option: CURLoption, _ value: Int) {
            if result == CURLE_OK { result = mw_curl_easy_setopt_long(easy, option, value) }
        }
        func string(_ option: CURLoption, _ value: String) {
            if result == CURLE_OK { result = mw_curl_easy_setopt_string(easy, option, value) }
        }
        let selfPointer = Unmanaged.passUnretained(self).toOpaque()

        string(CURLOPT_URL, request.url)
        string(CURLOPT_PROTOCOLS_STR, "http,https")
        long(CURLOPT_NOSIGNAL, 1)
        long(CURLOPT_FOLLOWLOCATION, 0)
        long(CURLOPT_TCP_KEEPALIVE, 1)
        string(CURLOPT_ACCEPT_ENCODING, "")  // every encoding libcurl can decode
        string(CURLOPT_USERAGENT, settings.userAgent)
        long(CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMillis)
        long(CURLOPT_TIMEOUT_MS, settings.timeoutMillis)
        if result == CURLE_OK {
            result = mw_curl_easy_setopt_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maxResponseBytes))
        }
        if result == CURLE_OK { result = mw_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer) }

        switch request.method {
        case .get: long(CURLOPT_HTTPGET, 1)
        case .head: long(CURLOPT_NOBODY, 1)
        case .post: long(CURLOPT_POST, 1)
        case .put, .patch, .delete: string(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }
        if let body = request.body {
            if result == CURLE_OK {
                result = mw_curl_easy_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            }
            if result == CURLE_OK {
                result = body.withUnsafeBytes { bytes in
                    // COPYPOSTFIELDS copies the bytes; an empty body still needs a valid pointer.
                    mw_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS,
                                                UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(selfPointer)))
                }
            }
        }

        let tls = settings.tls
        if let caFile = tls.caFile { string(CURLOPT_CAINFO, caFile) }
        if let certificateFile = tls.certificateFile { string(CURLOPT_SSLCERT, certificateFile) }
        if let keyFile = tls.keyFile { string(CURLOPT_SSLKEY, keyFile) }
        if tls.insecureSkipVerify {
            long(CURLOPT_SSL_VERIFYPEER, 0)
            long(CURLOPT_SSL_VERIFYHOST, 0)
        }
        // Always set, so libcurl never falls back to reading proxy variables itself.
        string(CURLOPT_PROXY, settings.proxy.proxy(for: request.url) ?? "")
        if let noProxy = settings.proxy.noProxy { string(CURLOPT_NOPROXY, noProxy) }
        if let basic = settings.basicAuth {
            long(CURLOPT_HTTPAUTH, 1)  // CURLAUTH_BASIC
            string(CURLOPT_USERNAME, basic.username)
            string(CURLOPT_PASSWORD, basic.password)
        }

        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        // An empty `Expect:` stops libcurl from waiting for `100 Continue` on larger bodies.
        for header in settings.headers + ["Expect:"] {
            headerList = curl_slist_append(headerList, header)
        }
        if result == CURLE_OK { result = mw_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList) }

        let onBody: mw_curl_data_callback = { pointer, size, count, context in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            return transfer.receive(UnsafeRawBufferPointer(start: pointer, count: length)) ? length : 0
        }
        let onHeader: mw_curl_data_callback = { pointer, size, count, context in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: pointer, count: length))
            return length
        }
        if result == CURLE_OK { result = mw_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, onBody) }
        if result == CURLE_OK { result = mw_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, selfPointer) }
        if result == CURLE_OK { result = mw_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, onHeader) }
        if result == CURLE_OK { result = mw_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, selfPointer) }
        return result
    }
}
