/*
 * A FIDO security key stand-in for the real OpenSSH client (ssh-keygen -w, ssh -o
 * SecurityKeyProvider=): there is no authenticator on a test machine, as there is none in
 * OpenSSH's own regress tests. It implements OpenSSH's middleware API (sk-api.h, API version
 * 0x000a0000 as in OpenSSH 9.x) with OpenSSL and signs what an authenticator signs
 * (PROTOCOL.u2f): SHA256(application) || flags || counter (big-endian) || SHA256(data).
 *
 * The key handle holds the private key (DER): any file with it can sign, so it is for tests only.
 * BURROW_SK_FLAGS (decimal) sets the flags the "authenticator" reports: 1 = user present (a
 * touch), 5 = present and verified (PIN), 0 = no touch. Default 1.
 */
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSH_SK_ECDSA 0x00
#define SSH_SK_ED25519 0x01
#define SSH_SK_ERR_GENERAL -1
#define SSH_SK_ERR_UNSUPPORTED -2

struct sk_enroll_response {
	uint8_t flags;
	uint8_t *public_key;
	size_t public_key_len;
	uint8_t *key_handle;
	size_t key_handle_len;
	uint8_t *signature;
	size_t signature_len;
	uint8_t *attestation_cert;
	size_t attestation_cert_len;
	uint8_t *authdata;
	size_t authdata_len;
};

struct sk_sign_response {
	uint8_t flags;
	uint32_t counter;
	uint8_t *sig_r;
	size_t sig_r_len;
	uint8_t *sig_s;
	size_t sig_s_len;
};

struct sk_resident_key;
struct sk_option;

static uint32_t counter = 41;

uint32_t sk_api_version(void) { return 0x000a0000; }

static uint8_t reported_flags(void) {
	const char *f = getenv("BURROW_SK_FLAGS");
	return f ? (uint8_t)atoi(f) : 0x01;
}

static uint8_t *copy(const uint8_t *p, size_t n) {
	uint8_t *c = malloc(n ? n : 1);
	if (c) memcpy(c, p, n);
	return c;
}

int sk_enroll(uint32_t alg, const uint8_t *challenge, size_t challenge_len, const char *application,
    uint8_t flags, const char *pin, struct sk_option **options, struct sk_enroll_response **out) {
	(void)challenge; (void)challenge_len; (void)application; (void)pin; (void)options;
	EVP_PKEY *key = NULL;
	uint8_t pub[65];
	size_t pub_len = sizeof(pub);
	if (alg == SSH_SK_ECDSA) key = EVP_EC_gen("P-256");
	else if (alg == SSH_SK_ED25519) key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else return SSH_SK_ERR_UNSUPPORTED;
	if (!key) return SSH_SK_ERR_GENERAL;
	int ok = alg == SSH_SK_ECDSA
	    ? EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", pub, sizeof(pub), &pub_len)
	    : EVP_PKEY_get_raw_public_key(key, pub, &pub_len);
	uint8_t *der = NULL;
	int der_len = i2d_PrivateKey(key, &der);
	EVP_PKEY_free(key);
	struct sk_enroll_response *r = calloc(1, sizeof(*r));
	if (!ok || der_len <= 0 || !r) return SSH_SK_ERR_GENERAL;
	r->flags = flags;
	r->public_key = copy(pub, pub_len);
	r->public_key_len = pub_len;
	r->key_handle = copy(der, (size_t)der_len);
	r->key_handle_len = (size_t)der_len;
	OPENSSL_free(der);
	*out = r;
	return 0;
}

static uint8_t *bn_bytes(const BIGNUM *bn, size_t *len) {
	*len = (size_t)BN_num_bytes(bn);
	uint8_t *p = malloc(*len ? *len : 1);
	if (p) BN_bn2bin(bn, p);
	return p;
}

int sk_sign(uint32_t alg, const uint8_t *data, size_t data_len, const char *application,
    const uint8_t *key_handle, size_t key_handle_len, uint8_t flags, const char *pin,
    struct sk_option **options, struct sk_sign_response **out) {
	(void)flags; (void)pin; (void)options;
	const unsigned char *kh = key_handle;
	EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &kh, (long)key_handle_len);
	if (!key) return SSH_SK_ERR_GENERAL;
	/* what the authenticator signs: authenticator data, then the client data hash */
	uint8_t msg[32 + 1 + 4 + 32];
	uint8_t f = reported_flags();
	uint32_t n = ++counter;
	SHA256((const uint8_t *)application, strlen(application), msg);
	msg[32] = f;
	msg[33] = (uint8_t)(n >> 24); msg[34] = (uint8_t)(n >> 16); msg[35] = (uint8_t)(n >> 8); msg[36] = (uint8_t)n;
	SHA256(data, data_len, msg + 37);
	uint8_t sig[128];
	size_t sig_len = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, alg == SSH_SK_ECDSA ? EVP_sha256() : NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &sig_len, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	struct sk_sign_response *r = calloc(1, sizeof(*r));
	if (!ok || !r) return SSH_SK_ERR_GENERAL;
	r->flags = f;
	r->counter = n;
	if (alg == SSH_SK_ECDSA) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
		if (!es) return SSH_SK_ERR_GENERAL;
		r->sig_r = bn_bytes(ECDSA_SIG_get0_r(es), &r->sig_r_len);
		r->sig_s = bn_bytes(ECDSA_SIG_get0_s(es), &r->sig_s_len);
		ECDSA_SIG_free(es);
	} else {
		r->sig_r = copy(sig, sig_len);
		r->sig_r_len = sig_len;
	}
	*out = r;
	return 0;
}

int sk_load_resident_keys(const char *pin, struct sk_option **options, struct sk_resident_key ***rks, size_t *nrks) {
	(void)pin; (void)options; (void)rks; (void)nrks;
	return SSH_SK_ERR_UNSUPPORTED;
}
