/*
 * server.c - an Agora server as a value: listeners, the loop, stopping.
 *
 * agora_server_new() binds every listener before it returns, so a caller
 * can print the addresses (the real port for "tcp:HOST:0") and know the
 * server is reachable. agora_server_run() serves until agora_server_stop(),
 * which may come from any thread: it writes one byte to a pipe the loop
 * watches (write(2) is also safe in a signal handler). Stopping answers
 * every parked request with SHUTDOWN, sends what connections have not been
 * sent yet (within a grace of SHUTDOWN_GRACE_MS), closes every connection
 * and removes the Unix socket files this server created.
 *
 * Accepting: a listener accepts at most ACCEPT_BATCH connections, then
 * sits out until the loop has served the events that are ready (a zero
 * timer runs after them), so that the hello of a client is read before
 * the many connections queued behind it come in (see conn.c on the
 * unauthenticated limit). When the connections in the handshake are at
 * their limit, each new one closes another (conn.c); this happens at most
 * EVICT_RATE times a second (a token bucket of EVICT_BURST): past that the
 * listeners wait for the next token, and the flood waits in the listen
 * backlog, costing the server nothing. A client with the key waits there
 * too, at most LISTEN_BACKLOG over EVICT_RATE seconds. When accept(2)
 * fails for want of descriptors
 * (EMFILE, ENFILE) the listener would report the same error on every loop
 * pass. The server keeps one descriptor in reserve (/dev/null): it gives
 * it up to accept and close the connection waiting, so that client learns
 * at once, and stops accepting for ACCEPT_BACKOFF_MS or until a connection
 * ends, whichever comes first. Repeated log lines of this path are limited
 * to one a second (ag_server_logf_limited(), log.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ag_keyfile.h"
#include "internal.h"

#define ACCEPT_BACKOFF_MS 100
#define ACCEPT_BATCH 16
/* Connections the kernel holds for accept(2). A flood keeps the backlog
 * full, and a keyed client waits behind it: at most LISTEN_BACKLOG over
 * EVICT_RATE seconds, about 125 ms. (Passed to listen(2) here; libevent is
 * told the socket listens already.) */
#define LISTEN_BACKLOG 128
#define EVICT_RATE 1024 /* a second */
#define EVICT_BURST 64
#define SHUTDOWN_GRACE_MS 5000
/* The listen list of a server made by ag_server_new_detached(). */
static const char *const DETACHED[1];

struct ag_listener {
	ag_listener *next;
	ag_server *srv;
	struct evconnlistener *lev;
	bool is_unix;
	bool is_tls;
	char *path;    /* the socket file to remove, for Unix listeners */
	char *address; /* as bound */
};

static ag_server_run *ext(ag_server *s)
{
	return &s->run;
}

int agora_default_address(char *buf, size_t len, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[256];
	struct stat st;

	if (ag_default_address(buf, len) < 0)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "address buffer too small for agorad's default "
			       "address");
	if (xdg && xdg[0] == '/')
		return 0;
	/* /tmp/agora-$UID, which the address names, made ours and 0700. */
	snprintf(dir, sizeof(dir), "/tmp/agora-%u", (unsigned)getuid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return ag_errf(err, errlen, AGORA_EIO, "cannot create %s: %s",
			       dir, strerror(errno));
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != getuid())
		return ag_errf(err, errlen, AGORA_EIO,
			       "%s is not a directory owned by uid %u", dir,
			       (unsigned)getuid());
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) < 0)
		return ag_errf(err, errlen, AGORA_EIO,
			       "cannot chmod 0700 %s: %s", dir,
			       strerror(errno));
	return 0;
}

/* Enable or disable every listener as the pauses say. */
static void accept_update(ag_server *s)
{
	ag_server_run *x = ext(s);
	bool on =
	    !x->backoff && !x->batch_done && !x->evict_wait && !s->stopping;

	if (on == x->accepting)
		return;
	x->accepting = on;
	for (ag_listener *l = s->listeners; l != NULL; l = l->next)
		if (on)
			evconnlistener_enable(l->lev);
		else
			evconnlistener_disable(l->lev);
}

