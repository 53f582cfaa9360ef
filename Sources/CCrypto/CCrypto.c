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
