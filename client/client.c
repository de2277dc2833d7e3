/*
 * client.c - agora_client: one synchronous, authenticated connection.
 *
 * Parts, top to bottom:
 *   - errors: the client's message buffer and the public strerror/errname;
 *   - transport: address parsing, connect(2), send and receive;
 *   - the call: pack a request into c->out, send it, feed the socket into
 *     c->reader until the response with the same msgid arrives;
 *   - handshake (section 2 of the protocol) and the public connect calls;
 *   - generic calls (agora_call, ping, stats, ls, drop, info) and the
 *     typed result helpers under them and the proxies;
 *   - ag_proxy: the open, close, reference and method plumbing every
 *     proxy shares (internal.h).
 *
 * A client is in one of four states. NONE: never connected, or the last
 * connect failed. HANDSHAKE: only the handshake's own calls may run. READY.
 * BROKEN: the transport failed or the server broke the protocol; every call
 * fails at once with AGORA_EIO, and only agora_client_free() (or a new
 * connect) helps. Independently, a client remembers the pid that connected
 * it: in any other process (a fork() child) it refuses every call and sends
 * nothing, so a child can never interleave bytes with its parent's
 * requests on the shared socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ag_keyfile.h"
#include "internal.h"

/* The frame limit while the handshake runs: its answers are tiny. */
#define HANDSHAKE_MAX_RESPONSE ((size_t)64 << 10)
/* How much room to ask the reader for before each read(2). */
#define READ_CHUNK ((size_t)64 << 10)
/* A request buffer that grew past this is given back after the call. */
#define OUT_KEEP_MAX ((size_t)1 << 20)

enum client_state { ST_NONE, ST_HANDSHAKE, ST_READY, ST_BROKEN };

struct agora_client {
	int fd; /* -1 when there is no connection */
	enum client_state state;
	pid_t pid; /* the process that connected */
	/* A page the kernel zeroes in a fork() child (MADV_WIPEONFORK): a
	 * nonzero byte here means "this is still the connecting process",
	 * with no system call per request. NULL where the kernel cannot do
	 * it; then getpid() is compared. */
	volatile unsigned char *mark;
	char *address;    /* as given to connect, for messages */
	uint32_t msgid;   /* the last msgid used */
	uint64_t pings;   /* the value agora_ping() sends next */
	ag_reader reader; /* valid while fd >= 0 */
	ag_buf out;       /* the request being sent */
	char server[64];  /* "agora/X.Y.Z" from the handshake */
	char errmsg[256];
	char lost[200]; /* why the client broke */
};

/* ---- errors -------------------------------------------------------------- */

static int vfail(agora_client *c, int rc, const char *fmt, va_list ap)
{
	if (c != NULL)
		vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	return rc;
}

int ag_client_fail(agora_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, rc, fmt, ap);
	va_end(ap);
	return rc;
}

static void client_disconnect(agora_client *c);

/*
 * Mark @c broken for good: close the socket (whatever the server sends now
 * could not be trusted to line up with a request) and remember why, so
 * every later call can say it. Returns @rc.
 */
static int __attribute__((format(printf, 3, 4)))
client_break(agora_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->lost, sizeof(c->lost), fmt, ap);
	va_end(ap);
	if (c->state == ST_READY || c->state == ST_HANDSHAKE)
		c->state = ST_BROKEN;
	client_disconnect(c);
	snprintf(c->errmsg, sizeof(c->errmsg), "lost the connection to %s: %s",
		 c->address, c->lost);
	return rc;
}

/* "queue empty" for AGORA_EEMPTY; "success" for 0. Never NULL. */
const char *agora_strerror(int rc)
{
	if (rc == 0)
		return "success";
	return ag_error_text(rc);
}

/* "EMPTY" for AGORA_EEMPTY; "OK" for 0; "UNKNOWN" else. Never NULL. */
const char *agora_errname(int rc)
{
	if (rc == 0)
		return "OK";
	return ag_error_name(rc);
}

/* The message of the last failed call on @c; "" when none (or @c is NULL).
 * Valid until the next call on @c. */
const char *agora_errmsg(const agora_client *c)
{
	return c != NULL ? c->errmsg : "";
}

/* The server's "agora/X.Y.Z"; "" before a connect succeeded. */
const char *agora_server_version(const agora_client *c)
{
	return c != NULL ? c->server : "";
}

/*
 * Can @c run a call now? 0, or the error to return with its message set.
 * Runs before anything is packed or sent.
 */
/* True when @c was connected by this very process (not a fork() child). */
static bool same_process(const agora_client *c)
{
	return c->mark != NULL ? *c->mark != 0 : c->pid == getpid();
}

