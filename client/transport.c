/*
 * transport.c - the sockets under a client: parse an address, connect(2),
 * send and receive bytes. It knows nothing of agora_client or of the
 * protocol: connection.c and handshake.c turn its errno values into the
 * client's messages and state.
 *
 * Addresses are "unix:/PATH" and "tcp:HOST:PORT" ("tcp:[V6]:PORT" for an
 * IPv6 literal). Every socket is close-on-exec; TCP sockets go without
 * Nagle's delay, since every call is one small request waiting for its
 * answer. Sends never raise SIGPIPE.
 *
 * Deadlines: each operation takes one, in milliseconds of the monotonic
 * clock (ag_transport_now_ms()), or 0 for none. Sockets stay blocking;
 * with a deadline, a receive polls before it reads and a send does not
 * wait for room in the kernel except in poll(), so neither outlasts it,
 * and a connect runs non-blocking. Without one, the calls are the plain
 * blocking ones (the Unix-socket hot path pays nothing). A TCP socket may
 * also have the kernel watch its peer (ag_transport_watch_peer()).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int64_t ag_transport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until @fd is ready for @events or the deadline @deadline_ms (0:
 * none) passed: 0 when ready (or in error: the next operation says which),
 * -ETIMEDOUT at the deadline, or -errno.
 */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int ms = -1, n;

		if (deadline_ms > 0) {
			int64_t left = deadline_ms - ag_transport_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * A Unix socket's connect(2) within @deadline_ms: blocking, so that it
 * waits in the listener's queue for room in a full backlog, first come
 * first served (a non-blocking connect would only be refused and have to
 * try again, behind every other client), with SO_SNDTIMEO, which bounds
 * that wait, set to the time left and taken off again. 0 or -1 with errno
 * set (ETIMEDOUT at the deadline).
 */
static int connect_unix_fd(int fd, const struct sockaddr *sa, socklen_t salen,
			   int64_t deadline_ms)
{
	static const struct timeval none = { 0, 0 };
	int rc, e;

	for (;;) {
		int64_t left = deadline_ms - ag_transport_now_ms();
		struct timeval tv = { (time_t)(left / 1000),
				      (suseconds_t)(left % 1000) * 1000 };

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) <
		    0)
			return -1;
		rc = connect(fd, sa, salen);
		e = errno;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
		if (rc == 0 || (e == EISCONN))
			return 0;
		if (e == EINTR)
			continue;
		errno = e == EAGAIN ? ETIMEDOUT : e;
		return -1;
	}
}

/*
 * connect(2) that survives EINTR (an interrupted connect goes on in the
 * background: wait for it to finish and ask how it went) and gives up at
 * @deadline_ms (0: never), then failing with ETIMEDOUT. 0 or -1 with errno
 * set; @fd is blocking on success.
 */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t salen,
		      int64_t deadline_ms)
{
	socklen_t len = sizeof(int);
	int err = 0, rc, flags = 0;

	if (deadline_ms > 0 && sa->sa_family == AF_UNIX)
		return connect_unix_fd(fd, sa, salen, deadline_ms);
	if (deadline_ms > 0) {
		flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
			return -1;
	}
	if (connect(fd, sa, salen) == 0)
		goto done;
	if (errno != EINTR && errno != EINPROGRESS)
		return -1;
	rc = wait_fd(fd, POLLOUT, deadline_ms);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
done:
	if (deadline_ms > 0 && fcntl(fd, F_SETFL, flags) < 0)
		return -1;
	return 0;
}

/* The failure of a connect with errno @e: AGORA_ETIMEDOUT when the
 * deadline passed, else AGORA_EIO. */
static int connect_failed(const char *address, int e, char *err, size_t errlen)
{
	if (e == ETIMEDOUT)
		return fail(err, errlen, AGORA_ETIMEDOUT,
			    "cannot connect to %s: no connection within the "
			    "time allowed",
			    address);
	return fail(err, errlen, AGORA_EIO, "cannot connect to %s: %s", address,
		    strerror(e));
}

