/*
 * agora_server.h - libagora-server: embed an Agora server in a program, or
 * start a private one in a child process (the manager).
 *
 * Link with `pkg-config --cflags --libs agora-server`; it brings libagora
 * (agora.h, included here), whose client the manager hands out.
 *
 * A server is a value of its own (no global state): two can live in one
 * process. It runs a libevent loop in the thread that calls
 * agora_server_run(); agora_server_stop() may be called from any thread or
 * from a signal-free context to make run() return after answering parked
 * requests with SHUTDOWN, closing connections and removing socket files.
 */
#ifndef AGORA_SERVER_H
#define AGORA_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "agora.h"
#include "agora_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agora_server agora_server;

typedef struct agora_server_config {
	/* Listen addresses, "unix:/path", "tcp:HOST:PORT" or "tls:HOST:PORT"
	 * (port 0: any; IPv6 as [::1]; tls: needs tls_cert and tls_key). */
	const char *const *listen;
	size_t nlisten;
	/* The authkey: at least 16 bytes. Copied. NULL with a users_file
	 * (below): no default user. */
	const void *key;
	size_t keylen;
	/* Frame limit after authentication; 0: 64 MiB. */
	size_t max_message;
	/* Seconds a connection may take to authenticate; 0: 5. */
	double auth_timeout;
	/* Authenticated connections served at once; 0: 1024. Past it a new
	 * connection's first request (or its auth) is answered LIMIT, then
	 * it is closed. Connections still in the handshake do not count:
	 * see max_unauthenticated. */
	unsigned max_connections;
	/* Bytes held for objects (the `memory` of stats) past which storing
	 * a value is refused with LIMIT; 0: no limit. */
	size_t max_memory;
	/* Items one container (list, dict, queue, namespace, array) may hold;
	 * 0: no limit. Past it an insertion is refused with LIMIT. */
	size_t max_items;
	/* Requests one connection may have parked at once; 0: 10000. */
	unsigned max_parked;
	/* Answers a connection may leave unread before it is cut off (a
	 * client that pipelines and never reads); 0: 64 MiB. */
	size_t max_output;
	/* Signals that stop the server, e.g. {SIGINT, SIGTERM} for a daemon;
	 * none for a server embedded in a thread (use agora_server_stop()).
	 * The loop catches them while it runs. */
	const int *signals;
	size_t nsignals;
	/* Permission bits of the Unix sockets it creates; 0: 0600. The
	 * owner keeps read and write; e.g. 0660 lets the socket's group
	 * connect (the key is still required). */
	unsigned unix_mode;
	/* Group of the Unix sockets, a name or a number; NULL: the server
	 * process's. The server must be a member (or root). */
	const char *unix_group;
	/* Where the server's log lines go; NULL: nowhere. Each line is one
	 * event, without a newline, and begins with its level and a colon:
	 * "error: ", "warning: ", "info: " or "debug: " (see log_level). */
	void (*log)(void *ud, const char *line);
	void *log_ud;
	/* Connections still in the handshake at once; 0: 64. One more
	 * closes the oldest of them, so that clients without the key cannot
	 * keep out a client with it. The server holds at most
	 * max_connections + max_unauthenticated connection descriptors
	 * (+1 while it closes the oldest). (Added last: the fields above
	 * keep their places.) */
	unsigned max_unauthenticated;
	/* Seconds a TCP peer may stop answering before its connection is
	 * dropped, with the effects of any connection's end (locks released
	 * and counted as abandoned, waits withdrawn, barriers broken); 0: 30;
	 * negative: never. Detected by TCP keepalive (probes after T/3 idle,
	 * every T/9, each at least 1 s) and TCP_USER_TIMEOUT (T for data
	 * not acknowledged), so a vanished peer goes within T plus one probe
	 * interval whether or not the server writes to it. Unix-socket
	 * peers are unaffected. (Added last.) */
	double peer_timeout;
	/* The least important lines logged: AGORA_LOG_ERROR, _WARNING,
	 * _INFO or _DEBUG (each logs those before it too); 0: info. Debug
	 * adds a line for every connection accepted and ended. (Added
	 * last.) */
	int log_level;
	/* TLS for the tls: listeners (added last): the server's certificate
	 * chain, PEM (its certificate first, then intermediates), and its
	 * private key, PEM, a file that group and others may not read. Both
	 * are required with a tls: listener and refused without one. With
	 * tls_client_ca (PEM, one or more CAs) a client must present a
	 * certificate signed by one of them. TLS 1.2 at least, 1.3 preferred,
	 * OpenSSL's default ciphers, no renegotiation, no compression. The
	 * files are read again by agora_server_reload(). */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_client_ca;
	/* A signal that reloads what can be reloaded (agora_server_reload()),
	 * e.g. SIGHUP for a daemon; 0: none. The loop catches it while it
	 * runs. (Added last.) */
	int reload_signal;
	/* A users file (agorad --users; its format: agorad(8), "USERS"):
	 * named users, each with its own key, rights and reachable names,
	 * that hello names. key (above) stays the default user, with every
	 * right; with a users file key may be NULL: no default user, and a
	 * hello that names no user fails as a wrong key does. NULL: no
	 * users file. Re-read by agora_server_reload(). (Added last.) */
	const char *users_file;
	/*
	 * A data directory: the server's objects are loaded from it at start
	 * and every change is journaled there (docs/protocol.md section 10).
	 * Created 0700 when missing; refused when group or others may use
	 * it; locked while the server runs. NULL: in memory only, nothing
	 * kept. (Added after 1.1.0, with fsync_policy and data_repair.)
	 */
	const char *data_dir;
	/* When the journal is forced to disk: AGORA_FSYNC_EVERYSEC (0, the
	 * default), AGORA_FSYNC_ALWAYS, AGORA_FSYNC_NO. */
	int fsync_policy;
	/* Load a damaged data directory anyway: keep every record up to the
	 * first damage, set the rest aside, and say so in the log. */
	bool data_repair;
	/* Conditions and calls one transaction (the server method txn,
	 * docs/protocol.md section 12) may hold in all; 0: 1024. (Added
	 * last.) */
	unsigned max_txn;
} agora_server_config;