static int client_usable(agora_client *c, bool handshake)
{
	if (c->state == ST_NONE)
		return ag_client_fail(c, AGORA_EINVAL,
				      "this client is not connected");
	if (!same_process(c))
		return ag_client_fail(c, AGORA_EINVAL,
				      "this client belongs to process %ld; "
				      "connect a new one after fork()",
				      (long)c->pid);
	if (c->state == ST_BROKEN)
		return ag_client_fail(c, AGORA_EIO,
				      "lost the connection to %s earlier (%s); "
				      "connect a new client",
				      c->address, c->lost);
	if (c->state == ST_HANDSHAKE && !handshake)
		return ag_client_fail(c, AGORA_EINVAL,
				      "this client is still connecting");
	return 0;
}

/* ---- transport ----------------------------------------------------------- */

static void client_disconnect(agora_client *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		ag_reader_deinit(&c->reader);
	}
	ag_buf_deinit(&c->out);
	ag_buf_init(&c->out);
}

/*
 * connect(2) that survives EINTR: an interrupted connect goes on in the
 * background, so wait for it to finish and ask how it went. 0 or -1 with
 * errno set.
 */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0;

	if (connect(fd, sa, salen) == 0)
		return 0;
	if (errno != EINTR)
		return -1;
	for (;;) {
		int n = poll(&pfd, 1, -1);

		if (n > 0)
			break;
		if (n < 0 && errno != EINTR)
			return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

static int connect_unix(agora_client *c, const char *path)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (n == 0)
		return ag_client_fail(c, AGORA_EINVAL,
				      "bad address \"%s\": the socket path is "
				      "empty",
				      c->address);
	if (n >= sizeof(sun.sun_path))
		return ag_client_fail(c, AGORA_EINVAL,
				      "bad address \"%s\": the socket path is "
				      "longer than %zu bytes",
				      c->address, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ag_client_fail(c, AGORA_EIO, "cannot connect to %s: %s",
				      c->address, strerror(errno));
	if (connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;

		close(fd);
		return ag_client_fail(c, AGORA_EIO, "cannot connect to %s: %s",
				      c->address, strerror(err));
	}
	c->fd = fd;
	return 0;
}

/*
 * Split "HOST:PORT" or "[V6]:PORT" into @host (of @hostlen bytes) and
 * @port. 0 or AGORA_EINVAL with a message.
 */
static int split_host_port(agora_client *c, const char *rest, char *host,
			   size_t hostlen, char port[6])
{
	const char *h = rest, *colon, *p;
	size_t hl;

	if (rest[0] == '[') {
		const char *rb = strchr(rest, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		h = rest + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(rest, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - rest);
		/* An IPv6 literal must be bracketed, or the port is a
		 * guess. */
		if (memchr(rest, ':', hl) != NULL)
			goto bad;
	}
	if (hl == 0 || hl >= hostlen)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	p = colon + 1;
	if (*p == '\0' || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
		goto bad;
	if (atoi(p) < 1 || atoi(p) > 65535)
		goto bad;
	memcpy(port, p, strlen(p) + 1);
	return 0;
bad:
	return ag_client_fail(c, AGORA_EINVAL,
			      "bad address \"%s\": expected tcp:HOST:PORT "
			      "(an IPv6 host in brackets, a port 1-65535)",
			      c->address);
}

static int connect_tcp(agora_client *c, const char *rest)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[6];
	int rc, err = 0, one = 1;

	rc = split_host_port(c, rest, host, sizeof(host), port);
	if (rc < 0)
		return rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return ag_client_fail(
		    c, AGORA_EIO, "cannot connect to %s: %s", c->address,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
				ai->ai_protocol);

		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect_fd(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			/* Every call is one small request waiting for its
			 * answer: Nagle would only add latency. */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			c->fd = fd;
			break;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return ag_client_fail(c, AGORA_EIO, "cannot connect to %s: %s",
				      c->address,
				      strerror(err ? err : ECONNREFUSED));
	return 0;
}

static int send_all(agora_client *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return client_break(c, AGORA_EIO, "send: %s",
					    strerror(errno));
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read what the socket has into the reader. 0, or an error that broke @c. */
static int recv_some(agora_client *c)
{
	size_t avail;
	char *p = ag_reader_space(&c->reader, READ_CHUNK, &avail);
	ssize_t k;

	if (p == NULL)
		return client_break(c, AGORA_ENOMEM,
				    "out of memory reading an answer");
	do
		k = recv(c->fd, p, avail, 0);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return client_break(c, AGORA_EIO, "read: %s", strerror(errno));
	if (k == 0)
		return client_break(c, AGORA_EIO,
				    "the server closed the connection");
	ag_reader_commit(&c->reader, (size_t)k);
	return 0;
}

/* ---- the call ------------------------------------------------------------ */

/*
 * Pack the request for @method into c->out. 0, AGORA_EINVAL for params that
 * cannot be packed (message names the param), AGORA_ENOMEM.
 */
static int pack_request(agora_client *c, uint32_t msgid, const char *method,
			const agora_value *params, size_t nparams)
{
	msgpack_packer pk;
	int rc;

	c->out.len = 0;
	c->out.oom = false;
	msgpack_packer_init(&pk, &c->out, ag_buf_write);
	ag_pack_request_head(&pk, msgid, method);
	msgpack_pack_array(&pk, nparams);
	for (size_t i = 0; i < nparams; i++) {
		rc = ag_value_pack(&pk, &params[i], 3);
		if (rc < 0)
			return ag_client_fail(
			    c, rc,
			    "%s: param %zu cannot be sent (unknown type, NULL "
			    "data, a length above 2^32-1, or arrays and maps "
			    "nested more than %d deep in the request)",
			    method, i, AG_MAX_DEPTH);
	}
	if (c->out.oom)
		return ag_client_fail(c, AGORA_ENOMEM,
				      "out of memory packing %s", method);
	return 0;
}

int ag_client_read_any(agora_client *c, uint32_t *ret_msgid,
		       const msgpack_object **ret_error,
		       const msgpack_object **ret_result)
{
	msgpack_object m;
	int rc;

	for (;;) {
		rc = ag_reader_next(&c->reader, &m);
		if (rc == 0) {
			rc = recv_some(c);
			if (rc < 0)
				return rc;
			continue;
		}
		if (rc == AGORA_ENOMEM)
			return client_break(c, rc,
					    "out of memory decoding an answer");
		if (rc < 0)
			return client_break(c, AGORA_EPROTOCOL,
					    "the server sent bad data: %s",
					    c->reader.errmsg);
		/* Notifications are reserved for the server to send; a
		 * synchronous client has no use for them yet. */
		if (m.type == MSGPACK_OBJECT_ARRAY && m.via.array.size == 3 &&
		    m.via.array.ptr[0].type ==
			MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    m.via.array.ptr[0].via.u64 == AG_MSG_NOTIFY)
			continue;
		if (ag_parse_response(&m, ret_msgid, ret_error, ret_result) < 0)
			return client_break(c, AGORA_EPROTOCOL,
					    "the server sent a message that is "
					    "not a response");
		return 0;
	}
}

/*
 * Read until the response to @msgid. On 0, *ret_error is the error array or
 * NULL, and *ret_result the result; both point into the reader.
 */
static int read_response(agora_client *c, uint32_t msgid,
			 const msgpack_object **ret_error,
			 const msgpack_object **ret_result)
{
	uint32_t got;
	int rc = ag_client_read_any(c, &got, ret_error, ret_result);

	if (rc < 0)
		return rc;
	if (got != msgid)
		return client_break(c, AGORA_EPROTOCOL,
				    "the server answered request %" PRIu32
				    " while this client waited for %" PRIu32,
				    got, msgid);
	return 0;
}

/* The wire code in an error array, or 0 when it has none. */
static int64_t error_wire_code(const msgpack_object *err)
{
	const msgpack_object *code;

	if (err->type != MSGPACK_OBJECT_ARRAY || err->via.array.size < 1)
		return 0;
	code = &err->via.array.ptr[0];
	if (code->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    code->via.u64 > INT64_MAX)
		return 0;
	return (int64_t)code->via.u64;
}

static int rpc(agora_client *c, const char *method, const agora_value *params,
	       size_t nparams, const msgpack_object **ret_result)
{
	const msgpack_object *err = NULL, *result = NULL;
	uint32_t msgid = ++c->msgid;
	int rc;

	c->errmsg[0] = '\0';
	rc = pack_request(c, msgid, method, params, nparams);
	if (rc == 0)
		rc = send_all(c, c->out.data, c->out.len);
	if (c->out.cap > OUT_KEEP_MAX) {
		ag_buf_deinit(&c->out);
		ag_buf_init(&c->out);
	}
	if (rc < 0)
		return rc;
	rc = read_response(c, msgid, &err, &result);
	if (rc < 0)
		return rc;
	if (err != NULL)
		return ag_client_response_error(c, err);
	*ret_result = result;
	return 0;
}

int ag_client_response_error(agora_client *c, const msgpack_object *err)
{
	int64_t code = error_wire_code(err);
	int rc = ag_parse_error(err, c->errmsg, sizeof(c->errmsg));

	if (rc >= 0)
		rc = AGORA_EPROTOCOL;
	/* The server closes the connection after a PROTOCOL error: nothing
	 * more can travel on it. */
	if (code == -AGORA_EPROTOCOL) {
		char msg[sizeof(c->errmsg)];

		memcpy(msg, c->errmsg, sizeof(msg));
		client_break(c, rc,
			     "the server refused a request as malformed: %s",
			     msg);
	}
	return rc;
}

/* ---- pipelining (pipeline.c) --------------------------------------------- */

int ag_client_usable(agora_client *c)
{
	if (c == NULL)
		return AGORA_EINVAL;
	return client_usable(c, false);
}

int ag_client_pack(agora_client *c, ag_buf *out, const char *method,
		   const agora_value *params, size_t nparams,
		   uint32_t *ret_msgid)
{
	uint32_t msgid = c->msgid + 1;
	size_t mark = out->len;
	msgpack_packer pk;
	int rc;

	msgpack_packer_init(&pk, out, ag_buf_write);
	ag_pack_request_head(&pk, msgid, method);
	msgpack_pack_array(&pk, nparams);
	for (size_t i = 0; i < nparams; i++) {
		rc = ag_value_pack(&pk, &params[i], 3);
		if (rc < 0) {
			out->len = mark;
			return ag_client_fail(
			    c, rc,
			    "%s: param %zu cannot be sent (unknown type, NULL "
			    "data, a length above 2^32-1, or arrays and maps "
			    "nested more than %d deep in the request)",
			    method, i, AG_MAX_DEPTH);
		}
	}
	if (out->oom) {
		out->len = mark;
		out->oom = false;
		return ag_client_fail(c, AGORA_ENOMEM,
				      "out of memory packing %s", method);
	}
	c->msgid = msgid;
	*ret_msgid = msgid;
	return 0;
}

int ag_client_send(agora_client *c, const void *data, size_t len)
{
	return send_all(c, data, len);
}

int ag_client_lost(agora_client *c, int rc, const char *why)
{
	return client_break(c, rc, "%s", why);
}

int ag_client_call(agora_client *c, const char *method,
		   const agora_value *params, size_t nparams,
		   const msgpack_object **ret_result)
{
	int rc;

	if (c == NULL || method == NULL || (nparams > 0 && params == NULL))
		return ag_client_fail(c, AGORA_EINVAL, "invalid argument");
	rc = client_usable(c, false);
	if (rc < 0)
		return rc;
	return rpc(c, method, params, nparams, ret_result);
}

static int bad_result(agora_client *c, const char *method,
		      const msgpack_object *o, const char *want)
{
	return ag_client_fail(c, AGORA_EPROTOCOL,
			      "%s answered %s with %s where %s was due",
			      c->address, method, ag_obj_type_name(o), want);
}

/* What call_as() makes of a result, and the type @ret points to for it. */
enum result_kind {
	RESULT_VALUE, /* agora_value: the result decoded, owned by the caller */
	RESULT_BOOL,  /* bool */
	RESULT_INT,   /* int64_t */
	RESULT_SIZE,  /* size_t: a non-negative integer */
};

/*
 * ag_client_call() with its result stored through @ret as @kind says, or
 * discarded when @ret is NULL. A RESULT_VALUE is decoded into an owned value
 * (free it with agora_value_free()); for the others a result of another kind
 * is AGORA_EPROTOCOL (the client stays usable). *ret is written on 0 only.
 */
static int call_as(agora_client *c, const char *method,
		   const agora_value *params, size_t nparams,
		   enum result_kind kind, void *ret)
{
	const msgpack_object *o;
	agora_value v;
	int rc;

	rc = ag_client_call(c, method, params, nparams, &o);
	if (rc < 0)
		return rc;
	switch (kind) {
	case RESULT_VALUE:
		if (ret == NULL)
			return 0;
		rc = ag_value_unpack(o, &v);
		if (rc < 0)
			return ag_client_fail(
			    c, rc, "out of memory decoding the answer to %s",
			    method);
		*(agora_value *)ret = v;
		return 0;
	case RESULT_BOOL:
		if (o->type != MSGPACK_OBJECT_BOOLEAN)
			return bad_result(c, method, o, "a bool");
		if (ret != NULL)
			*(bool *)ret = o->via.boolean;
		return 0;
	case RESULT_INT:
		if (o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER &&
		    (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		     o->via.u64 > INT64_MAX))
			return bad_result(c, method, o, "an int64");
		if (ret != NULL)
			*(int64_t *)ret = o->via.i64;
		return 0;
	case RESULT_SIZE:
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    o->via.u64 > SIZE_MAX)
			return bad_result(c, method, o, "a size");
		if (ret != NULL)
			*(size_t *)ret = (size_t)o->via.u64;
		return 0;
	}
	return ag_client_fail(c, AGORA_EINVAL, "bad result kind");
}

/* The integer in @o, the data a caller asked for by name: AGORA_ETYPE with
 * a message naming @what when @o is not an integer, AGORA_EVALUE when it
 * does not fit int64_t. */
static int obj_int(agora_client *c, const msgpack_object *o, const char *what,
		   int64_t *ret)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*ret = o->via.i64;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return ag_client_fail(c, AGORA_ETYPE, "%s is %s, not an int",
				      what, ag_obj_type_name(o));
	if (o->via.u64 > INT64_MAX)
		return ag_client_fail(c, AGORA_EVALUE,
				      "%s is %" PRIu64 ", too large for int64",
				      what, o->via.u64);
	*ret = (int64_t)o->via.u64;
	return 0;
}

/* The str in @o as a malloc'ed NUL-terminated copy: AGORA_ETYPE when @o is
 * not a str, AGORA_ENOMEM. */
static int obj_str(agora_client *c, const msgpack_object *o, const char *what,
		   char **ret)
{
	char *s;

	if (o->type != MSGPACK_OBJECT_STR)
		return ag_client_fail(c, AGORA_ETYPE, "%s is %s, not a str",
				      what, ag_obj_type_name(o));
	s = malloc((size_t)o->via.str.size + 1);
	if (s == NULL)
		return ag_client_fail(c, AGORA_ENOMEM,
				      "out of memory copying %s", what);
	if (o->via.str.size > 0)
		memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = '\0';
	*ret = s;
	return 0;
}

/* "open" [@type, @name or nil, {@opts}]: the new handle in *ret_handle.
 * @opts may be NULL when @nopts is 0. */
static int open_handle(agora_client *c, const char *type, const char *name,
		       const agora_pair *opts, size_t nopts,
		       uint32_t *ret_handle)
{
	agora_value params[3];
	const msgpack_object *o;
	int rc;

	params[0] = agora_str(type);
	params[1] = name != NULL ? agora_str(name) : agora_nil();
	params[2] = agora_map((agora_pair *)opts, nopts);
	rc = ag_client_call(c, "open", params, 3, &o);
	if (rc < 0)
		return rc;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.u64 > UINT32_MAX)
		return bad_result(c, "open", o, "a handle");
	*ret_handle = (uint32_t)o->via.u64;
	return 0;
}

/* ---- ag_proxy ------------------------------------------------------------ */

/*
 * The proxy for a new handle of @type: opened by @ref ("open_ref") when it
 * is not NULL, else by @name and @opts ("open"). As ag_proxy_open().
 */
static int proxy_new(agora_client *c, void *ret_proxy, size_t size,
		     const char *type, const char *name, const agora_pair *opts,
		     size_t nopts, const agora_ref *ref)
{
	ag_proxy *p;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret_proxy == NULL || size < sizeof(*p))
		return ag_client_fail(c, AGORA_EINVAL, "open %s needs a result",
				      type);
	p = calloc(1, size);
	if (p == NULL)
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	if (ref != NULL)
		rc = ag_client_open_ref(c, type, ref, &p->handle);
	else
		rc = open_handle(c, type, name, opts, nopts, &p->handle);
	if (rc < 0) {
		free(p);
		return rc;
	}
	p->c = c;
	p->type = type;
	/* Kept as the server read it, from its bytes: ref->id could differ in
	 * a reference built by hand. A well-formed ext 1 always decodes. */
	if (ref != NULL)
		(void)agora_ref_from_value(agora_ref_value(ref), &p->ref);
	memcpy(ret_proxy, &p, sizeof(p));
	return 0;
}

