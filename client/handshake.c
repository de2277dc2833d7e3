/*
 * handshake.c - connecting a client: the transport's connect, then the
 * mutual handshake of protocol section 2, then READY. Also the key from the
 * environment (agora_client_connect_env()), read by the key file rules of
 * every Agora program (proto/keyfile.c).
 *
 * The handshake is two calls made before the client is READY, so they go
 * through ag_client_rpc() (call.c) rather than ag_client_call(): "hello"
 * [version, cnonce] answers the server's proof of the key, which is checked
 * here before "auth" [cproof] proves the client's. While it runs, the
 * reader takes only small frames (HANDSHAKE_MAX_RESPONSE).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ag_keyfile.h"
#include "internal.h"

/* The frame limit while the handshake runs: its answers are tiny. */
#define HANDSHAKE_MAX_RESPONSE ((size_t)64 << 10)

/* The str @o (may be NULL) into @buf of @len bytes, cut to fit; "" when
 * @o is not a str. */
static void copy_str(char *buf, size_t len, const msgpack_object *o)
{
	size_t n = 0;

	if (o != NULL && o->type == MSGPACK_OBJECT_STR) {
		n = o->via.str.size;
		if (n >= len)
			n = len - 1;
		memcpy(buf, o->via.str.ptr, n);
	}
	buf[n] = '\0';
}

/* The value of the str key @key in the map @m, or NULL. */
static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
	size_t kl = strlen(key);

	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
		    memcmp(k->via.str.ptr, key, kl) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

