/*
 * fuzz_handshake.c - libFuzzer target: the handshake state machine of
 * server/conn.c (protocol section 2) on detached connections.
 *
 * Input: a sequence of operations, each a selector byte (taken modulo 8)
 * and its operands:
 *   0 L BYTES   feed L raw bytes (L < 256) to the connection
 *   1 ID X      a valid hello, msgid ID, the client nonce 0x11 ^ X; the
 *               user by X >> 6: none (2 params), "fuzzer" (a user of
 *               the server with its own key, read right, names l*),
 *               "nobody" (unknown: its auth fails), nil (the default)
 *   2 ID        a valid auth, msgid ID: the proof the nonces of the last
 *               valid hello call for (the server's nonce is fixed, see
 *               fuzz_support.h)
 *   3 ID V W    a hello gone wrong as V says (version, nonce length or
 *               kind, params), W its free parameter
 *   4 ID V W    an auth gone wrong as V says (a flipped bit, a short or
 *               long proof, no proof, a str)
 *   5           a new connection in place of the current one
 *   6           ag_server_run_pending()
 *   7 V W       a request after (or before) authentication: one of a few
 *               server methods, or a frame of W * 8 bytes, over the 1 KiB
 *               pre-authentication limit when W > 128
 * The server has a users file (FUZZ_USERS): after a valid auth as
 * "fuzzer" the requests of op 7 meet DENIED (no create, no write).
 * A built request goes in whole or split in two at a point the next byte
 * picks. A connection that ends (ag_conn_feed() returns false) is
 * replaced by a new unauthenticated one.
 */
#include <string.h>

#include "fuzz_support.h"
#include "internal.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#define CNONCE_BYTE 0x11

/* The server's users: "fuzzer" with a key of its own. */
#define FUZZ_USER_KEY "fuzzer's own key, 32 bytes long."
static const char FUZZ_USERS[] =
    "# the fuzzing users\n"
    "fuzzer "
    "key=66757a7a65722773206f776e206b65792c203332206279746573206c6f6e672e"
    " rights=read names=l*,q\n"
    "other key=000102030405060708090a0b0c0d0e0f rights=all\n";

typedef struct hs {
	ag_server *srv;
	ag_conn *conn; /* NULL once it ended */
	uint8_t cnonce[AG_NONCE_LEN];
	const char *key; /* the key of the last valid hello's user */
	size_t keylen;
	fz in;
	ag_buf out;
	msgpack_packer pk;
} hs;

static ag_conn *conn_of(hs *h)
{
	if (h->conn == NULL)
		h->conn = ag_conn_new_detached(h->srv, false);
	return h->conn;
}

static void feed(hs *h, const void *p, size_t len)
{
	ag_conn *c = conn_of(h);

	if (c != NULL && !ag_conn_feed(c, p, len))
		h->conn = NULL;
}

/* Feed what h->out holds, whole or in two parts, and empty it. */
static void send_out(hs *h)
{
	size_t cut = fz_u8(&h->in);

	if (cut > h->out.len)
		cut = h->out.len;
	if (cut > 0)
		feed(h, h->out.data, cut);
	if (h->out.len > cut)
		feed(h, h->out.data + cut, h->out.len - cut);
	h->out.len = 0;
}

static void pack_bin(msgpack_packer *pk, const uint8_t *p, size_t len)
{
	msgpack_pack_bin(pk, len);
	msgpack_pack_bin_body(pk, p, len);
}

static void hello(hs *h, uint8_t msgid, uint8_t x)
{
	unsigned user = x >> 6;

	memset(h->cnonce, CNONCE_BYTE ^ x, sizeof(h->cnonce));
	ag_pack_request_head(&h->pk, msgid, "hello");
	msgpack_pack_array(&h->pk, user == 0 ? 2 : 3);
	msgpack_pack_uint8(&h->pk, AG_PROTOCOL_VERSION);
	pack_bin(&h->pk, h->cnonce, AG_NONCE_LEN);
	h->key = FUZZ_KEY;
	h->keylen = FUZZ_KEYLEN;
	if (user == 1) {
		ag_pack_str(&h->pk, "fuzzer");
		h->key = FUZZ_USER_KEY;
		h->keylen = sizeof(FUZZ_USER_KEY) - 1;
	} else if (user == 2) {
		ag_pack_str(&h->pk, "nobody");
	} else if (user == 3) {
		msgpack_pack_nil(&h->pk);
	}
}