int ag_proxy_open(agora_client *c, void *ret_proxy, size_t size,
		  const char *type, const char *name, const agora_pair *opts,
		  size_t nopts)
{
	return proxy_new(c, ret_proxy, size, type, name, opts, nopts, NULL);
}

int ag_proxy_open_ref(agora_client *c, void *ret_proxy, size_t size,
		      const char *type, const agora_ref *ref)
{
	if (c != NULL && ref == NULL)
		return ag_client_fail(c, AGORA_EINVAL,
				      "open_ref %s needs a reference", type);
	return proxy_new(c, ret_proxy, size, type, NULL, NULL, 0, ref);
}

int ag_proxy_close(ag_proxy *p)
{
	agora_value h;
	const msgpack_object *o;
	int rc;

	if (p == NULL)
		return 0;
	h = agora_uint(p->handle);
	rc = ag_client_call(p->c, "close", &h, 1, &o);
	free(p);
	return rc;
}

int ag_proxy_ref(const ag_proxy *p, agora_ref *ret)
{
	if (p->ref.id == 0)
		return agora_ref_of(p->c, p->handle, ret);
	if (ret == NULL)
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s ref needs a result", p->type);
	*ret = p->ref;
	return 0;
}

/* A proxy's request: "TYPE.METHOD" and [handle, args...]. */
struct proxy_req {
	char method[48];
	agora_value params[1 + AG_PROXY_MAX_ARGS];
	size_t nparams;
};

