// HMAC-SHA256 and SHA-256 from OpenSSL's libcrypto (already linked through libcurl).
#ifndef MESHWATCH_CCRYPTO_H
#define MESHWATCH_CCRYPTO_H
#include <stddef.h>

/// Writes the 32-byte HMAC-SHA256 of `data` under `key` to `out`; returns 0 on success.
int mw_hmac_sha256(const void *key, size_t key_length, const void *data, size_t data_length, unsigned char out[32]);

/// Writes the 32-byte SHA-256 of `data` to `out`.
void mw_sha256(const void *data, size_t data_length, unsigned char out[32]);

/// Checks `password` against a crypt(3) hash (bcrypt `$2b$`/`$2y$`, yescrypt `$y$`, SHA-512
/// `$6$`, as `htpasswd -B` or `mkpasswd` write them) with libcrypt; 1 when it matches, 0 when
/// not, -1 when the hash is not one libcrypt knows. Compared in constant time.
int mw_crypt_verify(const char *password, const char *hash);

/// Hashes `password` as bcrypt with cost `cost` (a fresh salt); writes at most `size` bytes of
/// the NUL-terminated hash to `out`; 0 on success.
int mw_crypt_bcrypt(const char *password, int cost, char *out, size_t size);

#endif
