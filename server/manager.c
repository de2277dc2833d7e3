/*
 * manager.c - Python's Manager() in one call: a private server in a child
 * process, a fresh key, a client for the caller, and the environment that
 * forked workers connect from.
 *
 * The server child lives in a new 0700 directory (socket and key file) and
 * is tied to its parent: PR_SET_PDEATHSIG turns the parent's death, even by
 * SIGKILL, into a SIGTERM, on which the server stops, removes its socket,
 * key file and directory, and exits. It ignores SIGINT, as Python's manager
 * process does, so that ^C reaches the program, which then shuts it down.
 *
 * It is part of libagora-server (it runs the server in the child) and uses
 * libagora's public client API only (the client it hands out).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag_proto.h"
#include "agora.h"
#include "agora_server.h"

struct agora_manager {
	pid_t server;      /* the server child */
	pid_t owner;       /* the process that started it */
	char dir[96];      /* the private directory */
	char path[128];    /* its socket */
	char keyfile[128]; /* its key file */
	char address[160]; /* "unix:" path */
	agora_client *client;
	bool env; /* AGORA_ADDRESS and AGORA_AUTHKEY_FILE set by the start */
};

static void remove_files(const agora_manager *m)
{
	unlink(m->path);
	unlink(m->keyfile);
	rmdir(m->dir);
}

static bool write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return true;
}

/* The server child: never returns. */
static void serve(agora_manager *m, pid_t parent, const uint8_t *key, int ready)
{
	static const int stop[] = { SIGTERM };
	const char *listen[] = { m->address };
	agora_server_config cfg = { 0 };
	agora_server *s;
	char err[256];

	/* Die with the parent; if it is already gone, do not start. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(1);
	signal(SIGINT, SIG_IGN);
	/* Keep none of the parent's descriptors (its sockets, pipes of a
	 * test runner) open: only the ready pipe and stdio. */
	if (ready > 3)
		close_range(3, (unsigned)ready - 1, 0);
	close_range((unsigned)ready + 1, ~0U, 0);

	cfg.listen = listen;
	cfg.nlisten = 1;
	cfg.key = key;
	cfg.keylen = AG_NONCE_LEN;
	cfg.signals = stop;
	cfg.nsignals = 1;
	if (agora_server_new(&cfg, &s, err, sizeof(err)) < 0) {
		write_all(ready, err, strlen(err));
		_exit(1);
	}
	write_all(ready, "ok", 2);
	close(ready);
	int rc = agora_server_run(s);
	/* A second SIGTERM (the parent's death after a kill of both) must
	 * not cut the cleanup short once the loop stopped catching it. */
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	remove_files(m);
	agora_server_free(s);
	_exit(rc < 0 ? 1 : 0);
}

int agora_manager_start(agora_manager **ret, char *err, size_t errlen)
{
	return agora_manager_start_ex(ret, 0, err, errlen);
}