static int proxy_req(const ag_proxy *p, const char *method,
		     const agora_value *args, size_t nargs, struct proxy_req *r)
{
	int n =
	    snprintf(r->method, sizeof(r->method), "%s.%s", p->type, method);

	if (n < 0 || (size_t)n >= sizeof(r->method) ||
	    nargs > AG_PROXY_MAX_ARGS || (nargs > 0 && args == NULL))
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s.%s: bad method or params", p->type,
				      method);
	r->params[0] = agora_uint(p->handle);
	if (nargs > 0)
		memcpy(&r->params[1], args, nargs * sizeof(*args));
	r->nparams = 1 + nargs;
	return 0;
}

int ag_proxy_call(const ag_proxy *p, const char *method,
		  const agora_value *args, size_t nargs,
		  const msgpack_object **ret_result)
{
	struct proxy_req r;
	int rc = proxy_req(p, method, args, nargs, &r);

	if (rc < 0)
		return rc;
	return ag_client_call(p->c, r.method, r.params, r.nparams, ret_result);
}

/* call_as() of "TYPE.@method" [handle, @args...] for @p. */
static int proxy_call_as(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 enum result_kind kind, void *ret)
{
	struct proxy_req r;
	int rc = proxy_req(p, method, args, nargs, &r);

	if (rc < 0)
		return rc;
	return call_as(p->c, r.method, r.params, r.nparams, kind, ret);
}