static void bad_hello(hs *h, uint8_t msgid, uint8_t v, uint8_t w)
{
	uint8_t nonce[80];

	memset(nonce, CNONCE_BYTE, sizeof(nonce));
	ag_pack_request_head(&h->pk, msgid, "hello");
	switch (v % 8) {
	case 0: /* a version that is not spoken */
		msgpack_pack_array(&h->pk, 2);
		msgpack_pack_uint64(&h->pk, w == 0 ? UINT64_MAX : w);
		pack_bin(&h->pk, nonce, AG_NONCE_LEN);
		break;
	case 1: /* a nonce of another length */
		msgpack_pack_array(&h->pk, 2);
		msgpack_pack_uint8(&h->pk, AG_PROTOCOL_VERSION);
		pack_bin(&h->pk, nonce, w % sizeof(nonce));
		break;
	case 2: /* a nonce that is a str */
		msgpack_pack_array(&h->pk, 2);
		msgpack_pack_uint8(&h->pk, AG_PROTOCOL_VERSION);
		msgpack_pack_str(&h->pk, AG_NONCE_LEN);
		msgpack_pack_str_body(&h->pk, nonce, AG_NONCE_LEN);
		break;
	case 3: /* W params */
		msgpack_pack_array(&h->pk, w % 4);
		for (unsigned i = 0; i < w % 4u; i++)
			msgpack_pack_uint8(&h->pk, AG_PROTOCOL_VERSION);
		break;
	case 4: /* a version of another kind */
		msgpack_pack_array(&h->pk, 2);
		if (w & 1)
			msgpack_pack_int8(&h->pk, -1);
		else
			msgpack_pack_double(&h->pk, 1.0);
		pack_bin(&h->pk, nonce, AG_NONCE_LEN);
		break;
	case 5: /* a user that is not a str (W even), or a str of W
		 * bytes of the nonce's pattern (odd) */
		msgpack_pack_array(&h->pk, 3);
		msgpack_pack_uint8(&h->pk, AG_PROTOCOL_VERSION);
		pack_bin(&h->pk, nonce, AG_NONCE_LEN);
		if (w & 1) {
			msgpack_pack_str(&h->pk, w % sizeof(nonce));
			msgpack_pack_str_body(&h->pk, nonce, w % sizeof(nonce));
		} else {
			msgpack_pack_uint8(&h->pk, w);
		}
		break;
	case 6: /* params nested in an array */
		msgpack_pack_array(&h->pk, 1);
		msgpack_pack_array(&h->pk, 2);
		msgpack_pack_uint8(&h->pk, AG_PROTOCOL_VERSION);
		pack_bin(&h->pk, nonce, AG_NONCE_LEN);
		break;
	default: /* the version as a str */
		msgpack_pack_array(&h->pk, 2);
		ag_pack_str(&h->pk, "1");
		pack_bin(&h->pk, nonce, AG_NONCE_LEN);
		break;
	}
}

static void auth(hs *h, uint8_t msgid, int how, uint8_t w)
{
	uint8_t snonce[AG_NONCE_LEN], proof[AG_PROOF_LEN + 16];

	memset(snonce, FUZZ_NONCE_BYTE, sizeof(snonce));
	memset(proof, 0, sizeof(proof));
	ag_client_proof(h->key, h->keylen, snonce, h->cnonce, proof);
	ag_pack_request_head(&h->pk, msgid, "auth");
	switch (how) {
	case -1: /* right */
		msgpack_pack_array(&h->pk, 1);
		pack_bin(&h->pk, proof, AG_PROOF_LEN);
		break;
	case 0: /* a flipped bit */
		proof[(w / 8) % AG_PROOF_LEN] ^= (uint8_t)(1u << (w % 8));
		msgpack_pack_array(&h->pk, 1);
		pack_bin(&h->pk, proof, AG_PROOF_LEN);
		break;
	case 1: /* a prefix, or the proof and more */
		msgpack_pack_array(&h->pk, 1);
		pack_bin(&h->pk, proof, w % sizeof(proof));
		break;
	case 2: /* no proof */
		msgpack_pack_array(&h->pk, 0);
		break;
	case 3: /* the proof as a str */
		msgpack_pack_array(&h->pk, 1);
		msgpack_pack_str(&h->pk, AG_PROOF_LEN);
		msgpack_pack_str_body(&h->pk, proof, AG_PROOF_LEN);
		break;
	default: /* the proof twice */
		msgpack_pack_array(&h->pk, 2);
		pack_bin(&h->pk, proof, AG_PROOF_LEN);
		pack_bin(&h->pk, proof, AG_PROOF_LEN);
		break;
	}
}

