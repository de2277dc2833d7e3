/*
 * fencing.c - fencing tokens: a store that refuses a holder who lost the
 * lock without knowing.
 *
 * A holder, A, takes the lock "store" with agora_lock_acquire_fenced() and
 * writes to a store on disk, passing its token. Then A stalls (a GC pause,
 * a swapped-out process, a slow disk: here it waits on a pipe), and the
 * network between A and the server is cut: A talks to the server through
 * a relay process, which the example kills. The server sees A's connection
 * end, counts the lock as abandoned and gives it to the next holder, B
 * (the main process), whose token is larger and who writes too. When A
 * wakes it still believes it holds the lock and writes again with its old
 * token: the store refuses, because it has seen a larger one.
 *
 * Exits 0 when the store took A's first write and B's, and refused A's
 * stale one.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

/* ---- the protected resource ---------------------------------------------- */

/*
 * The store: the file DIR/data, and in DIR/fence the largest token a write
 * has carried. A write with a smaller token is refused: its writer has lost
 * the lock, whether it knows or not. flock() makes the check and the write
 * one step for every process sharing the store. True when it was taken.
 */
static bool store_write(const char *dir, uint64_t token, const char *text)
{
	char path[256], buf[32] = "";
	uint64_t seen;
	ssize_t n;
	FILE *data;
	int fd;

	snprintf(path, sizeof(path), "%s/fence", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		perror(path);
		exit(1);
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	seen = n > 0 ? strtoull(buf, NULL, 10) : 0;
	if (token < seen) {
		close(fd); /* and with it the flock */
		return false;
	}
	snprintf(path, sizeof(path), "%s/data", dir);
	data = fopen(path, "a");
	if (!data) {
		perror(path);
		exit(1);
	}
	fprintf(data, "token %" PRIu64 ": %s\n", token, text);
	fclose(data);
	/* Never fewer digits than before: the number is overwritten whole. */
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", token);
	if (pwrite(fd, buf, (size_t)n, 0) != n) {
		perror("pwrite");
		exit(1);
	}
	close(fd);
	return true;
}

/* ---- the network between A and the server -------------------------------- */

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			_exit(0);
		p += n;
		len -= (size_t)n;
	}
}

/*
 * A process that accepts one connection on the Unix socket @relay_path and
 * copies bytes both ways between it and the server's socket @server_path.
 * Killing it is a partition: the server sees the connection end.
 */
static pid_t start_relay(const char *server_path, const char *relay_path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pollfd p[2];
	char buf[4096];
	int lfd, in, out;
	pid_t pid;

	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", relay_path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 1) < 0) {
		perror(relay_path);
		exit(1);
	}
	pid = fork();
	if (pid != 0) {
		close(lfd);
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	in = accept(lfd, NULL, NULL);
	out = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", server_path);
	if (in < 0 || out < 0 ||
	    connect(out, (struct sockaddr *)&a, sizeof(a)) < 0)
		_exit(1);
	p[0] = (struct pollfd){ .fd = in, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = out, .events = POLLIN };
	for (;;) {
		if (poll(p, 2, -1) < 0)
			_exit(1);
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0)
				_exit(0);
			write_all(p[1 - i].fd, buf, (size_t)n);
		}
	}
}

/* ---- the holders ----------------------------------------------------------
 */

/*
 * A: take the lock through the relay, write with the token, say so on
 * @ready_fd, stall until a byte comes on @wake_fd, and write again with
 * the same token, believing it still holds the lock. Returns 0 when the
 * store refused that second write.
 */
static int slow_holder(const char *dir, const char *relay, int ready_fd,
		       int wake_fd)
{
	agora_client *c = agora_client_new();
	agora_lock *lock;
	uint64_t token;
	char go;

	if (setenv("AGORA_ADDRESS", relay, 1) < 0)
		return 1;
	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_lock_open(c, "store", &lock);
	agora_lock_acquire_fenced(lock, AGORA_FOREVER, NULL, &token);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "A: %s\n", agora_errmsg(c));
		return 1;
	}
	if (!store_write(dir, token, "A, first half"))
		return 1;
	if (write(ready_fd, "w", 1) != 1)
		return 1;

	/* The stall. The lock is lost meanwhile, and nothing tells A. */
	if (read(wake_fd, &go, 1) != 1)
		return 1;
	if (store_write(dir, token, "A, second half")) {
		fprintf(stderr, "the store took a stale write\n");
		return 1;
	}
	printf("A: the store refused token %" PRIu64 ": A lost the lock\n",
	       token);
	return 0;
}

int main(void)
{
	agora_manager *m;
	agora_client *c;
	agora_lock *lock;
	char err[256], dir[] = "/tmp/agora-fencing-XXXXXX";
	char relay_path[96], relay[112], path[160], line[128];
	int ready[2], wake[2], status;
	uint64_t token = 0;
	pid_t relay_pid, a;
	bool got = false;
	char w;
	FILE *data;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_lock_open(c, "store", &lock);
	if (!mkdtemp(dir) || pipe(ready) < 0 || pipe(wake) < 0) {
		perror("setup");
		return 1;
	}
	snprintf(relay_path, sizeof(relay_path), "%s/relay.sock", dir);
	snprintf(relay, sizeof(relay), "unix:%s", relay_path);
	/* The manager's address is "unix:PATH". */
	relay_pid = start_relay(agora_manager_address(m) + 5, relay_path);

	a = fork();
	if (a < 0) {
		perror("fork");
		return 1;
	}
	if (a == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		status = slow_holder(dir, relay, ready[1], wake[0]);
		fflush(stdout);
		_exit(status);
	}

	/* A holds the lock and has written. Now the partition: */
	if (read(ready[0], &w, 1) != 1)
		return 1;
	kill(relay_pid, SIGKILL);
	waitpid(relay_pid, NULL, 0);

	/* The server drops A and hands the lock on: B's token is larger. */
	agora_lock_acquire_fenced(lock, 60.0, &got, &token);
	if (!got || !store_write(dir, token, "B, all of it")) {
		fprintf(stderr, "B could not write%s%s\n",
			agora_client_error(c) < 0 ? ": " : "", agora_errmsg(c));
		return 1;
	}
	agora_lock_release(lock);

	/* A wakes up and writes with its old token; the store refuses. */
	if (write(wake[1], "g", 1) != 1 || waitpid(a, &status, 0) < 0 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "A's stale write was not refused\n");
		return 1;
	}

	/* What the store holds: A's first half and B's write, in order. */
	snprintf(path, sizeof(path), "%s/data", dir);
	data = fopen(path, "r");
	if (!data)
		return 1;
	int lines = 0;
	while (fgets(line, sizeof(line), data)) {
		printf("store: %s", line);
		if (strstr(line, "second half"))
			return 1;
		lines++;
	}
	fclose(data);
	unlink(path);
	snprintf(path, sizeof(path), "%s/fence", dir);
	unlink(path);
	unlink(relay_path);
	rmdir(dir);
	if (lines != 2)
		return 1;

	agora_lock_close(lock);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "fencing: %s\n", agora_errmsg(c));
		return 1;
	}
	return agora_manager_shutdown(m) < 0;
}