int ag_proxy_call_value(const ag_proxy *p, const char *method,
			const agora_value *args, size_t nargs, agora_value *ret)
{
	return proxy_call_as(p, method, args, nargs, RESULT_VALUE, ret);
}

int ag_proxy_call_bool(const ag_proxy *p, const char *method,
		       const agora_value *args, size_t nargs, bool *ret)
{
	return proxy_call_as(p, method, args, nargs, RESULT_BOOL, ret);
}

int ag_proxy_call_int(const ag_proxy *p, const char *method,
		      const agora_value *args, size_t nargs, int64_t *ret)
{
	return proxy_call_as(p, method, args, nargs, RESULT_INT, ret);
}

int ag_proxy_call_size(const ag_proxy *p, const char *method,
		       const agora_value *args, size_t nargs, size_t *ret)
{
	return proxy_call_as(p, method, args, nargs, RESULT_SIZE, ret);
}

int ag_proxy_call_as_int(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, int64_t *ret)
{
	const msgpack_object *o;
	int64_t n = 0; /* obj_int() writes it on 0; GCC cannot see that */
	int rc;

	rc = ag_proxy_call(p, method, args, nargs, &o);
	if (rc < 0)
		return rc;
	rc = obj_int(p->c, o, what, &n);
	if (rc == 0 && ret != NULL)
		*ret = n;
	return rc;
}