int agora_manager_start_ex(agora_manager **ret, unsigned flags, char *err,
			   size_t errlen)
{
	agora_manager *m;
	uint8_t key[AG_NONCE_LEN];
	int ready[2], fd, rc = AGORA_ENOMEM;
	const char *tmp = getenv("TMPDIR");

	if (ret == NULL)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "no place for the result");
	if ((flags & ~(unsigned)AGORA_MANAGER_NO_ENV) != 0)
		return ag_errf(err, errlen, AGORA_EINVAL,
			       "unknown manager flags 0x%x",
			       flags & ~(unsigned)AGORA_MANAGER_NO_ENV);
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	m->owner = getpid();
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(m->dir, sizeof(m->dir), "%s/agora-XXXXXX", tmp);
	if (mkdtemp(m->dir) == NULL) {
		rc = ag_errf(err, errlen, AGORA_EIO, "cannot create %s: %s",
			     m->dir, strerror(errno));
		free(m);
		return rc;
	}
	snprintf(m->path, sizeof(m->path), "%s/agora.sock", m->dir);
	snprintf(m->keyfile, sizeof(m->keyfile), "%s/key", m->dir);
	snprintf(m->address, sizeof(m->address), "unix:%s", m->path);

	if (ag_nonce(key) < 0) {
		rc = ag_errf(err, errlen, AGORA_EIO, "cannot generate a key");
		goto undo_dir;
	}
	/* A key file's reader drops one trailing newline; end the file with
	 * one, so that a key whose last random byte is '\n' reads back whole
	 * (the server child gets the 32 bytes themselves). */
	fd = open(m->keyfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !write_all(fd, key, sizeof(key)) ||
	    !write_all(fd, "\n", 1)) {
		rc = ag_errf(err, errlen, AGORA_EIO, "cannot write %s: %s",
			     m->keyfile, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto undo_dir;
	}
	close(fd);

	if (pipe2(ready, O_CLOEXEC) < 0) {
		rc = ag_errf(err, errlen, AGORA_EIO, "pipe: %s",
			     strerror(errno));
		goto undo_dir;
	}
	m->server = fork();
	if (m->server < 0) {
		rc = ag_errf(err, errlen, AGORA_EIO, "fork: %s",
			     strerror(errno));
		close(ready[0]);
		close(ready[1]);
		goto undo_dir;
	}
	if (m->server == 0) {
		close(ready[0]);
		serve(m, m->owner, key, ready[1]);
	}
	close(ready[1]);

	/* Wait for "ok" or the child's reason, then EOF. */
	char msg[256];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(msg) - 1 &&
	       ((n = read(ready[0], msg + got, sizeof(msg) - 1 - got)) > 0 ||
		(n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	msg[got] = '\0';
	close(ready[0]);
	if (strcmp(msg, "ok") != 0) {
		waitpid(m->server, NULL, 0);
		rc = ag_errf(err, errlen, AGORA_EIO,
			     "the server did not start: %s",
			     got ? msg : "it exited");
		goto undo_dir;
	}

	m->client = agora_client_new();
	if (m->client == NULL ||
	    (rc = agora_client_connect(m->client, m->address, key,
				       sizeof(key))) < 0) {
		explicit_bzero(key, sizeof(key));
		rc = ag_errf(err, errlen, m->client ? rc : AGORA_ENOMEM,
			     "cannot connect to the server: %s",
			     m->client ? agora_errmsg(m->client)
				       : "out of memory");
		agora_manager_shutdown(m);
		return rc;
	}
	explicit_bzero(key, sizeof(key));
	/* Children and programs started from here (an `agora` command) find
	 * the server as every client does (agora_client_connect_env()). */
	if ((flags & AGORA_MANAGER_NO_ENV) == 0) {
		if (setenv("AGORA_ADDRESS", m->address, 1) < 0 ||
		    setenv("AGORA_AUTHKEY_FILE", m->keyfile, 1) < 0) {
			agora_manager_shutdown(m);
			return ag_errf(err, errlen, AGORA_ENOMEM,
				       "cannot set the environment");
		}
		m->env = true;
	}
	*ret = m;
	return 0;

undo_dir:
	explicit_bzero(key, sizeof(key));
	remove_files(m);
	free(m);
	return rc;
}

agora_client *agora_manager_client(agora_manager *m)
{
	return m ? m->client : NULL;
}

const char *agora_manager_address(const agora_manager *m)
{
	return m ? m->address : NULL;
}

const char *agora_manager_authkey_file(const agora_manager *m)
{
	return m ? m->keyfile : NULL;
}

int agora_manager_shutdown(agora_manager *m)
{
	int status = 0, rc = 0;

	if (m == NULL)
		return 0;
	agora_client_free(m->client);
	if (getpid() == m->owner) {
		kill(m->server, SIGTERM);
		while (waitpid(m->server, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = AGORA_EIO;
		remove_files(m); /* the server did; this is for a crash */
		const char *a = getenv("AGORA_ADDRESS");
		if (m->env && a != NULL && strcmp(a, m->address) == 0) {
			unsetenv("AGORA_ADDRESS");
			unsetenv("AGORA_AUTHKEY_FILE");
		}
	}
	free(m);
	return rc;
}