static void on_batch_timer(evutil_socket_t fd, short what, void *arg)
{
	ag_server *s = arg;

	ext(s)->batch_done = false;
	ext(s)->batch = 0;
	accept_update(s);
}

static void on_backoff_timer(evutil_socket_t fd, short what, void *arg)
{
	ag_server *s = arg;

	ext(s)->backoff = false;
	accept_update(s);
}

static void on_evict_timer(evutil_socket_t fd, short what, void *arg)
{
	ag_server *s = arg;

	ext(s)->evict_wait = false;
	accept_update(s);
}

static void slot_freed(ag_server *s)
{
	ag_server_run *x = ext(s);
	bool changed = false;

	if (x->backoff) {
		x->backoff = false;
		evtimer_del(x->backoff_timer);
		changed = true;
	}
	if (x->evict_wait && s->nunauth < s->max_unauth) {
		x->evict_wait = false;
		evtimer_del(x->evict_timer);
		changed = true;
	}
	if (changed)
		accept_update(s);
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Bring the eviction tokens up to now. */
static void tokens_refill(ag_server_run *x)
{
	int64_t now = mono_us();

	x->tokens += (double)(now - x->tokens_us) * EVICT_RATE / 1e6;
	if (x->tokens > EVICT_BURST)
		x->tokens = EVICT_BURST;
	x->tokens_us = now;
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd,
		      struct sockaddr *sa, int socklen, void *arg)
{
	ag_listener *l = arg;
	ag_server *s = l->srv;
	ag_server_run *x = ext(s);

	if (s->nunauth >= s->max_unauth) { /* it will close another */
		tokens_refill(x);
		x->tokens -= 1;
	}
	ag_conn_accept(s, fd, l->is_unix, l->is_tls, sa, socklen);
	if (s->nunauth >= s->max_unauth && !x->evict_wait) {
		tokens_refill(x);
		if (x->tokens < 1) {
			/* Tokens for a batch (fewer wakeups than one token
			 * at a time), or a place freed. */
			struct timeval tv = {
				0, (suseconds_t)((ACCEPT_BATCH - x->tokens) *
						 1e6 / EVICT_RATE) +
				       1
			};
			x->evict_wait = true;
			accept_update(s);
			evtimer_add(x->evict_timer, &tv);
		}
	}
	if (++x->batch >= ACCEPT_BATCH && !x->batch_done) {
		static const struct timeval now = { 0, 0 };
		x->batch_done = true;
		accept_update(s);
		evtimer_add(x->batch_timer, &now);
	}
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	ag_listener *l = arg;
	ag_server *s = l->srv;
	ag_server_run *x = ext(s);
	int e = errno;
	bool shed = false;

	if ((e == EMFILE || e == ENFILE) && x->reserve_fd >= 0) {
		close(x->reserve_fd);
		int fd = accept4(evconnlistener_get_fd(lev), NULL, NULL,
				 SOCK_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			shed = true;
		}
		x->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	ag_server_logf_limited(s, AGORA_LOG_ERROR, AG_LOG_ACCEPT,
			       "accept on %s: %s%s; not accepting for %d ms "
			       "or until a connection ends",
			       l->address, strerror(e),
			       shed ? " (closed the connection waiting)" : "",
			       ACCEPT_BACKOFF_MS);
	static const struct timeval backoff = { 0, ACCEPT_BACKOFF_MS * 1000 };
	x->backoff = true;
	accept_update(s);
	evtimer_add(x->backoff_timer, &backoff);
}

/* The id of group @name, a name or a decimal number. */
static int group_id(const char *name, gid_t *ret, char *err, size_t errlen)
{
	struct group gr, *found = NULL;
	char buf[4096], *end;
	int e;

	if (name[0] == '\0')
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "unix socket group: empty name");
	e = getgrnam_r(name, &gr, buf, sizeof(buf), &found);
	if (found != NULL) {
		*ret = gr.gr_gid;
		return 0;
	}
	errno = 0;
	unsigned long long v = strtoull(name, &end, 10);
	if (*end == '\0' && name[0] != '-' && errno == 0 &&
	    v < (unsigned long long)(gid_t)-1) {
		*ret = (gid_t)v;
		return 0;
	}
	return ag_errf(err, errlen, AGORA_EINVAL,
		       "unix socket group \"%s\": %s", name,
		       e ? strerror(e) : "no such group");
}

static int listen_unix(ag_server *s, ag_listener *l, const char *path,
		       char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path) || path[0] == '\0')
		return ag_errf(
		    err, errlen, AGORA_EINVAL,
		    "unix socket path \"%s\" is empty or longer than "
		    "%zu bytes",
		    path, sizeof(sun.sun_path) - 1);
	strcpy(sun.sun_path, path);

	/* A socket file already there: in use by a live server, or stale. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return ag_errf(err, errlen, AGORA_EINVAL,
				       "%s exists and is not a socket", path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			return ag_errf(err, errlen, AGORA_EINVAL,
				       "another server is listening on unix:%s",
				       path);
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ag_errf(err, errlen, AGORA_EIO, "socket: %s",
			       strerror(errno));
	/* On Linux the socket file takes the mode of the socket's inode less
	 * the umask: 0600 (or narrower) from its first moment, without
	 * changing the process's umask, which the other threads of an
	 * embedding program share. The chmod below then sets the exact mode
	 * whatever the umask was. */
	int rc = fchmod(fd, 0600);
	if (rc == 0)
		rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	int e = errno;
	if (rc < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		if (rc == 0)
			e = errno;
		close(fd);
		return ag_errf(err, errlen, AGORA_EIO,
			       "cannot listen on unix:%s: %s", path,
			       strerror(e));
	}
	/* The group first, then wider bits: no moment where another group
	 * than the one asked for could connect. */
	if (s->unix_gid != (gid_t)-1 &&
	    chown(path, (uid_t)-1, s->unix_gid) < 0) {
		e = errno;
		close(fd);
		unlink(path);
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "cannot give unix:%s to group %s: %s", path,
			       s->unix_group, strerror(e));
	}
	if (chmod(path, s->unix_mode) < 0) {
		e = errno;
		close(fd);
		unlink(path);
		return ag_errf(err, errlen, AGORA_EIO,
			       "cannot chmod %04o unix:%s: %s",
			       (unsigned)s->unix_mode, path, strerror(e));
	}
	l->path = strdup(path);
	l->is_unix = true;
	if (asprintf(&l->address, "unix:%s", path) < 0)
		l->address = NULL;
	l->lev = evconnlistener_new(
	    s->base, on_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->lev == NULL || l->path == NULL || l->address == NULL) {
		if (l->lev == NULL)
			close(fd);
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	}
	return 0;
}