int ag_proxy_call_as_str(const ag_proxy *p, const char *method,
			 const agora_value *args, size_t nargs,
			 const char *what, char **ret)
{
	const msgpack_object *o;
	int rc;

	rc = ag_proxy_call(p, method, args, nargs, &o);
	if (rc < 0)
		return rc;
	return obj_str(p->c, o, what, ret);
}

int ag_proxy_timeout(const ag_proxy *p, const char *method, double timeout,
		     bool block, agora_value *out)
{
	bool forever = timeout < 0 || isinf(timeout);
	int n = 0;

	if (isnan(timeout))
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s.%s: the timeout is NaN", p->type,
				      method);
	if (block) {
		out[n++] = agora_bool(timeout != 0);
		if (timeout == 0)
			return n;
	}
	out[n++] = forever ? agora_nil() : agora_float(timeout);
	return n;
}

int ag_proxy_call_timed(const ag_proxy *p, const char *method, double timeout,
			bool block, bool *ret)
{
	agora_value args[2];
	int n = ag_proxy_timeout(p, method, timeout, block, args);

	if (n < 0)
		return n;
	return ag_proxy_call_bool(p, method, args, (size_t)n, ret);
}

int ag_proxy_no_result(const ag_proxy *p, const char *method)
{
	return ag_client_fail(p->c, AGORA_EINVAL, "%s.%s needs a result",
			      p->type, method);
}

