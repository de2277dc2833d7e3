/*
 * with_agorad.c - the test driver for the examples that need a real agorad
 * (named_writer/named_reader and remote): not an example itself.
 *
 *     with_agorad AGORAD LISTEN -- PROG [ARG...] [-- PROG [ARG...]]...
 *
 * Makes a private 0700 directory with a 32-byte key file (0600), starts
 * AGORAD --listen LISTEN --authkey-file KEY (LISTEN "unix" means a socket
 * in that directory), reads its stdout until it says where it listens,
 * puts AGORA_ADDRESS and AGORA_AUTHKEY_FILE in the environment, then runs
 * each PROG in turn, one after the other, as unrelated programs would be.
 * In ARGs, "@ADDRESS@" and "@KEYFILE@" are replaced by the address and
 * the key file. At the end it stops agorad with SIGTERM, as an operator
 * would. Exits 0 only when every PROG exited 0 and agorad exited 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_TIMEOUT_MS 30000

static char dir[] = "/tmp/agora-example.XXXXXX";
static char keyfile[64], sock[64], address[256];

static void die(const char *what)
{
	fprintf(stderr, "with_agorad: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void make_key(void)
{
	unsigned char key[32];
	int fd = open("/dev/urandom", O_RDONLY);

	if (fd < 0 || read(fd, key, sizeof(key)) != (ssize_t)sizeof(key))
		die("/dev/urandom");
	close(fd);
	fd = open(keyfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    close(fd) < 0)
		die(keyfile);
}

/* Start agorad with its stdout on a pipe; read until "listening on". */
static pid_t start_agorad(const char *agorad, const char *listen)
{
	const char *prefix = "agorad: listening on ";
	char buf[1024];
	size_t len = 0;
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* agorad must not outlive us, even if we are killed. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execl(agorad, agorad, "--listen", listen, "--authkey-file",
		      keyfile, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		char *nl, *line;
		ssize_t n;

		if (poll(&pfd, 1, START_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "with_agorad: agorad did not start\n");
			exit(1);
		}
		n = read(p[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			fprintf(stderr, "with_agorad: agorad exited early\n");
			exit(1);
		}
		len += (size_t)n;
		buf[len] = '\0';
		line = strstr(buf, prefix);
		if (line && (nl = strchr(line, '\n'))) {
			*nl = '\0';
			snprintf(address, sizeof(address), "%s",
				 line + strlen(prefix));
			break;
		}
		if (len == sizeof(buf) - 1) {
			fprintf(stderr, "with_agorad: unexpected output\n");
			exit(1);
		}
	}
	/* agorad writes nothing more to stdout that we need. */
	close(p[0]);
	return pid;
}

/* Run argv[0..] (NULL-terminated) and return its exit status or -1. */
static int run(char **argv)
{
	int status;
	pid_t pid;

	for (char **a = argv; *a; a++) {
		if (strcmp(*a, "@ADDRESS@") == 0)
			*a = address;
		else if (strcmp(*a, "@KEYFILE@") == 0)
			*a = keyfile;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execv(argv[0], argv);
		fprintf(stderr, "with_agorad: %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "with_agorad: %s failed (status %#x)\n",
			argv[0], status);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int bad = 0, status;
	pid_t pid;

	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: with_agorad AGORAD LISTEN -- PROG "
				"[ARG...] [-- PROG [ARG...]]...\n");
		return 2;
	}
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
	snprintf(sock, sizeof(sock), "unix:%s/agora.sock", dir);
	make_key();
	pid = start_agorad(argv[1],
			   strcmp(argv[2], "unix") == 0 ? sock : argv[2]);
	if (setenv("AGORA_ADDRESS", address, 1) < 0 ||
	    setenv("AGORA_AUTHKEY_FILE", keyfile, 1) < 0)
		die("setenv");
	unsetenv("AGORA_AUTHKEY");

	/* Each "--" ends the previous program's arguments. */
	for (int i = 4; i < argc;) {
		int end = i;

		while (end < argc && strcmp(argv[end], "--") != 0)
			end++;
		argv[end < argc ? end : argc] = NULL;
		if (run(&argv[i]) < 0)
			bad = 1;
		i = end + 1;
	}

	if (kill(pid, SIGTERM) < 0 || waitpid(pid, &status, 0) < 0)
		die("stopping agorad");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "with_agorad: agorad failed (status %#x)\n",
			status);
		bad = 1;
	}
	unlink(keyfile);
	if (rmdir(dir) < 0)
		die(dir);
	return bad;
}