/* agora_server_config.fsync_policy. EVERYSEC: an answer goes once its
 * change is written to the journal (a crash of the server loses nothing),
 * which is forced to disk once a second (a crash of the machine loses at
 * most about a second). ALWAYS: an answer goes once its change is on disk
 * (one fsync for all a loop turn made). NO: written, never forced. */
enum {
	AGORA_FSYNC_EVERYSEC = 0,
	AGORA_FSYNC_ALWAYS = 1,
	AGORA_FSYNC_NO = 2,
};

/* Levels of the server's log lines (agora_server_config.log_level). */
enum {
	AGORA_LOG_ERROR = 1,   /* the server could not do its job */
	AGORA_LOG_WARNING = 2, /* a client refused or gone with effects */
	AGORA_LOG_INFO = 3,    /* stops, operators' kills (the default) */
	AGORA_LOG_DEBUG = 4,   /* every connection accepted and ended */
};

/*
 * Create a server and bind its listeners. Returns 0 and *ret, or a negative
 * AGORA_E* code with a sentence in @err (NUL-terminated, @errlen bytes).
 */
AGORA_API int agora_server_new(const agora_server_config *cfg,
			       agora_server **ret, char *err, size_t errlen);
/* The address of listener @i as bound (real port for port 0); NULL past
 * the last. The string lives as long as the server. */
AGORA_API const char *agora_server_address(const agora_server *s, size_t i);
/* Serve until agora_server_stop() (or a stop signal). Returns 0, or negative on
 * loop failure. */
AGORA_API int agora_server_run(agora_server *s);
/*
 * Reload without a restart what can be reloaded: the TLS certificate, key
 * and client CA, read again from their files into a new TLS context that
 * new connections get; connections already open keep the certificate they
 * were shown. A failure keeps the old state. Each outcome is logged
 * ("info: reloaded ..." or a warning saying why not). Returns 0 (also
 * when there is nothing to reload), or a negative AGORA_E* code with a
 * sentence in @err. Call it from the thread that runs agora_server_run()
 * (or while it does not run); from elsewhere, use reload_signal.
 */