/* ---- handshake and connect ----------------------------------------------- */

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
	const msgpack_object *r, *ver, *srv, *nonce, *proof;
	agora_value params[2];
	int rc;

	rc = ag_nonce(cnonce);
	if (rc < 0)
		return ag_client_fail(c, rc, "cannot make a random nonce");
	params[0] = agora_int(AG_PROTOCOL_VERSION);
	params[1] = agora_bin(cnonce, sizeof(cnonce));
	rc = rpc(c, "hello", params, 2, &r);
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
	if (ag_server_proof(key, keylen, cnonce, snonce, want) < 0)
		return ag_client_fail(c, AGORA_ENOMEM,
				      "cannot compute the server's proof");
	if (!ag_proof_equal(proof->via.bin.ptr, proof->via.bin.size, want))
		return ag_client_fail(c, AGORA_EAUTH,
				      "the server at %s does not hold the "
				      "authkey",
				      c->address);
	c->server[0] = '\0';
	if (srv != NULL && srv->type == MSGPACK_OBJECT_STR) {
		size_t n = srv->via.str.size;

		if (n >= sizeof(c->server))
			n = sizeof(c->server) - 1;
		memcpy(c->server, srv->via.str.ptr, n);
		c->server[n] = '\0';
	}
	if (ag_client_proof(key, keylen, snonce, cnonce, cproof) < 0)
		return ag_client_fail(c, AGORA_ENOMEM,
				      "cannot compute the client's proof");
	params[0] = agora_bin(cproof, sizeof(cproof));
	rc = rpc(c, "auth", params, 1, &r);
	if (rc == AGORA_EAUTH)
		return ag_client_fail(c, rc, "server refused the authkey");
	if (rc < 0)
		return rc;
	if (r->type != MSGPACK_OBJECT_BOOLEAN || !r->via.boolean)
		return ag_client_fail(c, AGORA_EPROTOCOL,
				      "%s answered auth with %s, not true",
				      c->address, ag_obj_type_name(r));
	return 0;
}

agora_client *agora_client_new(void)
{
	agora_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = -1;
	c->state = ST_NONE;
	ag_buf_init(&c->out);
	long page = sysconf(_SC_PAGESIZE);
	void *m = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED && madvise(m, (size_t)page, MADV_WIPEONFORK) == 0)
		c->mark = m;
	else if (m != MAP_FAILED)
		munmap(m, (size_t)page);
	return c;
}

/*
 * Connect @c to @address and authenticate with @key. A client that is
 * connected and healthy must be freed first (AGORA_EINVAL); a broken one, or
 * one whose connect failed, may connect again. Returns 0; AGORA_EINVAL for a
 * bad address or key; AGORA_EIO when the server cannot be reached or hangs
 * up; AGORA_EAUTH when either side's proof is wrong; AGORA_EVERSION;
 * AGORA_EPROTOCOL; AGORA_ENOMEM. On failure @c is left unconnected, with
 * the reason in agora_errmsg(). Blocks until the handshake is done.
 */
int agora_client_connect(agora_client *c, const char *address, const void *key,
			 size_t keylen)
{
	char *addr;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (c->state != ST_NONE && !same_process(c))
		return client_usable(c, false);
	if (c->state == ST_READY || c->state == ST_HANDSHAKE)
		return ag_client_fail(c, AGORA_EINVAL,
				      "this client is already connected to %s",
				      c->address);
	if (address == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "no address given");
	if (key == NULL || keylen == 0)
		return ag_client_fail(c, AGORA_EINVAL, "the authkey is empty");
	client_disconnect(c);
	c->state = ST_NONE;
	addr = strdup(address);
	if (addr == NULL)
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	free(c->address);
	c->address = addr;
	c->server[0] = '\0';
	c->lost[0] = '\0';
	c->errmsg[0] = '\0';

	if (strncmp(address, "unix:", 5) == 0)
		rc = connect_unix(c, address + 5);
	else if (strncmp(address, "tcp:", 4) == 0)
		rc = connect_tcp(c, address + 4);
	else
		rc = ag_client_fail(c, AGORA_EINVAL,
				    "bad address \"%s\": expected unix:/PATH "
				    "or tcp:HOST:PORT",
				    address);
	if (rc < 0)
		return rc;
	rc = ag_reader_init(&c->reader, HANDSHAKE_MAX_RESPONSE);
	if (rc < 0) {
		close(c->fd);
		c->fd = -1;
		return ag_client_fail(c, rc, "out of memory");
	}
	c->pid = getpid();
	if (c->mark != NULL)
		*c->mark = 1;
	c->state = ST_HANDSHAKE;
	rc = handshake(c, key, keylen);
	if (rc < 0) {
		client_disconnect(c);
		c->state = ST_NONE;
		c->server[0] = '\0';
		return rc;
	}
	ag_reader_set_max(&c->reader, AG_CLIENT_MAX_RESPONSE);
	c->state = ST_READY;
	c->errmsg[0] = '\0';
	return 0;
}

