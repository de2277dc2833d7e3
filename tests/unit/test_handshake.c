/*
 * test_handshake.c - nonces, proofs and key parsing of protocol section 2
 * (proto/handshake.c), and the authkey file reader every program shares
 * (proto/keyfile.c).
 *
 * The proofs are checked against HMAC-SHA256 computed here, independently,
 * with OpenSSL's one-shot HMAC() over the exact bytes the protocol names:
 * the ASCII label without a terminator, then the two nonces in the order of
 * that label. One vector is also written out in hex, computed outside C, so
 * that a shared misunderstanding of the label bytes cannot go unnoticed.
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag_keyfile.h"
#include "ag_proto.h"
#include "unit.h"

static const char test_key[] = "agora test key, 32 bytes long!!!";

/* cnonce = 00 01 .. 1f, snonce = 80 81 .. 9f */
static void fixed_nonces(uint8_t cnonce[AG_NONCE_LEN],
			 uint8_t snonce[AG_NONCE_LEN])
{
	for (int i = 0; i < AG_NONCE_LEN; i++) {
		cnonce[i] = (uint8_t)i;
		snonce[i] = (uint8_t)(0x80 + i);
	}
}

/* HMAC-SHA256(key, label || first || second), computed with OpenSSL. */
static void reference_proof(const void *key, size_t keylen, const char *label,
			    const uint8_t first[AG_NONCE_LEN],
			    const uint8_t second[AG_NONCE_LEN],
			    uint8_t out[AG_PROOF_LEN])
{
	uint8_t msg[64 + 2 * AG_NONCE_LEN];
	size_t ll = strlen(label);
	unsigned int outlen = 0;

	ck_assert_uint_le(ll, 64);
	memcpy(msg, label, ll);
	memcpy(msg + ll, first, AG_NONCE_LEN);
	memcpy(msg + ll + AG_NONCE_LEN, second, AG_NONCE_LEN);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)keylen, msg,
				   ll + 2 * AG_NONCE_LEN, out, &outlen));
	ck_assert_uint_eq(outlen, AG_PROOF_LEN);
}

static void from_hex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* ---- proofs -------------------------------------------------------------- */

START_TEST(labels_are_the_protocol_bytes)
{
	ck_assert_str_eq(AG_LABEL_SERVER, "agora-v1 server");
	ck_assert_str_eq(AG_LABEL_CLIENT, "agora-v1 client");
	ck_assert_int_eq(AG_NONCE_LEN, 32);
	ck_assert_int_eq(AG_PROOF_LEN, 32);
}
END_TEST

START_TEST(server_proof_matches_the_written_out_vector)
{
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN], got[AG_PROOF_LEN],
	    want[AG_PROOF_LEN];

	fixed_nonces(c, s);
	from_hex("4d5ad876f240f5d5b6f17678c2aee6a4"
		 "df916e75304285cb376b00c56bf157f0",
		 want, sizeof(want));
	ck_assert_int_eq(ag_server_proof(test_key, strlen(test_key), c, s, got),
			 0);
	ck_assert_mem_eq(got, want, AG_PROOF_LEN);
}
END_TEST

START_TEST(client_proof_matches_the_written_out_vector)
{
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN], got[AG_PROOF_LEN],
	    want[AG_PROOF_LEN];

	fixed_nonces(c, s);
	from_hex("625b4894047ec56a33fe19c9905f57c7"
		 "e08552f62c8e17e31c000671c84b9d4f",
		 want, sizeof(want));
	ck_assert_int_eq(ag_client_proof(test_key, strlen(test_key), s, c, got),
			 0);
	ck_assert_mem_eq(got, want, AG_PROOF_LEN);
}
END_TEST

