// HMAC-SHA256 and SHA-256 from OpenSSL's libcrypto (already linked through libcurl).
#ifndef MESHWATCH_CCRYPTO_H
#define MESHWATCH_CCRYPTO_H
#include <stddef.h>

/// Writes the 32-byte HMAC-SHA256 of `data` under `key` to `out`; returns 0 on success.
int mw_hmac_sha256(const void *key, size_t key_length, const void *data, size_t data_length, unsigned char out[32]);

/// Writes the 32-byte SHA-256 of `data` to `out`.
void mw_sha256(const void *data, size_t data_length, unsigned char out[32]);

#endif
