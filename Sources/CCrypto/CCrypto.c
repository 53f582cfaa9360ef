#include <crypt.h>
#include <string.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include "CCrypto.h"

int mw_hmac_sha256(const void *key, size_t key_length, const void *data, size_t data_length, unsigned char out[32]) {
    unsigned int length = 0;
    // An empty key still needs a valid pointer.
    static const unsigned char empty = 0;
    unsigned char *result = HMAC(EVP_sha256(), key_length ? key : &empty, (int)key_length,
                                 (const unsigned char *)data, data_length, out, &length);
    return result != NULL && length == 32 ? 0 : -1;
}

void mw_sha256(const void *data, size_t data_length, unsigned char out[32]) {
    SHA256((const unsigned char *)data, data_length, out);
}

int mw_crypt_verify(const char *password, const char *hash) {
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    const char *computed = crypt_r(password, hash, &data);
    // libxcrypt answers an unknown or malformed setting with "*0" or "*1" (never a valid hash).
    if (computed == NULL || computed[0] == '*') return -1;
    size_t length = strlen(hash);
    if (strlen(computed) != length || length == 0) return 0;
    unsigned char difference = 0;
    for (size_t i = 0; i < length; i++) difference |= (unsigned char)(computed[i] ^ hash[i]);
    return difference == 0 ? 1 : 0;
}

int mw_crypt_bcrypt(const char *password, int cost, char *out, size_t size) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, setting, sizeof setting) == NULL) return -1;
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    const char *computed = crypt_r(password, setting, &data);
    if (computed == NULL || computed[0] == '*' || strlen(computed) + 1 > size) return -1;
    memcpy(out, computed, strlen(computed) + 1);
    return 0;
}