static int connect_unix(const char *address, const char *path,
			int64_t deadline_ms, int *ret_fd, char *err,
			size_t errlen)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (n == 0)
		return fail(err, errlen, AGORA_EINVAL,
			    "bad address \"%s\": the socket path is empty",
			    address);
	if (n >= sizeof(sun.sun_path))
		return fail(err, errlen, AGORA_EINVAL,
			    "bad address \"%s\": the socket path is longer "
			    "than %zu bytes",
			    address, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, errlen, AGORA_EIO, "cannot connect to %s: %s",
			    address, strerror(errno));
	if (connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun), deadline_ms) <
	    0) {
		int e = errno;

		close(fd);
		return connect_failed(address, e, err, errlen);
	}
	*ret_fd = fd;
	return 0;
}

/*
 * Split "HOST:PORT" or "[V6]:PORT" into @host (of @hostlen bytes) and
 * @port. 0 or AGORA_EINVAL with a message.
 */
static int split_host_port(const char *address, const char *rest, char *host,
			   size_t hostlen, char port[6], char *err,
			   size_t errlen)
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
	return fail(err, errlen, AGORA_EINVAL,
		    "bad address \"%s\": expected tcp:HOST:PORT (an IPv6 "
		    "host in brackets, a port 1-65535)",
		    address);
}

static int connect_tcp(const char *address, const char *rest,
		       int64_t deadline_ms, int *ret_fd, char *err,
		       size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[6];
	int rc, e = 0, one = 1, fd = -1;

	rc = split_host_port(address, rest, host, sizeof(host), port, err,
			     errlen);
	if (rc < 0)
		return rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return fail(
		    err, errlen, AGORA_EIO, "cannot connect to %s: %s", address,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect_fd(fd, ai->ai_addr, ai->ai_addrlen, deadline_ms) ==
		    0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			break;
		}
		e = errno;
		close(fd);
		fd = -1;
		if (e == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return connect_failed(address, e ? e : ECONNREFUSED, err,
				      errlen);
	*ret_fd = fd;
	return 0;
}

int ag_transport_connect(const char *address, int64_t deadline_ms, int *ret_fd,
			 char *err, size_t errlen)
{
	if (strncmp(address, "unix:", 5) == 0)
		return connect_unix(address, address + 5, deadline_ms, ret_fd,
				    err, errlen);
	if (strncmp(address, "tcp:", 4) == 0)
		return connect_tcp(address, address + 4, deadline_ms, ret_fd,
				   err, errlen);
	return fail(err, errlen, AGORA_EINVAL,
		    "bad address \"%s\": expected unix:/PATH or tcp:HOST:PORT",
		    address);
}

int ag_transport_watch_peer(int fd, double timeout)
{
	ag_keepalive k = ag_keepalive_for(timeout);
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &k.idle, sizeof(k.idle)) <
		0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &k.interval,
		       sizeof(k.interval)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &k.count,
		       sizeof(k.count)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &k.user_timeout_ms,
		       sizeof(k.user_timeout_ms)) < 0)
		return -errno;
	return 0;
}

int ag_transport_send(int fd, const void *data, size_t len, int64_t deadline_ms)
{
	const char *p = data;
	int flags = MSG_NOSIGNAL | (deadline_ms > 0 ? MSG_DONTWAIT : 0);

	while (len > 0) {
		ssize_t k = send(fd, p, len, flags);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    deadline_ms > 0) {
				int rc = wait_fd(fd, POLLOUT, deadline_ms);

				if (rc < 0)
					return rc;
				continue;
			}
			return -errno;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

ssize_t ag_transport_recv(int fd, void *buf, size_t len, int64_t deadline_ms)
{
	ssize_t k;

	if (deadline_ms > 0) {
		int rc = wait_fd(fd, POLLIN, deadline_ms);

		if (rc < 0)
			return rc;
	}
	do
		k = recv(fd, buf, len, 0);
	while (k < 0 && errno == EINTR);
	return k < 0 ? -errno : k;
}
