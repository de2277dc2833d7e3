/*
 * handshake.c - the mutual HMAC-SHA256 proofs of protocol section 2.
 *
 * Both proofs are HMAC-SHA256 over a label and the two nonces; the labels
 * differ so that a server's proof can never be replayed as a client's. The
 * comparison is constant-time (CRYPTO_memcmp).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "ag_proto.h"

int ag_nonce(uint8_t nonce[AG_NONCE_LEN])
{
	return RAND_bytes(nonce, AG_NONCE_LEN) == 1 ? 0 : AGORA_EIO;
}

/* HMAC-SHA256(key, label || first || second || cb), @cb NULL when
 * @cblen is 0 (no TLS channel to bind). */
static int proof(const void *key, size_t keylen, const char *label,
		 const uint8_t first[AG_NONCE_LEN],
		 const uint8_t second[AG_NONCE_LEN], const uint8_t *cb,
		 size_t cblen, uint8_t out[AG_PROOF_LEN])
{
	size_t llen = strlen(label);
	uint8_t msg[64 + 2 * AG_NONCE_LEN + AG_BINDING_LEN];
	unsigned int outlen = 0;

	if (cblen != 0 && cblen != AG_BINDING_LEN)
		return AGORA_EINVAL;
	memcpy(msg, label, llen);
	memcpy(msg + llen, first, AG_NONCE_LEN);
	memcpy(msg + llen + AG_NONCE_LEN, second, AG_NONCE_LEN);
	if (cblen > 0)
		memcpy(msg + llen + 2 * AG_NONCE_LEN, cb, cblen);
	if (HMAC(EVP_sha256(), key, (int)keylen, msg,
		 llen + 2 * AG_NONCE_LEN + cblen, out, &outlen) == NULL ||
	    outlen != AG_PROOF_LEN)
		return AGORA_ENOMEM;
	return 0;
}

int ag_server_proof(const void *key, size_t keylen,
		    const uint8_t cnonce[AG_NONCE_LEN],
		    const uint8_t snonce[AG_NONCE_LEN],
		    uint8_t out[AG_PROOF_LEN])
{
	return proof(key, keylen, AG_LABEL_SERVER, cnonce, snonce, NULL, 0,
		     out);
}

int ag_client_proof(const void *key, size_t keylen,
		    const uint8_t snonce[AG_NONCE_LEN],
		    const uint8_t cnonce[AG_NONCE_LEN],
		    uint8_t out[AG_PROOF_LEN])
{
	return proof(key, keylen, AG_LABEL_CLIENT, snonce, cnonce, NULL, 0,
		     out);
}

int ag_server_proof_bound(const void *key, size_t keylen,
			  const uint8_t cnonce[AG_NONCE_LEN],
			  const uint8_t snonce[AG_NONCE_LEN], const uint8_t *cb,
			  size_t cblen, uint8_t out[AG_PROOF_LEN])
{
	return proof(key, keylen, AG_LABEL_SERVER, cnonce, snonce, cb, cblen,
		     out);
}

int ag_client_proof_bound(const void *key, size_t keylen,
			  const uint8_t snonce[AG_NONCE_LEN],
			  const uint8_t cnonce[AG_NONCE_LEN], const uint8_t *cb,
			  size_t cblen, uint8_t out[AG_PROOF_LEN])
{
	return proof(key, keylen, AG_LABEL_CLIENT, snonce, cnonce, cb, cblen,
		     out);
}

int ag_tls_binding(const void *der, size_t len, uint8_t out[AG_BINDING_LEN])
{
	unsigned int outlen = 0;

	if (EVP_Digest(der, len, out, &outlen, EVP_sha256(), NULL) != 1 ||
	    outlen != AG_BINDING_LEN)
		return AGORA_ENOMEM;
	return 0;
}

bool ag_proof_equal(const void *got, size_t gotlen,
		    const uint8_t want[AG_PROOF_LEN])
{
	if (got == NULL || gotlen != AG_PROOF_LEN)
		return false;
	return CRYPTO_memcmp(got, want, AG_PROOF_LEN) == 0;
}

size_t ag_key_trim(const char *data, size_t len)
{
	if (len > 0 && data[len - 1] == '\n')
		len--;
	return len;
}