/* Protocol section 2.1's vector: the proofs bound to a TLS channel. */
START_TEST(bound_proofs_match_the_written_out_vector)
{
	static const char der[] = "DER bytes of the server certificate";
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN], cb[AG_BINDING_LEN],
	    got[AG_PROOF_LEN], want[AG_PROOF_LEN], plain[AG_PROOF_LEN];

	fixed_nonces(c, s);
	ck_assert_int_eq(ag_tls_binding(der, strlen(der), cb), 0);
	from_hex("bb43950a0b37f25cf538b4c89336f43f"
		 "69c707465691616a4f7195ba92c1dfd3",
		 want, sizeof(want));
	ck_assert_mem_eq(cb, want, AG_BINDING_LEN);
	ck_assert_int_eq(ag_server_proof_bound(test_key, strlen(test_key), c, s,
					       cb, sizeof(cb), got),
			 0);
	from_hex("70af3181e933a2f83bb5600cbb92d383"
		 "c1a88a5ae60a162e591863a95e9d6289",
		 want, sizeof(want));
	ck_assert_mem_eq(got, want, AG_PROOF_LEN);
	ck_assert_int_eq(ag_client_proof_bound(test_key, strlen(test_key), s, c,
					       cb, sizeof(cb), got),
			 0);
	from_hex("40f2efa6cf9cbf446e440cedc6a0214c"
		 "fa9141bc0b72d36d225c608a0233e331",
		 want, sizeof(want));
	ck_assert_mem_eq(got, want, AG_PROOF_LEN);
	/* No channel: the plain proofs; a binding of another length is
	 * refused. */
	ck_assert_int_eq(ag_server_proof_bound(test_key, strlen(test_key), c, s,
					       NULL, 0, got),
			 0);
	ck_assert_int_eq(
	    ag_server_proof(test_key, strlen(test_key), c, s, plain), 0);
	ck_assert_mem_eq(got, plain, AG_PROOF_LEN);
	ck_assert_int_eq(ag_server_proof_bound(test_key, strlen(test_key), c, s,
					       cb, 20, got),
			 AGORA_EINVAL);
}
END_TEST

/* Keys of several lengths, including longer than SHA-256's 64-byte block. */
static const size_t key_lens[] = { 1, 16, 32, 64, 65, 200 };

START_TEST(server_proof_is_hmac_of_label_cnonce_snonce)
{
	uint8_t key[200], c[AG_NONCE_LEN], s[AG_NONCE_LEN];
	uint8_t got[AG_PROOF_LEN], want[AG_PROOF_LEN];
	size_t keylen = key_lens[_i];

	for (size_t i = 0; i < keylen; i++)
		key[i] = (uint8_t)(i * 31 + 7);
	for (int i = 0; i < AG_NONCE_LEN; i++) {
		c[i] = (uint8_t)(0xa5 ^ i);
		s[i] = (uint8_t)(0x3c + 3 * i);
	}
	reference_proof(key, keylen, "agora-v1 server", c, s, want);
	ck_assert_int_eq(ag_server_proof(key, keylen, c, s, got), 0);
	ck_assert_mem_eq(got, want, AG_PROOF_LEN);
}
END_TEST

START_TEST(client_proof_is_hmac_of_label_snonce_cnonce)
{
	uint8_t key[200], c[AG_NONCE_LEN], s[AG_NONCE_LEN];
	uint8_t got[AG_PROOF_LEN], want[AG_PROOF_LEN];
	size_t keylen = key_lens[_i];

	for (size_t i = 0; i < keylen; i++)
		key[i] = (uint8_t)(i * 17 + 3);
	for (int i = 0; i < AG_NONCE_LEN; i++) {
		c[i] = (uint8_t)(0x5a ^ i);
		s[i] = (uint8_t)(0xc3 - 5 * i);
	}
	reference_proof(key, keylen, "agora-v1 client", s, c, want);
	ck_assert_int_eq(ag_client_proof(key, keylen, s, c, got), 0);
	ck_assert_mem_eq(got, want, AG_PROOF_LEN);
}
END_TEST

START_TEST(proofs_with_fresh_nonces_match_the_reference)
{
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN];
	uint8_t got[AG_PROOF_LEN], want[AG_PROOF_LEN];

	ck_assert_int_eq(ag_nonce(c), 0);
	ck_assert_int_eq(ag_nonce(s), 0);
	reference_proof(test_key, strlen(test_key), AG_LABEL_SERVER, c, s,
			want);
	ck_assert_int_eq(ag_server_proof(test_key, strlen(test_key), c, s, got),
			 0);
	ck_assert_mem_eq(got, want, AG_PROOF_LEN);
	reference_proof(test_key, strlen(test_key), AG_LABEL_CLIENT, s, c,
			want);
	ck_assert_int_eq(ag_client_proof(test_key, strlen(test_key), s, c, got),
			 0);
	ck_assert_mem_eq(got, want, AG_PROOF_LEN);
}
END_TEST