/* A tcp: or tls: (@scheme) listener on @hostport. */
static int listen_tcp(ag_server *s, ag_listener *l, const char *scheme,
		      const char *hostport, char *err, size_t errlen)
{
	char host[256];
	const char *port;
	struct addrinfo hints = { 0 }, *ai = NULL;
	int fd = -1, rc;

	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');
		if (end == NULL || end[1] != ':' ||
		    (size_t)(end - hostport - 1) >= sizeof(host))
			return ag_errf(err, errlen, AGORA_EINVAL,
				       "bad address %s:%s (want %s:[V6]:PORT)",
				       scheme, hostport, scheme);
		memcpy(host, hostport + 1, (size_t)(end - hostport - 1));
		host[end - hostport - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(hostport, ':');
		if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
			return ag_errf(err, errlen, AGORA_EINVAL,
				       "bad address %s:%s (want %s:HOST:PORT)",
				       scheme, hostport, scheme);
		memcpy(host, hostport, (size_t)(colon - hostport));
		host[colon - hostport] = '\0';
		port = colon + 1;
	}
	char *endp;
	long pn = strtol(port, &endp, 10);
	if (*port == '\0' || *endp != '\0' || pn < 0 || pn > 65535)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "bad port \"%s\" in %s:%s", port, scheme,
			       hostport);

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "cannot resolve %s: %s", host, gai_strerror(rc));
	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return ag_errf(err, errlen, AGORA_EIO,
			       "cannot listen on %s:%s: %s", scheme, hostport,
			       strerror(e));
	}
	freeaddrinfo(ai);

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned realport = 0;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		realport = ntohs(s6->sin6_port);
		rc = asprintf(&l->address, "%s:[%s]:%u", scheme, ip, realport);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		realport = ntohs(s4->sin_port);
		rc = asprintf(&l->address, "%s:%s:%u", scheme, ip, realport);
	}
	if (rc < 0)
		l->address = NULL;
	l->lev = evconnlistener_new(
	    s->base, on_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->lev == NULL || l->address == NULL) {
		if (l->lev == NULL)
			close(fd);
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	}
	return 0;
}