/*
 * agora_client_connect() with the address from AGORA_ADDRESS and the key
 * from the file AGORA_AUTHKEY_FILE names (its bytes less one trailing
 * newline) or, when that is unset, from AGORA_AUTHKEY. The key file is
 * read by the rules every Agora program follows (ag_keyfile.h): a regular
 * file of at most 4096 bytes. AGORA_EINVAL when the variables are unset or
 * the key is empty; AGORA_EIO when the key file cannot be read, is not a
 * regular file or is too large; else as agora_client_connect().
 */
int agora_client_connect_env(agora_client *c)
{
	const char *address, *keyfile, *keyvar;
	char err[sizeof(c->errmsg) - 32];
	uint8_t *key = NULL;
	size_t keylen = 0;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	address = getenv("AGORA_ADDRESS");
	keyfile = getenv("AGORA_AUTHKEY_FILE");
	keyvar = getenv("AGORA_AUTHKEY");
	if (address == NULL || address[0] == '\0')
		return ag_client_fail(c, AGORA_EINVAL,
				      "AGORA_ADDRESS is not set");
	if (keyfile != NULL && keyfile[0] != '\0') {
		rc = ag_keyfile_read(keyfile, 0, &key, &keylen, err,
				     sizeof(err));
		if (rc < 0)
			return ag_client_fail(c, rc, "%s (AGORA_AUTHKEY_FILE)",
					      err);
		rc = agora_client_connect(c, address, key, keylen);
		ag_keyfile_free(key, keylen);
		return rc;
	}
	if (keyvar == NULL || keyvar[0] == '\0')
		return ag_client_fail(c, AGORA_EINVAL,
				      "neither AGORA_AUTHKEY_FILE nor "
				      "AGORA_AUTHKEY is set");
	return agora_client_connect(c, address, keyvar, strlen(keyvar));
}

/*
 * Close the connection and free @c. Sends nothing: closing the socket is
 * how a connection ends, and the server then releases its handles. In a
 * process other than the one that connected, only this process's copy of
 * the socket is closed, so the parent's connection lives on. Accepts NULL.
 */
void agora_client_free(agora_client *c)
{
	if (c == NULL)
		return;
	client_disconnect(c);
	ag_buf_deinit(&c->out);
	free(c->address);
	if (c->mark != NULL)
		munmap((void *)c->mark, (size_t)sysconf(_SC_PAGESIZE));
	free(c);
}

/* ---- generic calls ------------------------------------------------------- */

/*
 * Call @method with the params in the array @params; *ret gets the decoded
 * result (free it), or it is discarded when @ret is NULL. AGORA_EINVAL when
 * @params is not an array. Other returns as ag_client_call(). Blocks until
 * the server answers.
 */
int agora_call(agora_client *c, const char *method, agora_value params,
	       agora_value *ret)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (method == NULL || params.type != AGORA_ARRAY)
		return ag_client_fail(c, AGORA_EINVAL,
				      "agora_call needs a method and an array "
				      "of params");
	return call_as(c, method, params.via.array.items, params.via.array.len,
		       RESULT_VALUE, ret);
}

/* A round trip that checks the server echoes what it was sent. */
int agora_ping(agora_client *c)
{
	agora_value p;
	int64_t got;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	p = agora_int((int64_t)(++c->pings & INT64_MAX));
	rc = call_as(c, "ping", &p, 1, RESULT_INT, &got);
	if (rc < 0)
		return rc;
	if (got != p.via.i)
		return ag_client_fail(c, AGORA_EPROTOCOL,
				      "%s answered ping %" PRId64
				      " with %" PRId64,
				      c->address, p.via.i, got);
	return 0;
}

int agora_stats(agora_client *c, agora_value *ret)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "stats needs a result");
	return call_as(c, "stats", NULL, 0, RESULT_VALUE, ret);
}

int agora_ls(agora_client *c, agora_value *ret)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "ls needs a result");
	return call_as(c, "ls", NULL, 0, RESULT_VALUE, ret);
}

int agora_drop(agora_client *c, const char *name, bool *ret_existed)
{
	agora_value p;

	if (c == NULL)
		return AGORA_EINVAL;
	if (name == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "drop needs a name");
	p = agora_str(name);
	return call_as(c, "drop", &p, 1, RESULT_BOOL, ret_existed);
}

int agora_info(agora_client *c, uint32_t handle, agora_value *ret)
{
	agora_value p = agora_uint(handle);

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "info needs a result");
	return call_as(c, "info", &p, 1, RESULT_VALUE, ret);
}