START_TEST(server_and_client_proofs_differ_for_the_same_nonces)
{
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN];
	uint8_t sp[AG_PROOF_LEN], cp[AG_PROOF_LEN];

	fixed_nonces(c, s);
	ck_assert_int_eq(ag_server_proof(test_key, strlen(test_key), c, s, sp),
			 0);
	ck_assert_int_eq(ag_client_proof(test_key, strlen(test_key), s, c, cp),
			 0);
	ck_assert_mem_ne(sp, cp, AG_PROOF_LEN);

	/* Even with the nonce order made the same, the label keeps them apart
	 */
	memcpy(s, c, AG_NONCE_LEN);
	ck_assert_int_eq(ag_server_proof(test_key, strlen(test_key), c, s, sp),
			 0);
	ck_assert_int_eq(ag_client_proof(test_key, strlen(test_key), s, c, cp),
			 0);
	ck_assert_mem_ne(sp, cp, AG_PROOF_LEN);
}
END_TEST

START_TEST(swapping_the_nonces_changes_the_proof)
{
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN];
	uint8_t a[AG_PROOF_LEN], b[AG_PROOF_LEN];

	fixed_nonces(c, s);
	ck_assert_int_eq(ag_server_proof(test_key, strlen(test_key), c, s, a),
			 0);
	ck_assert_int_eq(ag_server_proof(test_key, strlen(test_key), s, c, b),
			 0);
	ck_assert_mem_ne(a, b, AG_PROOF_LEN);
}
END_TEST

/* ---- constant-time comparison -------------------------------------------- */

START_TEST(proof_equal_accepts_the_same_proof)
{
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN], p[AG_PROOF_LEN],
	    copy[AG_PROOF_LEN];

	fixed_nonces(c, s);
	ck_assert_int_eq(ag_client_proof(test_key, strlen(test_key), s, c, p),
			 0);
	memcpy(copy, p, sizeof(copy));
	ck_assert(ag_proof_equal(copy, sizeof(copy), p));
}
END_TEST

START_TEST(proof_equal_refuses_a_one_bit_tamper_anywhere)
{
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN], p[AG_PROOF_LEN],
	    bad[AG_PROOF_LEN];

	fixed_nonces(c, s);
	ck_assert_int_eq(ag_client_proof(test_key, strlen(test_key), s, c, p),
			 0);
	for (int byte = 0; byte < AG_PROOF_LEN; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, p, sizeof(bad));
			bad[byte] ^= (uint8_t)(1u << bit);
			ck_assert_msg(!ag_proof_equal(bad, sizeof(bad), p),
				      "flip of bit %d in byte %d accepted", bit,
				      byte);
		}
	}
}
END_TEST

START_TEST(proof_equal_refuses_the_proof_of_a_wrong_key)
{
	static const char other[] = "agora test key, 32 bytes long!!?";
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN], p[AG_PROOF_LEN],
	    q[AG_PROOF_LEN];

	fixed_nonces(c, s);
	ck_assert_int_eq(ag_client_proof(test_key, strlen(test_key), s, c, p),
			 0);
	ck_assert_int_eq(ag_client_proof(other, strlen(other), s, c, q), 0);
	ck_assert(!ag_proof_equal(q, sizeof(q), p));
}
END_TEST

START_TEST(proof_equal_refuses_the_wrong_length)
{
	uint8_t c[AG_NONCE_LEN], s[AG_NONCE_LEN], p[AG_PROOF_LEN];
	uint8_t longer[AG_PROOF_LEN + 1];

	fixed_nonces(c, s);
	ck_assert_int_eq(ag_client_proof(test_key, strlen(test_key), s, c, p),
			 0);
	memcpy(longer, p, AG_PROOF_LEN);
	longer[AG_PROOF_LEN] = 0;
	ck_assert(!ag_proof_equal(p, AG_PROOF_LEN - 1, p));
	ck_assert(!ag_proof_equal(longer, sizeof(longer), p));
	ck_assert(!ag_proof_equal(p, 0, p));
	ck_assert(!ag_proof_equal(p, 16, p));
}
END_TEST

/* ---- nonces -------------------------------------------------------------- */

START_TEST(nonces_differ_from_call_to_call)
{
	uint8_t n[8][AG_NONCE_LEN];
	static const uint8_t zero[AG_NONCE_LEN];

	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(ag_nonce(n[i]), 0);
		ck_assert_mem_ne(n[i], zero, AG_NONCE_LEN);
		for (int j = 0; j < i; j++)
			ck_assert_mem_ne(n[i], n[j], AG_NONCE_LEN);
	}
}
END_TEST