static void listener_free(ag_listener *l)
{
	if (l->lev)
		evconnlistener_free(l->lev);
	if (l->path)
		unlink(l->path);
	free(l->path);
	free(l->address);
	free(l);
}

static void close_listeners(ag_server *s)
{
	while (s->listeners) {
		ag_listener *l = s->listeners;
		s->listeners = l->next;
		listener_free(l);
	}
}

static void do_stop(ag_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	close_listeners(s);
	/* The journal first: answers waiting for it can go then. */
	ag_persist_close(s);
	ag_conns_shutdown(s, SHUTDOWN_GRACE_MS);
	ag_conns_free_all(s);
	event_base_loopbreak(s->base);
}

static void on_stop_pipe(evutil_socket_t fd, short what, void *arg)
{
	ag_server *s = arg;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	do_stop(s);
}

/* Reload the users file: 0 when there is none, 1 when done, or a
 * negative code with @why (the old users stay). */
static int reload_users(ag_server *s, char *why, size_t whylen)
{
	ag_users *us = NULL;
	int rc;

	if (s->users == NULL)
		return 0;
	rc = ag_users_load(s->users->path, &us, why, whylen);
	if (rc < 0)
		return rc;
	size_t n = us->n;
	ag_users_apply(s, us);
	ag_server_logf(s, AGORA_LOG_INFO,
		       "reloaded the users file %s: %zu users", s->users->path,
		       n);
	return 1;
}

/*
 * Reload what can be: the TLS certificate, key and client CA, and the
 * users file. Each part that fails keeps what it had and is logged; the
 * first failure is returned.
 */
int ag_server_reload(ag_server *s, char *err, size_t errlen)
{
	char why[512];
	int tls, users, rc = 0;

	tls = ag_tls_reload(s, why, sizeof(why));
	if (tls < 0) {
		ag_server_logf(s, AGORA_LOG_WARNING,
			       "reload failed, the TLS certificate in use is "
			       "kept: %s",
			       why);
		rc = ag_errf(err, errlen, tls, "%s", why);
	} else if (tls > 0) {
		ag_server_logf(s, AGORA_LOG_INFO,
			       "reloaded the TLS certificate %s, key %s%s%s: "
			       "new connections get them",
			       s->tls_cert, s->tls_key,
			       s->tls_ca ? " and client CA " : "",
			       s->tls_ca ? s->tls_ca : "");
	}
	users = reload_users(s, why, sizeof(why));
	if (users < 0) {
		ag_server_logf(s, AGORA_LOG_ERROR,
			       "reload failed, the old users stay: %s", why);
		if (rc == 0)
			rc = ag_errf(err, errlen, users, "%s", why);
	}
	if (tls == 0 && users == 0)
		ag_server_logf(
		    s, AGORA_LOG_INFO,
		    "reloaded: nothing to reload (no TLS listener, no "
		    "users file)");
	return rc;
}