static int handshake(agora_client *c, const void *key, size_t keylen)
{
	uint8_t cnonce[AG_NONCE_LEN], snonce[AG_NONCE_LEN];
	uint8_t want[AG_PROOF_LEN], cproof[AG_PROOF_LEN];
	uint8_t cb[AG_BINDING_LEN]; /* over TLS: protocol section 2.1 */
	size_t cblen = 0;
	const msgpack_object *r, *ver, *srv, *nonce, *proof;
	agora_value params[3];
	int rc;

	if (c->ssl != NULL) {
		rc = ag_transport_tls_binding(c->ssl, cb);
		if (rc < 0)
			return ag_client_fail(c, rc,
					      "%s: no channel binding from the "
					      "server's TLS certificate",
					      c->address);
		cblen = sizeof(cb);
	}
	rc = ag_nonce(cnonce);
	if (rc < 0)
		return ag_client_fail(c, rc, "cannot make a random nonce");
	params[0] = agora_int(AG_PROTOCOL_VERSION);
	params[1] = agora_bin(cnonce, sizeof(cnonce));
	/* The user, when one is set (protocol section 2: a third param). */
	if (c->user != NULL)
		params[2] = agora_str(c->user);
	rc = ag_client_rpc(c, "hello", params, c->user != NULL ? 3 : 2, &r);
	if (rc < 0)
		return rc;
	if (r->type != MSGPACK_OBJECT_MAP)
		return ag_client_fail(c, AGORA_EPROTOCOL,
				      "%s answered hello with %s, not a map",
				      c->address, ag_obj_type_name(r));
	ver = map_get(r, "version");
	srv = map_get(r, "server");
	nonce = map_get(r, "nonce");
	proof = map_get(r, "proof");
	if (ver == NULL || ver->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    nonce == NULL || nonce->type != MSGPACK_OBJECT_BIN ||
	    nonce->via.bin.size != AG_NONCE_LEN || proof == NULL ||
	    proof->type != MSGPACK_OBJECT_BIN)
		return ag_client_fail(c, AGORA_EPROTOCOL,
				      "%s answered hello without a version, "
				      "a 32-byte nonce and a proof",
				      c->address);
	if (ver->via.u64 != AG_PROTOCOL_VERSION)
		return ag_client_fail(c, AGORA_EVERSION,
				      "%s speaks protocol version %" PRIu64
				      "; this client speaks %d",
				      c->address, ver->via.u64,
				      AG_PROTOCOL_VERSION);
	memcpy(snonce, nonce->via.bin.ptr, AG_NONCE_LEN);
	if (ag_server_proof_bound(key, keylen, cnonce, snonce, cb, cblen,
				  want) < 0)
		return ag_client_fail(c, AGORA_ENOMEM,
				      "cannot compute the server's proof");
	/* A wrong proof: this client's key is not the server's, or this is
	 * not the server meant. The client closes without sending its own
	 * proof (nothing of the key goes to a server that did not prove
	 * it holds it); the server logs the handshake as unfinished. */
	if (!ag_proof_equal(proof->via.bin.ptr, proof->via.bin.size, want) &&
	    cblen > 0)
		return ag_client_fail(c, AGORA_EAUTH,
				      "the server at %s did not prove that it "
				      "holds this client's authkey over this "
				      "TLS channel: another key, or a relay "
				      "sits between (the TLS channel binding "
				      "differs); gave up before sending this "
				      "client's proof",
				      c->address);
	if (!ag_proof_equal(proof->via.bin.ptr, proof->via.bin.size, want))
		return ag_client_fail(
		    c, AGORA_EAUTH,
		    "the server at %s did not prove that it "
		    "holds this client's authkey%s%.64s%s: "
		    "the key differs from the server's%s, "
		    "or this is not the server meant; gave "
		    "up before sending this client's proof",
		    c->address, c->user ? " for user \"" : "",
		    c->user ? c->user : "", c->user ? "\"" : "",
		    c->user ? " (or it has no such user)" : "");
	copy_str(c->server, sizeof(c->server), srv);
	/* A server older than the run id sends none: "". */
	copy_str(c->run, sizeof(c->run), map_get(r, "run"));
	if (ag_client_proof_bound(key, keylen, snonce, cnonce, cb, cblen,
				  cproof) < 0)
		return ag_client_fail(c, AGORA_ENOMEM,
				      "cannot compute the client's proof");
	params[0] = agora_bin(cproof, sizeof(cproof));
	rc = ag_client_rpc(c, "auth", params, 1, &r);
	/* The server proved the key, so this should not happen: say what
	 * the server said. */
	if (rc == AGORA_EAUTH) {
		char said[sizeof(c->errmsg)];
		snprintf(said, sizeof(said), "%s", c->errmsg);
		return ag_client_fail(c, rc,
				      "the server at %s refused this client's "
				      "proof of the authkey: %.120s",
				      c->address, said);
	}
	if (rc < 0)
		return rc;
	if (r->type != MSGPACK_OBJECT_BOOLEAN || !r->via.boolean)
		return ag_client_fail(c, AGORA_EPROTOCOL,
				      "%s answered auth with %s, not true",
				      c->address, ag_obj_type_name(r));
	return 0;
}

/*
 * The timeout @set by the client's setter (NAN when not), else from the
 * environment variable @var, else @def, into *ret: seconds, 0 for no
 * limit. AGORA_EINVAL, with the message set, for a variable that is not
 * seconds from 0 to a day.
 */
static int resolve_timeout(agora_client *c, double set, const char *var,
			   double def, double *ret)
{
	const char *v;
	char *end;
	double t;

	if (!isnan(set)) {
		*ret = set;
		return 0;
	}
	v = getenv(var);
	if (v == NULL || v[0] == '\0') {
		*ret = def;
		return 0;
	}
	t = strtod(v, &end);
	if (end == v || *end != '\0' || !(t >= 0 && t <= AG_MAX_PEER_TIMEOUT))
		return ag_client_fail(c, AGORA_EINVAL,
				      "%s=%s: want seconds from 0 (no limit) "
				      "to %g",
				      var, v, AG_MAX_PEER_TIMEOUT);
	*ret = t;
	return 0;
}

/* The file agora_client_set_tls() gave (@set; *@from NULL), else the
 * environment variable @var's when not empty (*@from @var), else NULL. */