START_TEST(nonce_fills_all_32_bytes)
{
	/* Each byte position must take more than one value over 16 draws. */
	uint8_t first[AG_NONCE_LEN], n[AG_NONCE_LEN];
	bool changed[AG_NONCE_LEN] = { false };

	ck_assert_int_eq(ag_nonce(first), 0);
	for (int k = 0; k < 16; k++) {
		ck_assert_int_eq(ag_nonce(n), 0);
		for (int i = 0; i < AG_NONCE_LEN; i++)
			changed[i] = changed[i] || n[i] != first[i];
	}
	for (int i = 0; i < AG_NONCE_LEN; i++)
		ck_assert_msg(changed[i], "nonce byte %d never changed", i);
}
END_TEST

/* ---- authkey files ------------------------------------------------------- */

START_TEST(key_trim_drops_one_trailing_newline)
{
	ck_assert_uint_eq(ag_key_trim("secret\n", 7), 6);
}
END_TEST

START_TEST(key_trim_drops_only_one_of_two_newlines)
{
	ck_assert_uint_eq(ag_key_trim("secret\n\n", 8), 7);
}
END_TEST

START_TEST(key_trim_keeps_a_key_without_newline)
{
	ck_assert_uint_eq(ag_key_trim("secret", 6), 6);
	ck_assert_uint_eq(ag_key_trim("", 0), 0);
}
END_TEST

START_TEST(key_trim_keeps_other_whitespace_and_inner_newlines)
{
	ck_assert_uint_eq(ag_key_trim("sec\nret ", 8), 8);
	ck_assert_uint_eq(ag_key_trim("secret\t", 7), 7);
	ck_assert_uint_eq(ag_key_trim("\n", 1), 0);
}
END_TEST

START_TEST(key_trim_handles_binary_keys)
{
	static const char bin[] = { '\0', '\x80', '\n', '\xff', '\n' };

	ck_assert_uint_eq(ag_key_trim(bin, sizeof(bin)), 4);
	ck_assert_uint_eq(ag_key_trim(bin, 4), 4);
}
END_TEST

/* ---- the key file reader -------------------------------------------------
 *
 * Each test writes its file in a fresh private directory, removed after.
 */

static char kdir[64], kpath[96];