int agora_server_reload(agora_server *s, char *err, size_t errlen)
{
	if (s == NULL)
		return ag_errf(err, errlen, AGORA_EINVAL, "no server");
	return ag_server_reload(s, err, errlen);
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	ag_server *s = arg;

	ag_server_logf(s, AGORA_LOG_INFO, "signal %d (%s): reloading", (int)sig,
		       strsignal((int)sig));
	ag_server_reload(s, NULL, 0);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	ag_server *s = arg;
	ag_server_logf(s, AGORA_LOG_INFO, "signal %d (%s): stopping", (int)sig,
		       strsignal((int)sig));
	do_stop(s);
}

/*
 * Mark this start of @s: a new random run id (AG_RUN_ID_BYTES as lowercase
 * hex, so that a client that connects again can tell a restarted server
 * from the one it knew), and the start time on both clocks. Returns 0 or
 * the error of ag_nonce().
 */
static int run_start(ag_server *s)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[AG_NONCE_LEN];
	struct timespec ts;
	int rc;

	_Static_assert(AG_RUN_ID_BYTES <= AG_NONCE_LEN, "run id too long");
	rc = ag_nonce(rnd);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < AG_RUN_ID_BYTES; i++) {
		s->run_id[2 * i] = hex[rnd[i] >> 4];
		s->run_id[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	s->run_id[2 * AG_RUN_ID_BYTES] = '\0';
	clock_gettime(CLOCK_REALTIME, &ts);
	s->started = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	s->started_ms = ag_mono_ms();
	return 0;
}

int agora_server_new(const agora_server_config *cfg, agora_server **ret,
		     char *err, size_t errlen)
{
	ag_server *s;
	ag_server_run *x;
	int rc = 0;

	if (cfg == NULL || (cfg->key == NULL && cfg->users_file == NULL) ||
	    (cfg->key != NULL && cfg->keylen < 16))
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "the authkey must be at least 16 bytes");
	if (cfg->nlisten == 0 && cfg->listen != DETACHED)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "no address to listen on");
	if (isnan(cfg->peer_timeout) || cfg->peer_timeout > AG_MAX_PEER_TIMEOUT)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "peer timeout %g: want seconds up to %g (0: the "
			       "default %g, negative: never)",
			       cfg->peer_timeout, AG_MAX_PEER_TIMEOUT,
			       AG_DEFAULT_PEER_TIMEOUT);
	if (cfg->unix_mode != 0 &&
	    ((cfg->unix_mode & ~0777u) || (cfg->unix_mode & 0600) != 0600))
		return ag_errf(
		    err, errlen, AGORA_EINVAL,
		    "unix socket mode %04o: want permission bits "
		    "0600 to 0777 that keep the owner's read and write",
		    cfg->unix_mode);
	if (cfg->log_level < 0 || cfg->log_level > AGORA_LOG_DEBUG)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "log level %d: want AGORA_LOG_ERROR (1), "
			       "AGORA_LOG_WARNING (2), AGORA_LOG_INFO (3), "
			       "AGORA_LOG_DEBUG (4), or 0 for info",
			       cfg->log_level);
	bool want_tls = false;
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i] != NULL &&
		    strncmp(cfg->listen[i], "tls:", 4) == 0)
			want_tls = true;
	if (!want_tls && (cfg->tls_cert != NULL || cfg->tls_key != NULL ||
			  cfg->tls_client_ca != NULL))
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "a TLS %s is given but no tls:HOST:PORT "
			       "listener",
			       cfg->tls_cert  ? "certificate"
			       : cfg->tls_key ? "key"
					      : "client CA");
	gid_t gid = (gid_t)-1;
	if (cfg->unix_group != NULL &&
	    (rc = group_id(cfg->unix_group, &gid, err, errlen)) < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	if (!msgpack_zone_init(&s->zone, 8192)) {
		free(s);
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	}
	if (!msgpack_zone_init(&s->req_zone, 8192)) {
		msgpack_zone_destroy(&s->zone);
		free(s);
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	}
	x = &s->run;
	s->slot_freed = slot_freed;
	x->stop_pipe[0] = x->stop_pipe[1] = -1;
	x->reserve_fd = -1;
	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->unauth_new);
	TAILQ_INIT(&s->unauth_hello);
	s->max_message =
	    cfg->max_message ? cfg->max_message : AG_DEFAULT_MAX_MESSAGE;
	s->auth_timeout = cfg->auth_timeout > 0 ? cfg->auth_timeout : 5.0;
	s->peer_timeout = cfg->peer_timeout > 0    ? cfg->peer_timeout
			  : cfg->peer_timeout == 0 ? AG_DEFAULT_PEER_TIMEOUT
						   : 0;
	s->max_conns = cfg->max_connections ? cfg->max_connections : 1024;
	s->max_unauth =
	    cfg->max_unauthenticated ? cfg->max_unauthenticated : 64;
	s->max_memory = cfg->max_memory;
	s->max_items = cfg->max_items;
	s->max_parked = cfg->max_parked ? cfg->max_parked : 10000;
	s->max_output = cfg->max_output ? cfg->max_output : (size_t)64 << 20;
	s->max_txn = cfg->max_txn ? cfg->max_txn : 1024;
	s->unix_mode = cfg->unix_mode ? (mode_t)cfg->unix_mode : 0600;
	s->unix_gid = gid;
	if (cfg->unix_group != NULL)
		snprintf(s->unix_group, sizeof(s->unix_group), "%s",
			 cfg->unix_group);
	s->log = cfg->log;
	s->log_ud = cfg->log_ud;
	s->log_level = cfg->log_level ? cfg->log_level : AGORA_LOG_INFO;
	if (cfg->key != NULL) {
		s->key = malloc(cfg->keylen);
		if (s->key == NULL)
			goto oom;
		memcpy(s->key, cfg->key, cfg->keylen);
		s->keylen = cfg->keylen;
	}
	if (cfg->users_file != NULL &&
	    (rc = ag_users_load(cfg->users_file, &s->users, err, errlen)) < 0) {
		agora_server_free(s);
		return rc;
	}
	uint8_t seed[AG_NONCE_LEN];
	if (ag_nonce(seed) < 0)
		goto oom;
	memcpy(&s->seed, seed, sizeof(s->seed));
	if (run_start(s) < 0)
		goto oom;
	ag_buf_init(&s->scratch);
	ag_registry_init(s);

	s->base = event_base_new();
	if (s->base == NULL)
		goto oom;
	if (pipe2(x->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		goto oom;
	x->stop_ev = event_new(s->base, x->stop_pipe[0], EV_READ | EV_PERSIST,
			       on_stop_pipe, s);
	if (x->stop_ev == NULL || event_add(x->stop_ev, NULL) < 0)
		goto oom;
	x->accepting = true; /* evconnlistener_new() enables */
	x->backoff_timer = evtimer_new(s->base, on_backoff_timer, s);
	x->batch_timer = evtimer_new(s->base, on_batch_timer, s);
	x->evict_timer = evtimer_new(s->base, on_evict_timer, s);
	x->tokens = EVICT_BURST;
	x->tokens_us = mono_us();
	if (x->backoff_timer == NULL || x->batch_timer == NULL ||
	    x->evict_timer == NULL)
		goto oom;
	if (cfg->listen != DETACHED &&
	    (x->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		goto oom;
	if (want_tls && (rc = ag_tls_setup(s, cfg, err, errlen)) < 0) {
		agora_server_free(s);
		return rc;
	}
	if (cfg->reload_signal != 0) {
		s->reload_ev = evsignal_new(s->base, cfg->reload_signal,
					    on_reload_signal, s);
		if (s->reload_ev == NULL ||
		    evsignal_add(s->reload_ev, NULL) < 0)
			goto oom;
	}
	if (cfg->nsignals > AG_MAX_SIGNALS) {
		agora_server_free(s);
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "at most %d stop signals", AG_MAX_SIGNALS);
	}
	for (size_t i = 0; i < cfg->nsignals; i++) {
		x->sigs[i] =
		    evsignal_new(s->base, cfg->signals[i], on_signal, s);
		if (x->sigs[i] == NULL || evsignal_add(x->sigs[i], NULL) < 0)
			goto oom;
	}
	ag_listener **tail = &s->listeners;
	for (size_t i = 0; i < cfg->nlisten; i++) {
		const char *a = cfg->listen[i];
		ag_listener *l = calloc(1, sizeof(*l));
		if (l == NULL)
			goto oom;
		l->srv = s;
		*tail = l;
		tail = &l->next;
		if (strncmp(a, "unix:", 5) == 0)
			rc = listen_unix(s, l, a + 5, err, errlen);
		else if (strncmp(a, "tcp:", 4) == 0)
			rc = listen_tcp(s, l, "tcp", a + 4, err, errlen);
		else if (strncmp(a, "tls:", 4) == 0) {
			l->is_tls = true;
			rc = listen_tcp(s, l, "tls", a + 4, err, errlen);
		} else
			rc = ag_errf(err, errlen, AGORA_EINVAL,
				     "bad address \"%s\": use unix:PATH, "
				     "tcp:HOST:PORT or tls:HOST:PORT",
				     a);
		if (rc < 0) {
			agora_server_free(s);
			return rc;
		}
		evconnlistener_set_error_cb(l->lev, on_accept_error);
	}
	/* Last: the objects are loaded once the server can serve them. */
	rc = ag_persist_open(s, cfg, err, errlen);
	if (rc < 0) {
		agora_server_free(s);
		return rc;
	}
	*ret = s;
	return 0;
oom:
	agora_server_free(s);
	return ag_errf(err, errlen, AGORA_ENOMEM,
		       "out of memory or descriptors creating the server");
}

const char *agora_server_address(const agora_server *s, size_t i)
{
	const ag_listener *l = s ? s->listeners : NULL;

	while (l && i-- > 0)
		l = l->next;
	return l ? l->address : NULL;
}

int agora_server_run(agora_server *s)
{
	if (s == NULL)
		return AGORA_EINVAL;
	if (s->stopping)
		return 0;
	return event_base_dispatch(s->base) < 0 ? AGORA_EIO : 0;
}

void agora_server_stop(agora_server *s)
{
	ag_server_run *x;
	ssize_t n;

	if (s == NULL)
		return;
	x = &s->run;
	do
		n = write(x->stop_pipe[1], "x", 1);
	while (n < 0 && errno == EINTR);
}

void agora_server_free(agora_server *s)
{
	ag_server_run *x;

	if (s == NULL)
		return;
	x = &s->run;
	close_listeners(s);
	ag_persist_close(s);
	ag_conns_free_all(s);
	ag_watch_server_free(s); /* no watch is left: its held changes */
	ag_registry_deinit(s);
	if (x->stop_ev)
		event_free(x->stop_ev);
	if (x->backoff_timer)
		event_free(x->backoff_timer);
	if (x->batch_timer)
		event_free(x->batch_timer);
	if (x->evict_timer)
		event_free(x->evict_timer);
	if (x->reserve_fd >= 0)
		close(x->reserve_fd);
	for (int i = 0; i < AG_MAX_SIGNALS; i++)
		if (x->sigs[i])
			event_free(x->sigs[i]);
	if (s->reload_ev)
		event_free(s->reload_ev);
	for (int i = 0; i < 2; i++)
		if (x->stop_pipe[i] >= 0)
			close(x->stop_pipe[i]);
	if (s->base)
		event_base_free(s->base);
	msgpack_zone_destroy(&s->zone);
	msgpack_zone_destroy(&s->req_zone);
	ag_buf_deinit(&s->scratch);
	ag_tls_teardown(s);
	if (s->key) {
		OPENSSL_cleanse(s->key, s->keylen);
		free(s->key);
	}
	ag_users_free(s->users);
	free(s);
}

int ag_server_new_detached(const void *key, size_t keylen, ag_server **ret)
{
	agora_server_config cfg = { 0 };

	cfg.listen = DETACHED;
	cfg.key = key;
	cfg.keylen = keylen;
	return agora_server_new(&cfg, ret, NULL, 0);
}

void ag_server_run_pending(ag_server *s)
{
	event_base_loop(s->base, EVLOOP_NONBLOCK);
}
