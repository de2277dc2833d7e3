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
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static int connect_unix(const char *address, const char *path, int *ret_fd,
			char *err, size_t errlen)
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
	if (connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		return fail(err, errlen, AGORA_EIO, "cannot connect to %s: %s",
			    address, strerror(e));
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

static int connect_tcp(const char *address, const char *rest, int *ret_fd,
		       char *err, size_t errlen)
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
		if (connect_fd(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			break;
		}
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(err, errlen, AGORA_EIO, "cannot connect to %s: %s",
			    address, strerror(e ? e : ECONNREFUSED));
	*ret_fd = fd;
	return 0;
}

int ag_transport_connect(const char *address, int *ret_fd, char *err,
			 size_t errlen)
{
	if (strncmp(address, "unix:", 5) == 0)
		return connect_unix(address, address + 5, ret_fd, err, errlen);
	if (strncmp(address, "tcp:", 4) == 0)
		return connect_tcp(address, address + 4, ret_fd, err, errlen);
	return fail(err, errlen, AGORA_EINVAL,
		    "bad address \"%s\": expected unix:/PATH or tcp:HOST:PORT",
		    address);
}

int ag_transport_send(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t k = send(fd, p, len, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

ssize_t ag_transport_recv(int fd, void *buf, size_t len)
{
	ssize_t k;

	do
		k = recv(fd, buf, len, 0);
	while (k < 0 && errno == EINTR);
	return k < 0 ? -errno : k;
}