static void other_request(hs *h, uint8_t v, uint8_t w)
{
	static uint8_t filler[255 * 8];
	size_t n = (size_t)w * 8;

	switch (v % 5) {
	case 0:
		ag_pack_request_head(&h->pk, v, "ping");
		msgpack_pack_array(&h->pk, 1);
		pack_bin(&h->pk, filler, n);
		break;
	case 1:
		ag_pack_request_head(&h->pk, v, "open");
		msgpack_pack_array(&h->pk, 2);
		ag_pack_str(&h->pk, "list");
		ag_pack_str(&h->pk, "l");
		break;
	case 2:
		ag_pack_request_head(&h->pk, v, "stats");
		msgpack_pack_array(&h->pk, 0);
		break;
	case 3:
		ag_pack_request_head(&h->pk, v, "list.append");
		msgpack_pack_array(&h->pk, 2);
		msgpack_pack_uint8(&h->pk, 1);
		msgpack_pack_uint8(&h->pk, w);
		break;
	default: /* a notification, not a request */
		msgpack_pack_array(&h->pk, 3);
		msgpack_pack_uint8(&h->pk, AG_MSG_NOTIFY);
		ag_pack_str(&h->pk, "hello");
		msgpack_pack_array(&h->pk, 0);
		break;
	}
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	hs h = { .in = { data, size } };
	uint8_t a, b, c;
	size_t len;

	if (ag_server_new_detached(FUZZ_KEY, FUZZ_KEYLEN, &h.srv) < 0)
		return 0;
	if (ag_users_parse(FUZZ_USERS, sizeof(FUZZ_USERS) - 1, "fuzz-users",
			   &h.srv->users, NULL, 0) < 0) {
		agora_server_free(h.srv);
		return 0;
	}
	h.key = FUZZ_KEY;
	h.keylen = FUZZ_KEYLEN;
	ag_buf_init(&h.out);
	msgpack_packer_init(&h.pk, &h.out, ag_buf_write);
	memset(h.cnonce, CNONCE_BYTE, sizeof(h.cnonce));

	while (h.in.n > 0) {
		switch (fz_u8(&h.in) % 8) {
		case 0: {
			const uint8_t *p = fz_take(&h.in, fz_u8(&h.in), &len);
			feed(&h, p, len);
			break;
		}
		case 1:
			a = fz_u8(&h.in);
			hello(&h, a, fz_u8(&h.in));
			send_out(&h);
			break;
		case 2:
			auth(&h, fz_u8(&h.in), -1, 0);
			send_out(&h);
			break;
		case 3:
			a = fz_u8(&h.in);
			b = fz_u8(&h.in);
			c = fz_u8(&h.in);
			bad_hello(&h, a, b, c);
			send_out(&h);
			break;
		case 4:
			a = fz_u8(&h.in);
			b = fz_u8(&h.in);
			c = fz_u8(&h.in);
			auth(&h, a, b % 5, c);
			send_out(&h);
			break;
		case 5:
			if (h.conn != NULL)
				ag_conn_free(h.conn);
			h.conn = NULL;
			conn_of(&h);
			break;
		case 6:
			ag_server_run_pending(h.srv);
			break;
		default:
			a = fz_u8(&h.in);
			other_request(&h, a, fz_u8(&h.in));
			send_out(&h);
			break;
		}
	}
	ag_server_run_pending(h.srv);
	ag_buf_deinit(&h.out);
	agora_server_free(h.srv);
	return 0;
}