static void keydir_setup(void)
{
	snprintf(kdir, sizeof(kdir), "/tmp/agora-keyfile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(kdir));
	snprintf(kpath, sizeof(kpath), "%s/key", kdir);
}

static void keydir_teardown(void)
{
	unlink(kpath);
	rmdir(kdir);
}

/* Write @len bytes of @data to kpath with @mode. */
static void write_key(const void *data, size_t len, mode_t mode)
{
	int fd = open(kpath, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* ag_keyfile_read(kpath, @flags) that must fail with @want, and say @says. */
static void refused(unsigned flags, int want, const char *says)
{
	uint8_t *key = (uint8_t *)"untouched";
	size_t len = 7;
	char err[256] = "";

	ck_assert_int_eq(
	    ag_keyfile_read(kpath, flags, &key, &len, err, sizeof(err)), want);
	ck_assert_str_eq((char *)key, "untouched");
	ck_assert_uint_eq(len, 7);
	ck_assert_msg(strstr(err, says) != NULL, "\"%s\" lacks \"%s\"", err,
		      says);
	ck_assert_msg(strstr(err, kpath) != NULL, "\"%s\" lacks the path", err);
}

START_TEST(keyfile_gives_the_bytes_less_one_newline)
{
	uint8_t *key = NULL;
	size_t len = 0;
	char err[256];

	write_key("a key of more than sixteen bytes\n\n", 34, 0600);
	ck_assert_int_eq(ag_keyfile_read(kpath, AG_KEYFILE_SERVER, &key, &len,
					 err, sizeof(err)),
			 0);
	ck_assert_uint_eq(len, 33);
	ck_assert_int_eq(memcmp(key, "a key of more than sixteen bytes\n", 33),
			 0);
	ag_keyfile_free(key, len);
}
END_TEST

START_TEST(keyfile_takes_4096_bytes_and_refuses_4097)
{
	static uint8_t big[AG_KEYFILE_MAX + 1];
	uint8_t *key = NULL;
	size_t len = 0;
	char err[256];

	memset(big, 'k', sizeof(big));
	ck_assert_uint_eq(AG_KEYFILE_MAX, 4096);
	write_key(big, AG_KEYFILE_MAX, 0600);
	ck_assert_int_eq(
	    ag_keyfile_read(kpath, 0, &key, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, AG_KEYFILE_MAX);
	ag_keyfile_free(key, len);
	write_key(big, sizeof(big), 0600);
	refused(0, AGORA_EIO, "larger than 4096 bytes");
	refused(AG_KEYFILE_SERVER, AGORA_EIO, "larger than 4096 bytes");
}
END_TEST

START_TEST(keyfile_refuses_an_empty_key)
{
	write_key("\n", 1, 0600);
	refused(0, AGORA_EINVAL, "is empty");
	write_key("", 0, 0600);
	refused(AG_KEYFILE_SERVER, AGORA_EINVAL, "is empty");
}
END_TEST

START_TEST(keyfile_refuses_what_is_not_a_regular_file)
{
	ck_assert_int_eq(mkfifo(kpath, 0600), 0);
	/* No writer: a reader that waited would hang here. */
	refused(0, AGORA_EIO, "not a regular file");
	unlink(kpath);
	ck_assert_int_eq(mkdir(kpath, 0700), 0);
	refused(0, AGORA_EIO, "not a regular file");
	rmdir(kpath);
	refused(0, AGORA_EIO, "cannot read");
}
END_TEST

START_TEST(keyfile_open_to_others_is_refused_for_the_server_only)
{
	uint8_t *key = NULL;
	size_t len = 0;
	char err[256];

	write_key("a key of more than sixteen bytes", 32, 0640);
	refused(AG_KEYFILE_SERVER, AGORA_EIO, "chmod 600");
	ck_assert_int_eq(
	    ag_keyfile_read(kpath, 0, &key, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 32);
	ag_keyfile_free(key, len);
}
END_TEST

START_TEST(keyfile_short_key_is_refused_for_the_server_only)
{
	uint8_t *key = NULL;
	size_t len = 0;
	char err[256];

	write_key("fifteen bytes!!\n", 16, 0600);
	refused(AG_KEYFILE_SERVER, AGORA_EINVAL, "at least 16");
	ck_assert_int_eq(
	    ag_keyfile_read(kpath, 0, &key, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 15);
	ag_keyfile_free(key, len);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *handshake_suite(void)
{
	Suite *s = suite_create("handshake");
	TCase *tc;
	int nkeys = (int)(sizeof(key_lens) / sizeof(key_lens[0]));

	tc = tcase_create("proofs");
	tcase_add_test(tc, labels_are_the_protocol_bytes);
	tcase_add_test(tc, server_proof_matches_the_written_out_vector);
	tcase_add_test(tc, client_proof_matches_the_written_out_vector);
	tcase_add_test(tc, bound_proofs_match_the_written_out_vector);
	tcase_add_loop_test(tc, server_proof_is_hmac_of_label_cnonce_snonce, 0,
			    nkeys);
	tcase_add_loop_test(tc, client_proof_is_hmac_of_label_snonce_cnonce, 0,
			    nkeys);
	tcase_add_test(tc, proofs_with_fresh_nonces_match_the_reference);
	tcase_add_test(tc, server_and_client_proofs_differ_for_the_same_nonces);
	tcase_add_test(tc, swapping_the_nonces_changes_the_proof);
	suite_add_tcase(s, tc);

	tc = tcase_create("constant-time comparison");
	tcase_add_test(tc, proof_equal_accepts_the_same_proof);
	tcase_add_test(tc, proof_equal_refuses_a_one_bit_tamper_anywhere);
	tcase_add_test(tc, proof_equal_refuses_the_proof_of_a_wrong_key);
	tcase_add_test(tc, proof_equal_refuses_the_wrong_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("nonces");
	tcase_add_test(tc, nonces_differ_from_call_to_call);
	tcase_add_test(tc, nonce_fills_all_32_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("authkey files");
	tcase_add_test(tc, key_trim_drops_one_trailing_newline);
	tcase_add_test(tc, key_trim_drops_only_one_of_two_newlines);
	tcase_add_test(tc, key_trim_keeps_a_key_without_newline);
	tcase_add_test(tc, key_trim_keeps_other_whitespace_and_inner_newlines);
	tcase_add_test(tc, key_trim_handles_binary_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("the key file reader");
	tcase_add_checked_fixture(tc, keydir_setup, keydir_teardown);
	tcase_add_test(tc, keyfile_gives_the_bytes_less_one_newline);
	tcase_add_test(tc, keyfile_takes_4096_bytes_and_refuses_4097);
	tcase_add_test(tc, keyfile_refuses_an_empty_key);
	tcase_add_test(tc, keyfile_refuses_what_is_not_a_regular_file);
	tcase_add_test(tc,
		       keyfile_open_to_others_is_refused_for_the_server_only);
	tcase_add_test(tc, keyfile_short_key_is_refused_for_the_server_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(handshake_suite());
}