static const char *tls_file(const char *set, const char *var, const char **from)
{
	const char *v = getenv(var);

	if (set != NULL) {
		*from = NULL;
		return set;
	}
	*from = var;
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The TLS files of @c's next connect (agora_client_set_tls()). */
static void tls_files(const agora_client *c, ag_tls_files *t)
{
	t->ca = tls_file(c->tls_ca, "AGORA_TLS_CA", &t->ca_from);
	t->cert = tls_file(c->tls_cert, "AGORA_TLS_CERT", &t->cert_from);
	t->key = tls_file(c->tls_key, "AGORA_TLS_KEY", &t->key_from);
}

/*
 * Connect @c to @address and authenticate with @key. A client that is
 * connected and healthy must be freed first (AGORA_EINVAL); a broken one, or
 * one whose connect failed, may connect again. Returns 0; AGORA_EINVAL for a
 * bad address or key, or a TLS file that cannot be used; AGORA_EIO when the
 * server cannot be reached or hangs up, or the TLS handshake failed;
 * AGORA_ECERT when a tls: server's certificate could not be verified;
 * AGORA_EAUTH when either side's proof is wrong (over TLS, also when the
 * channel binding differs: a relay); AGORA_EVERSION;
 * AGORA_EPROTOCOL; AGORA_ENOMEM; AGORA_ETIMEDOUT when connecting and the
 * handshake took longer than the connect timeout. On failure @c is left
 * unconnected, with the reason in agora_errmsg(). Blocks until the
 * handshake is done or the connect timeout.
 *
 * The timeouts come from the setters, else AGORA_CONNECT_TIMEOUT and
 * AGORA_PEER_TIMEOUT, else 10 and 30 seconds (a variable that is not
 * seconds is AGORA_EINVAL). On a TCP connection the kernel is asked to end
 * it when the server stops answering for the peer timeout, and every call
 * is bounded by its own wait plus the peer timeout (call.c).
 */
int agora_client_connect(agora_client *c, const char *address, const void *key,
			 size_t keylen)
{
	ag_tls_files tls;
	char *addr;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (c->state != AG_CLIENT_NONE && !ag_client_same_process(c))
		return ag_client_usable(c);
	if (c->state == AG_CLIENT_READY || c->state == AG_CLIENT_HANDSHAKE)
		return ag_client_fail(c, AGORA_EINVAL,
				      "this client is already connected to %s",
				      c->address);
	if (address == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "no address given");
	if (key == NULL || keylen == 0)
		return ag_client_fail(c, AGORA_EINVAL, "the authkey is empty");
	ag_client_disconnect(c);
	c->state = AG_CLIENT_NONE;
	addr = strdup(address);
	if (addr == NULL)
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	free(c->address);
	c->address = addr;
	c->server[0] = '\0';
	c->run[0] = '\0';
	c->lost[0] = '\0';
	c->errmsg[0] = '\0';
	rc = resolve_timeout(c, c->connect_set, "AGORA_CONNECT_TIMEOUT",
			     AG_DEFAULT_CONNECT_TIMEOUT, &c->connect_timeout);
	if (rc == 0)
		rc = resolve_timeout(c, c->peer_set, "AGORA_PEER_TIMEOUT",
				     AG_DEFAULT_PEER_TIMEOUT, &c->peer_timeout);
	if (rc < 0)
		return rc;
	/* A Unix socket's kernel reports the server's end at once. */
	if (strncmp(address, "tcp:", 4) != 0 &&
	    strncmp(address, "tls:", 4) != 0)
		c->peer_timeout = 0;
	c->deadline_ms = 0;
	if (c->connect_timeout > 0)
		c->deadline_ms = ag_transport_now_ms() +
				 (int64_t)(c->connect_timeout * 1000) + 1;

	tls_files(c, &tls);
	rc = ag_transport_connect(address, &tls, c->deadline_ms, &c->fd,
				  &c->ssl, c->errmsg, sizeof(c->errmsg));
	if (rc < 0) {
		c->deadline_ms = 0;
		return ag_client_note(c, rc);
	}
	if (c->peer_timeout > 0)
		ag_transport_watch_peer(c->fd, c->peer_timeout);
	rc = ag_reader_init(&c->reader, HANDSHAKE_MAX_RESPONSE);
	if (rc < 0) {
		ag_transport_tls_free(c->ssl, false);
		c->ssl = NULL;
		close(c->fd);
		c->fd = -1;
		c->deadline_ms = 0;
		return ag_client_fail(c, rc, "out of memory");
	}
	c->pid = getpid();
	if (c->mark != NULL)
		*c->mark = 1;
	c->state = AG_CLIENT_HANDSHAKE;
	rc = handshake(c, key, keylen);
	c->deadline_ms = 0;
	if (rc < 0) {
		ag_client_disconnect(c);
		c->state = AG_CLIENT_NONE;
		c->server[0] = '\0';
		c->run[0] = '\0';
		return rc;
	}
	ag_reader_set_max(&c->reader, AG_CLIENT_MAX_RESPONSE);
	/* Kept for a reconnect (reconnect.c). */
	if (key != c->key) {
		uint8_t *copy = malloc(keylen);
		if (copy == NULL) {
			ag_client_disconnect(c);
			c->state = AG_CLIENT_NONE;
			return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
		}
		memcpy(copy, key, keylen);
		if (c->key != NULL) {
			explicit_bzero(c->key, c->keylen);
			free(c->key);
		}
		c->key = copy;
		c->keylen = keylen;
	}
	c->state = AG_CLIENT_READY;
	c->errmsg[0] = '\0';
	return 0;
}

/*
 * agora_client_connect() with the address and the key the environment
 * gives, in the order every Agora client follows (ag_endpoint_resolve(),
 * proto/ag_keyfile.h): AGORA_ADDRESS, else agorad's default address; the
 * key from the file AGORA_AUTHKEY_FILE names, else AGORA_AUTHKEY; the user
 * set by agora_client_set_user(), else AGORA_USER.
 */
int agora_client_connect_env(agora_client *c)
{
	struct ag_endpoint e;
	char err[sizeof(c->errmsg)];
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	rc = ag_endpoint_resolve(&e, NULL, NULL, err, sizeof(err));
	if (rc < 0)
		return ag_client_fail(c, rc, "%s", err);
	/* Noted (sticky mode) once the message says where the address came
	 * from. */
	/* AGORA_USER, unless the program set a user. */
	if (c->user == NULL && e.user != NULL &&
	    (rc = agora_client_set_user(c, e.user)) < 0) {
		ag_endpoint_clear(&e);
		return ag_client_fail(c, rc,
				      "AGORA_USER: a user name is 1 to %d "
				      "bytes",
				      AG_CLIENT_USER_MAX);
	}
	c->sticky_hold++;
	rc = agora_client_connect(c, e.address, e.key, e.keylen);
	c->sticky_hold--;
	ag_endpoint_clear(&e);
	if (rc == AGORA_EIO && e.address == e.addrbuf) {
		size_t n = strlen(c->errmsg);
		snprintf(c->errmsg + n, sizeof(c->errmsg) - n,
			 " (AGORA_ADDRESS is not set: agorad's default "
			 "address)");
	}
	return ag_client_note(c, rc);
}

int agora_client_set_user(agora_client *c, const char *name)
{
	char *copy = NULL;

	if (c == NULL)
		return AGORA_EINVAL;
	if (name != NULL) {
		size_t n = strlen(name);
		if (n == 0 || n > AG_CLIENT_USER_MAX)
			return AGORA_EINVAL;
		copy = strdup(name);
		if (copy == NULL)
			return AGORA_ENOMEM;
	}
	free(c->user);
	c->user = copy;
	return 0;
}