AGORA_API int agora_server_reload(agora_server *s, char *err, size_t errlen);
/* Ask a running server to stop; safe from any thread. */
AGORA_API void agora_server_stop(agora_server *s);
/* Re-read what can change without a restart (the users file); agorad
 * calls it on SIGHUP. Call it from the thread that runs the server (or
 * before it runs). On failure the old state is kept, the reason logged
 * and put in @err, and a negative code returned; 0 otherwise. */
AGORA_API int agora_server_reload(agora_server *s, char *err, size_t errlen);
/* Free a server that is not running. Accepts NULL. */
AGORA_API void agora_server_free(agora_server *s);

/* "unix:$XDG_RUNTIME_DIR/agora.sock", else "unix:/tmp/agora-$UID/agora.sock",
 * creating the directory 0700. Returns 0 or negative with a message. */
AGORA_API int agora_default_address(char *buf, size_t len, char *err,
				    size_t errlen);

/* ---- manager -------------------------------------------------------------
 *
 * Python's `with Manager() as m:` in C. agora_manager_start() starts a
 * private server in a child process (a fresh 32-byte key, a Unix socket in a
 * new 0700 directory), connects a client for the caller, and puts
 * AGORA_ADDRESS and AGORA_AUTHKEY_FILE in the environment so that forked
 * workers connect with agora_client_connect_env(), and a program or an
 * `agora` command started from here (system(), exec) reaches the same
 * server (agora_manager_start_ex() with AGORA_MANAGER_NO_ENV leaves the
 * environment alone; agora_manager_address() and
 * agora_manager_authkey_file() say where it is either way).
 * agora_manager_shutdown() unsets the two variables again if they still
 * name this manager. The
 * server child exits when its parent dies, even by SIGKILL, and removes its
 * socket and key; it ignores SIGINT. Call it before starting threads (it
 * forks) and from the thread that will live longest (the child is tied to
 * the thread that started it). The server is a child process of the
 * caller, as Python's manager process is: wait for workers by pid
 * (waitpid), since `while (wait(NULL) > 0)` would also wait for the server,
 * which only ends at agora_manager_shutdown().
 */

typedef struct agora_manager agora_manager;

/* Start it. Returns 0, or a negative code with a sentence in @err. */
AGORA_API int agora_manager_start(agora_manager **ret, char *err,
				  size_t errlen);
/* agora_manager_start_ex()'s flags. */
enum {
	/* Do not set AGORA_ADDRESS and AGORA_AUTHKEY_FILE: for a program
	 * that runs more than one manager, or whose children must reach
	 * another server. */
	AGORA_MANAGER_NO_ENV = 0x1,
};
/* agora_manager_start() with @flags (0 or AGORA_MANAGER_NO_ENV; any other
 * bit is AGORA_EINVAL). */
AGORA_API int agora_manager_start_ex(agora_manager **ret, unsigned flags,
				     char *err, size_t errlen);
/* The caller's client, owned by the manager. */
AGORA_API agora_client *agora_manager_client(agora_manager *m);
/* The server's address ("unix:/tmp/agora-XXXXXX/agora.sock") and the path
 * of its key file, valid until agora_manager_shutdown(): what
 * AGORA_ADDRESS and AGORA_AUTHKEY_FILE are set to. */
AGORA_API const char *agora_manager_address(const agora_manager *m);
AGORA_API const char *agora_manager_authkey_file(const agora_manager *m);
/* Stop the server (parked calls get AGORA_ESHUTDOWN), wait for it, free
 * the manager and its client. In a forked child it only frees memory.
 * Returns 0, or AGORA_EIO when the server did not exit cleanly. Accepts
 * NULL. */
AGORA_API int agora_manager_shutdown(agora_manager *m);

#ifdef __cplusplus
}
#endif

#endif
