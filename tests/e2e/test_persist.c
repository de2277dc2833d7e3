/*
 * test_persist.c - agorad --data-dir (docs/protocol.md section 10, the
 * guide's "Persistence"): what a data directory holds after a crash, how
 * damage is told and repaired, the directory's lock and mode, a full disk,
 * and what comes back after a restart, type by type.
 *
 * Each test runs its own agorad with --data-dir (not the harness's: these
 * read what agorad writes to stderr, and some expect it to refuse to
 * start). Its stdout and stderr go to one pipe the test reads: up to the
 * listening line when it starts, to the end when it stops or exits. Damage
 * is made by hand in the files (format: docs/protocol.md section 10): a
 * file is a 16-byte header (8-byte magic, a 4-byte big-endian version,
 * 4 zero bytes), then records of a 4-byte big-endian length, a 4-byte CRC-32
 * and the payload; a journal is reserved ahead, zeros after its last
 * record.
 *
 * The disk-full test mounts a 16 MiB tmpfs in a mount namespace of its
 * own (unshare(CLONE_NEWNS)): it needs root; without it the test says it
 * is skipped. The namespace ends with the test's process, so the mount
 * never outlives the test, whichever way it ends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define LOG_MAX (1 << 18)

/* ---- an agorad of the test's own ------------------------------------------
 */

typedef struct pserv {
	char dir[64];   /* the test's directory: socket, key, data */
	char data[192]; /* --data-dir */
	char sock[128];
	char addr[160];
	char keyfile[128];
	unsigned char key[AGH_KEYLEN];
	pid_t pid;
	int out;   /* its stdout and stderr */
	char *log; /* all it wrote, NUL-terminated */
	size_t loglen;
} pserv;

/* The running servers, killed at exit. */
static pid_t running[4];

/* Every directory of a test is made in @base, which main() removes at
 * the end (a failed check ends a test's process without cleaning up). */
static char base[40];
/* The tmpfs mounted, when a failed check left it (without Check's fork
 * mode the process goes on; with it, the mount namespace ended with the
 * test's process). */
static char mounted[128];

static void track(pid_t pid, pid_t old)
{
	for (int i = 0; i < 4; i++)
		if (running[i] == old) {
			running[i] = pid;
			return;
		}
}

static void kill_running(void)
{
	for (int i = 0; i < 4; i++)
		if (running[i] > 0) {
			kill(running[i], SIGKILL);
			waitpid(running[i], NULL, 0);
			running[i] = 0;
		}
}

/* A directory, a key; the data directory @dir/data unless @data. */
static void ps_init(pserv *ps, const char *data)
{
	static bool registered;

	if (!registered) {
		atexit(kill_running);
		registered = true;
	}
	memset(ps, 0, sizeof(*ps));
	ps->out = -1;
	snprintf(ps->dir, sizeof(ps->dir), "%s/s-XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(ps->dir));
	snprintf(ps->sock, sizeof(ps->sock), "%s/agora.sock", ps->dir);
	snprintf(ps->addr, sizeof(ps->addr), "unix:%s", ps->sock);
	snprintf(ps->keyfile, sizeof(ps->keyfile), "%s/key", ps->dir);
	if (data != NULL)
		snprintf(ps->data, sizeof(ps->data), "%s", data);
	else
		snprintf(ps->data, sizeof(ps->data), "%s/data", ps->dir);
	ck_assert_int_eq(getrandom(ps->key, sizeof(ps->key), 0),
			 sizeof(ps->key));
	if (ps->key[AGH_KEYLEN - 1] == '\n')
		ps->key[AGH_KEYLEN - 1] = 'k';
	int fd = open(ps->keyfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, ps->key, sizeof(ps->key)), sizeof(ps->key));
	ck_assert_int_eq(close(fd), 0);
	ps->log = calloc(1, LOG_MAX + 1);
	ck_assert_ptr_nonnull(ps->log);
}

static void ps_free(pserv *ps)
{
	agh_remove_tree(ps->dir, false);
	free(ps->log);
	ps->log = NULL;
}

/* Start agorad --listen --authkey-file --data-dir and @extra (NULL
 * terminated, or NULL); its log starts anew. */
static void ps_spawn(pserv *ps, const char *const *extra)
{
	const char *agorad = getenv("AGORAD");
	const char *argv[24];
	int n = 0, p[2];
	pid_t parent = getpid();

	ck_assert_msg(agorad != NULL, "AGORAD must name agorad");
	argv[n++] = agorad;
	argv[n++] = "--listen";
	argv[n++] = ps->addr;
	argv[n++] = "--authkey-file";
	argv[n++] = ps->keyfile;
	argv[n++] = "--data-dir";
	argv[n++] = ps->data;
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 23; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
	ps->loglen = 0;
	ps->log[0] = '\0';
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 ||
		    dup2(p[1], 2) < 0)
			_exit(127);
		execv(agorad, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	ps->pid = pid;
	ps->out = p[0];
	track(pid, 0);
}

/* Read its output until @want is in the log (true) or it closes its end,
 * or @timeout passes (false). */
static bool ps_read_until(pserv *ps, const char *want, double timeout)
{
	double deadline = agh_now() + timeout;

	for (;;) {
		if (want != NULL && strstr(ps->log, want) != NULL)
			return true;
		double left = deadline - agh_now();
		if (left <= 0 || ps->out < 0)
			return false;
		struct pollfd pf = { ps->out, POLLIN, 0 };
		int r = poll(&pf, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		char buf[4096];
		ssize_t got = read(ps->out, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			close(ps->out);
			ps->out = -1;
			continue;
		}
		size_t keep = (size_t)got;
		if (ps->loglen + keep > LOG_MAX)
			keep = LOG_MAX - ps->loglen;
		memcpy(ps->log + ps->loglen, buf, keep);
		ps->loglen += keep;
		ps->log[ps->loglen] = '\0';
	}
}

/* A report of the sanitizers or valgrind in its output (those of an
 * agorad killed with SIGKILL would change no exit status). */
static void assert_clean_log(const pserv *ps)
{
	static const char *const reports[] = {
		"AddressSanitizer", "LeakSanitizer", "runtime error:",
		"Invalid read",     "Invalid write", "Conditional jump",
		"uninitialised",    "Syscall param", "definitely lost",
	};

	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++)
		ck_assert_msg(strstr(ps->log, reports[i]) == NULL,
			      "agorad's output has \"%s\": %s", reports[i],
			      ps->log);
}

/* Wait for its exit; its wait status. */
static int ps_wait(pserv *ps, double timeout)
{
	int status = 0;
	double deadline = agh_now() + timeout;

	for (;;) {
		pid_t r = waitpid(ps->pid, &status, WNOHANG);
		if (r == ps->pid)
			break;
		ck_assert_msg(agh_now() < deadline,
			      "agorad did not exit; its output: %s", ps->log);
		ps_read_until(ps, NULL, 0.05);
	}
	track(0, ps->pid);
	ps->pid = 0;
	ps_read_until(ps, NULL, 5.0); /* the rest of its output */
	if (ps->out >= 0) {
		close(ps->out);
		ps->out = -1;
	}
	assert_clean_log(ps);
	return status;
}

/* Start it and wait until it listens. */
static void ps_start(pserv *ps, const char *const *extra)
{
	char want[256];

	snprintf(want, sizeof(want), "agorad: listening on %s\n", ps->addr);
	ps_spawn(ps, extra);
	if (!ps_read_until(ps, want, AGH_START_TIMEOUT)) {
		kill(ps->pid, SIGKILL);
		ps_wait(ps, AGH_STOP_TIMEOUT);
		ck_abort_msg("agorad did not start; its output: %s", ps->log);
	}
}

/* Start it and require that it refuses: exit status 1. Its output is in
 * ps->log. */
static void ps_start_fails(pserv *ps, const char *const *extra)
{
	ps_spawn(ps, extra);
	int status = ps_wait(ps, AGH_START_TIMEOUT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "agorad should have refused to start (exit 1), status "
		      "0x%x; its output: %s",
		      status, ps->log);
}

/* A crash: SIGKILL. */
static void ps_kill(pserv *ps)
{
	ck_assert_int_eq(kill(ps->pid, SIGKILL), 0);
	ps_wait(ps, AGH_STOP_TIMEOUT);
	unlink(ps->sock);
}

/* SIGTERM: it must exit 0. */
static void ps_stop(pserv *ps)
{
	ck_assert_int_eq(kill(ps->pid, SIGTERM), 0);
	int status = ps_wait(ps, AGH_STOP_TIMEOUT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "agorad did not exit 0 after SIGTERM (0x%x): %s", status,
		      ps->log);
}

static agora_client *ps_connect(const pserv *ps)
{
	agora_client *c = agora_client_new();

	ck_assert_ptr_nonnull(c);
	AGH_OK(c, agora_client_connect(c, ps->addr, ps->key, sizeof(ps->key)));
	return c;
}

static void assert_log_has(const pserv *ps, const char *what)
{
	ck_assert_msg(strstr(ps->log, what) != NULL,
		      "agorad's output does not say \"%s\": %s", what, ps->log);
}

/* ---- the files ------------------------------------------------------------
 */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The newest file of the data directory whose name begins with @prefix
 * and ends with @suffix, into @path; false when there is none. */
static bool newest_file(const pserv *ps, const char *prefix, const char *suffix,
			char *path, size_t len)
{
	DIR *d = opendir(ps->data);
	struct dirent *e;
	char best[256] = "";

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name), sl = strlen(suffix);
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && n > sl &&
		    strcmp(e->d_name + n - sl, suffix) == 0 &&
		    strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	closedir(d);
	if (best[0] == '\0')
		return false;
	snprintf(path, len, "%s/%s", ps->data, best);
	return true;
}

static void last_journal(const pserv *ps, char *path, size_t len)
{
	ck_assert_msg(newest_file(ps, "journal-", ".agj", path, len),
		      "no journal in %s", ps->data);
}

/* The whole of @path (malloc'ed) and its size. */
static uint8_t *slurp(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	uint8_t *m = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(pread(fd, m, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*ret_len = (size_t)st.st_size;
	return m;
}

static void patch(const char *path, size_t off, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
}

/* The offsets of the records of a file's image (@nrec of them, at most
 * @max), and where the last one ends. */
static size_t records(const uint8_t *m, size_t size, size_t *offs, size_t max,
		      size_t *nrec)
{
	size_t off = 16, n = 0;

	ck_assert_uint_ge(size, 16);
	while (off + 8 <= size) {
		uint32_t len = be32(m + off);
		if (len == 0 || len > size - off - 8)
			break;
		if (n < max)
			offs[n] = off;
		n++;
		off += 8 + len;
	}
	*nrec = n;
	return off;
}

/* The offset of the record of @m whose payload holds @needle. */
static size_t record_with(const uint8_t *m, size_t size, const char *needle)
{
	size_t offs[4096], n;

	records(m, size, offs, 4096, &n);
	for (size_t i = 0; i < n && i < 4096; i++) {
		uint32_t len = be32(m + offs[i]);
		if (memmem(m + offs[i] + 8, len, needle, strlen(needle)))
			return offs[i];
	}
	ck_abort_msg("no record holds \"%s\"", needle);
	return 0;
}

/* ---- objects --------------------------------------------------------------
 */

/* Fill the dict "d" with "k<i>" -> "value-<i>" for i in [from, to). */
static void fill_dict(agora_client *c, int from, int to)
{
	agora_dict *d = NULL;
	char k[32], v[32];

	AGH_OK(c, agora_dict_open(c, "d", &d));
	for (int i = from; i < to; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "value-%d", i);
		AGH_OK(c, agora_dict_set(d, agora_str(k), agora_str(v)));
	}
	AGH_OK(c, agora_dict_close(d));
}

/* Require "d" to hold exactly the keys [0, @n) as fill_dict made them. */
static void assert_dict(agora_client *c, int n)
{
	agora_dict *d = NULL;
	size_t len = 0;
	char k[32], v[32];

	AGH_OK(c, agora_open_ex(c, "dict", "d", NULL, 0, AGORA_OPEN_NO_CREATE,
				&d));
	AGH_OK(c, agora_dict_len(d, &len));
	ck_assert_msg(len == (size_t)n, "the dict has %zu keys, want %d", len,
		      n);
	for (int i = 0; i < n; i++) {
		agora_value got;
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "value-%d", i);
		AGH_OK(c, agora_dict_get(d, agora_str(k), &got));
		agh_assert_str(got, v);
		agora_value_free(&got);
	}
	AGH_OK(c, agora_dict_close(d));
}

/* The list "l" gets 0..n-1, the value "v" (made 0) n adds. */
static void fill_list_and_value(agora_client *c, int n)
{
	agora_list *l = NULL;
	agora_var *v = NULL;

	AGH_OK(c, agora_list_open(c, "l", &l));
	AGH_OK(c, agora_var_open(c, "v", agora_int(0), &v));
	for (int i = 0; i < n; i++) {
		AGH_OK(c, agora_list_append(l, agora_int(i)));
		AGH_OK(c, agora_var_add_int(v, 1, NULL));
	}
	AGH_OK(c, agora_list_close(l));
	AGH_OK(c, agora_var_close(v));
}

static void assert_list_and_value(agora_client *c, int n)
{
	agora_list *l = NULL;
	agora_var *v = NULL;
	agora_value items;
	int64_t want[256], x = -1;

	ck_assert_int_le(n, 256);
	AGH_OK(c, agora_open_ex(c, "list", "l", NULL, 0, AGORA_OPEN_NO_CREATE,
				&l));
	AGH_OK(c, agora_open_ex(c, "value", "v", NULL, 0, AGORA_OPEN_NO_CREATE,
				&v));
	AGH_OK(c, agora_list_copy(l, &items));
	for (int i = 0; i < n; i++)
		want[i] = i;
	agh_assert_ints(items, want, (size_t)n);
	agora_value_free(&items);
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_int_eq(x, n);
	AGH_OK(c, agora_list_close(l));
	AGH_OK(c, agora_var_close(v));
}

/* ---- (a) a torn tail ------------------------------------------------------
 */

START_TEST(garbage_after_the_last_record_is_dropped_with_a_line)
{
	pserv ps;
	char path[512], want[128];
	size_t size, n;

	ps_init(&ps, NULL);
	ps_start(&ps, NULL);
	agora_client *c = ps_connect(&ps);
	fill_dict(c, 0, 40);
	fill_list_and_value(c, 20);
	agora_client_free(c);
	ps_kill(&ps);

	/* A crash in the middle of writing a record: its head and a part of
	 * it, not a whole record, after the last one. */
	last_journal(&ps, path, sizeof(path));
	uint8_t *m = slurp(path, &size);
	size_t end = records(m, size, NULL, 0, &n);
	free(m);
	ck_assert_uint_gt(n, 60);
	static const uint8_t junk[24] = { 0,    0,    1,   0,   0xde, 0xad,
					  0xbe, 0xef, 'p', 'a', 'r',  't',
					  'i',  'a',  'l', ' ', 'r',  'e',
					  'c',  'o',  'r', 'd', '!',  '!' };
	patch(path, end, junk, sizeof(junk));

	ps_start(&ps, NULL);
	snprintf(want, sizeof(want), "dropping %zu bytes at offset %zu",
		 sizeof(junk), end);
	assert_log_has(&ps, want);
	c = ps_connect(&ps);
	assert_dict(c, 40);
	assert_list_and_value(c, 20);
	/* It goes on from there: a change, a crash, a clean start. */
	fill_dict(c, 40, 41);
	agora_client_free(c);
	ps_kill(&ps);
	ps_start(&ps, NULL);
	ck_assert_msg(strstr(ps.log, "dropping") == NULL, "%s", ps.log);
	c = ps_connect(&ps);
	assert_dict(c, 41);
	assert_list_and_value(c, 20);
	agora_client_free(c);
	ps_stop(&ps);
	ps_free(&ps);
}
END_TEST

START_TEST(a_last_record_cut_in_half_is_dropped_and_the_rest_kept)
{
	pserv ps;
	char path[512], want[128];
	size_t size, n, offs[1024];

	ps_init(&ps, NULL);
	ps_start(&ps, NULL);
	agora_client *c = ps_connect(&ps);
	fill_dict(c, 0, 30);
	fill_list_and_value(c, 10);
	agora_dict *d = NULL;
	AGH_OK(c, agora_dict_open(c, "d", &d));
	AGH_OK(c, agora_dict_set(d, agora_str("last"),
				 agora_str("the record that is cut")));
	AGH_OK(c, agora_dict_close(d));
	agora_client_free(c);
	ps_kill(&ps);

	/* The file ends in the middle of the last record, as when the
	 * machine stopped while it was written. */
	last_journal(&ps, path, sizeof(path));
	uint8_t *m = slurp(path, &size);
	size_t end = records(m, size, offs, 1024, &n);
	ck_assert_uint_gt(n, 40);
	size_t last = offs[n - 1];
	ck_assert_uint_eq(record_with(m, size, "the record that is cut"), last);
	size_t cut = last + (end - last) / 2;
	/* The bytes of the kept half up to its last non-zero one are what
	 * the log counts. */
	size_t nz = cut;
	while (nz > last && m[nz - 1] == 0)
		nz--;
	free(m);
	ck_assert_int_eq(truncate(path, (off_t)cut), 0);

	ps_start(&ps, NULL);
	snprintf(want, sizeof(want), "dropping %zu bytes at offset %zu",
		 nz - last, last);
	assert_log_has(&ps, want);
	c = ps_connect(&ps);
	assert_dict(c, 30); /* and no "last" */
	assert_list_and_value(c, 10);
	agora_client_free(c);
	ps_stop(&ps);
	ps_free(&ps);
}
END_TEST

/* ---- (b) a flipped byte in the middle -------------------------------------
 */

START_TEST(a_flipped_byte_mid_journal_stops_the_start_and_repair_keeps_before)
{
	pserv ps;
	char path[512], want[640], damaged[600];
	size_t size;

	ps_init(&ps, NULL);
	ps_start(&ps, NULL);
	agora_client *c = ps_connect(&ps);
	fill_dict(c, 0, 50);
	agora_client_free(c);
	ps_kill(&ps);

	/* One byte of the payload of the record that set k25 (valid ones
	 * follow it) is changed. */
	last_journal(&ps, path, sizeof(path));
	uint8_t *m = slurp(path, &size);
	size_t at = record_with(m, size, "value-25");
	uint8_t b = (uint8_t)(m[at + 8 + 4] ^ 0x20);
	free(m);
	patch(path, at + 8 + 4, &b, 1);

	ps_start_fails(&ps, NULL);
	snprintf(want, sizeof(want), "%s: offset %zu: ", path, at);
	assert_log_has(&ps, want);
	assert_log_has(&ps, "checksum does not match");
	assert_log_has(&ps, "--data-repair");

	/* With --data-repair: the 25 sets before the damage, not one after;
	 * the damaged file kept. */
	static const char *const repair[] = { "--data-repair", NULL };
	ps_start(&ps, repair);
	snprintf(damaged, sizeof(damaged), "%s.damaged", path);
	ck_assert_msg(agh_path_exists(damaged), "no %s; output: %s", damaged,
		      ps.log);
	c = ps_connect(&ps);
	assert_dict(c, 25);
	fill_dict(c, 25, 27);
	agora_client_free(c);
	ps_stop(&ps);

	/* Repaired: it starts as any other, without the flag. */
	ps_start(&ps, NULL);
	c = ps_connect(&ps);
	assert_dict(c, 27);
	agora_client_free(c);
	ps_stop(&ps);
	ps_free(&ps);
}
END_TEST

/* ---- (c) a flipped byte in a snapshot -------------------------------------
 */

START_TEST(a_flipped_byte_in_a_snapshot_stops_the_start_naming_it)
{
	pserv ps;
	char path[512];
	size_t size;
	agora_value saved;

	ps_init(&ps, NULL);
	ps_start(&ps, NULL);
	agora_client *c = ps_connect(&ps);
	fill_dict(c, 0, 50);
	fill_list_and_value(c, 10);
	AGH_OK(c, agora_save(c, &saved));
	int64_t gen = agh_map_int(saved, "generation");
	ck_assert_int_gt(agh_map_int(saved, "bytes"), 16);
	agora_value_free(&saved);
	agora_client_free(c);
	ps_stop(&ps);

	/* The snapshot alone starts well. */
	ps_start(&ps, NULL);
	c = ps_connect(&ps);
	assert_dict(c, 50);
	assert_list_and_value(c, 10);
	agora_client_free(c);
	ps_stop(&ps);

	ck_assert(newest_file(&ps, "snapshot-", ".ags", path, sizeof(path)));
	char name[64];
	snprintf(name, sizeof(name), "snapshot-%016llx.ags",
		 (unsigned long long)gen);
	ck_assert_msg(strstr(path, name) != NULL, "%s is not %s", path, name);
	uint8_t *m = slurp(path, &size);
	size_t at = record_with(m, size, "value-30");
	uint8_t b = (uint8_t)(m[at + 8 + 4] ^ 0x01);
	free(m);
	patch(path, at + 8 + 4, &b, 1);

	ps_start_fails(&ps, NULL);
	char want[640];
	snprintf(want, sizeof(want), "%s: offset %zu: ", path, at);
	assert_log_has(&ps, want);
	assert_log_has(&ps, "--data-repair");

	/* --data-repair starts with what came before the damage, the
	 * snapshot kept aside. */
	static const char *const repair[] = { "--data-repair", NULL };
	ps_start(&ps, repair);
	char damaged[600];
	snprintf(damaged, sizeof(damaged), "%s.damaged", path);
	ck_assert_msg(agh_path_exists(damaged), "no %s; output: %s", damaged,
		      ps.log);
	c = ps_connect(&ps);
	fill_dict(c, 100, 101);
	agora_client_free(c);
	ps_stop(&ps);
	ps_start(&ps, NULL);
	c = ps_connect(&ps);
	agora_dict *d = NULL;
	agora_value got;
	AGH_OK(c, agora_open_ex(c, "dict", "d", NULL, 0, AGORA_OPEN_NO_CREATE,
				&d));
	AGH_OK(c, agora_dict_get(d, agora_str("k100"), &got));
	agh_assert_str(got, "value-100");
	agora_value_free(&got);
	AGH_OK(c, agora_dict_close(d));
	agora_client_free(c);
	ps_stop(&ps);
	ps_free(&ps);
}
END_TEST

START_TEST(a_missing_journal_stops_the_start_naming_it)
{
	pserv ps;
	char path[512], want[256];

	/* Three runs, three generations. */
	ps_init(&ps, NULL);
	for (int run = 0; run < 3; run++) {
		ps_start(&ps, NULL);
		agora_client *c = ps_connect(&ps);
		fill_dict(c, run * 10, run * 10 + 10);
		agora_client_free(c);
		ps_stop(&ps);
	}
	/* The middle one goes. */
	snprintf(path, sizeof(path), "%s/journal-%016llx.agj", ps.data, 2ULL);
	ck_assert_msg(unlink(path) == 0, "%s: %s", path, strerror(errno));
	ps_start_fails(&ps, NULL);
	snprintf(want, sizeof(want), "journal %llu is missing", 2ULL);
	assert_log_has(&ps, want);
	assert_log_has(&ps, "--data-repair");

	/* Repaired: the first run's changes; the later ones set aside. */
	static const char *const repair[] = { "--data-repair", NULL };
	ps_start(&ps, repair);
	agora_client *c = ps_connect(&ps);
	assert_dict(c, 10);
	fill_dict(c, 10, 12);
	agora_client_free(c);
	ps_stop(&ps);
	ps_start(&ps, NULL);
	c = ps_connect(&ps);
	assert_dict(c, 12);
	agora_client_free(c);
	ps_stop(&ps);
	ps_free(&ps);
}
END_TEST

/* ---- (d) the format version -----------------------------------------------
 */

START_TEST(a_newer_format_version_is_refused_by_name)
{
	pserv ps;
	char path[512];
	static const uint8_t two[4] = { 0, 0, 0, 2 };

	ps_init(&ps, NULL);
	ps_start(&ps, NULL);
	agora_client *c = ps_connect(&ps);
	fill_dict(c, 0, 5);
	agora_client_free(c);
	ps_stop(&ps);

	last_journal(&ps, path, sizeof(path));
	patch(path, 8, two, sizeof(two));
	ps_start_fails(&ps, NULL);
	assert_log_has(&ps, path);
	assert_log_has(&ps, "format version 2");
	ps_free(&ps);
}
END_TEST

/* ---- (e) the lock, (f) the mode -------------------------------------------
 */

START_TEST(a_second_agorad_on_the_directory_names_the_first)
{
	pserv a, b;
	char want[256];

	ps_init(&a, NULL);
	ps_start(&a, NULL);
	ps_init(&b, a.data); /* another socket, the same data */
	ps_start_fails(&b, NULL);
	snprintf(want, sizeof(want),
		 "data directory %s is in use by agorad pid %d", a.data,
		 (int)a.pid);
	assert_log_has(&b, want);
	/* The first goes on. */
	agora_client *c = ps_connect(&a);
	fill_dict(c, 0, 3);
	agora_client_free(c);
	ps_stop(&a);
	/* Once it has stopped the directory is free. */
	ps_start(&b, NULL);
	c = ps_connect(&b);
	assert_dict(c, 3);
	agora_client_free(c);
	ps_stop(&b);
	ps_free(&b);
	ps_free(&a);
}
END_TEST

START_TEST(a_directory_others_may_enter_is_refused_a_missing_one_made_0700)
{
	pserv ps;
	struct stat st;

	ps_init(&ps, NULL);
	ck_assert_int_eq(mkdir(ps.data, 0700), 0);
	ck_assert_int_eq(chmod(ps.data, 0755), 0);
	ps_start_fails(&ps, NULL);
	assert_log_has(&ps, ps.data);
	assert_log_has(&ps, "mode 0755");
	ck_assert_int_eq(rmdir(ps.data), 0);

	ps_start(&ps, NULL);
	ck_assert_int_eq(stat(ps.data, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_msg((st.st_mode & 07777) == 0700, "mode %04o",
		      (unsigned)(st.st_mode & 07777));
	ps_stop(&ps);
	ps_free(&ps);
}
END_TEST

/* ---- (g) a full disk ------------------------------------------------------
 */

/* Fill the file system of @path: a file that grows until it cannot. */
static void fill_up(const char *path)
{
	static char chunk[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	memset(chunk, 'f', sizeof(chunk));
	for (;;) {
		ssize_t w = write(fd, chunk, sizeof(chunk));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
	}
	/* the last bytes, to the very end */
	while (write(fd, chunk, 1) == 1)
		;
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(a_full_disk_refuses_changes_with_storage_and_they_resume)
{
	pserv ps;
	char mnt[128], data[192], filler[192];
	char big[8192];

	ps_init(&ps, "");
	snprintf(mnt, sizeof(mnt), "%s/fs", ps.dir);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=16m,mode=0700") < 0) {
		printf("SKIP a_full_disk_refuses_changes_with_storage_and_they_"
		       "resume: cannot mount a tmpfs (%s; it needs root)\n",
		       strerror(errno));
		ps_free(&ps);
		return;
	}
	snprintf(mounted, sizeof(mounted), "%s", mnt);
	snprintf(data, sizeof(data), "%s/data", mnt);
	snprintf(ps.data, sizeof(ps.data), "%s", data);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	static const char *const always[] = { "--fsync", "always", NULL };
	ps_start(&ps, always);
	agora_client *c = ps_connect(&ps);
	fill_dict(c, 0, 10);

	/* The disk fills up (another program's file). */
	fill_up(filler);
	agora_dict *d = NULL;
	AGH_OK(c, agora_dict_open(c, "d", &d));
	memset(big, 'b', sizeof(big));
	int rc = 0, stored = 0;
	char k[32];
	for (int i = 0; i < 4000; i++) {
		snprintf(k, sizeof(k), "big%d", i);
		rc = agora_dict_set(d, agora_str(k),
				    agora_bin(big, sizeof(big)));
		if (rc != 0)
			break;
		stored++;
	}
	ck_assert_msg(rc == AGORA_ESTORAGE, "a set on a full disk: %s: %s",
		      agora_errname(rc), agora_errmsg(c));
	ck_assert_msg(strstr(agora_errmsg(c), strerror(ENOSPC)) != NULL &&
			  strstr(agora_errmsg(c), data) != NULL,
		      "the message does not name the cause: %s",
		      agora_errmsg(c));
	/* Nothing changed: not the refused key, not a key set again. (A
	 * small change may still fit the room the journal reserved ahead:
	 * the big ones are what the disk cannot take.) */
	ck_assert_int_eq(
	    agora_dict_set(d, agora_str("k0"), agora_bin(big, sizeof(big))),
	    AGORA_ESTORAGE);
	bool has = true;
	AGH_OK(c, agora_dict_contains(d, agora_str(k), &has));
	ck_assert(!has);
	size_t len = 0;
	AGH_OK(c, agora_dict_len(d, &len));
	ck_assert_uint_eq(len, 10 + (size_t)stored);
	AGH_OK(c, agora_dict_close(d));
	/* Reads go on. */
	{
		agora_value got;
		AGH_OK(c, agora_dict_open(c, "d", &d));
		AGH_OK(c, agora_dict_get(d, agora_str("k0"), &got));
		agh_assert_str(got, "value-0");
		agora_value_free(&got);
		agora_value st;
		AGH_OK(c, agora_stats(c, &st));
		const agora_value *p = agh_map_find(st, "persistence");
		ck_assert_ptr_nonnull(p);
		const agora_value *e = agh_map_find(*p, "last_error");
		ck_assert_msg(e != NULL && e->type == AGORA_STR &&
				  memmem(e->via.str.ptr, e->via.str.len,
					 strerror(ENOSPC),
					 strlen(strerror(ENOSPC))) != NULL,
			      "stats' persistence has no last_error naming "
			      "the full disk");
		agora_value_free(&st);
	}

	/* Room again: changes resume by themselves. */
	ck_assert_int_eq(unlink(filler), 0);
	double deadline = agh_now() + 10.0;
	do {
		rc = agora_dict_set(d, agora_str("after"),
				    agora_bin(big, sizeof(big)));
		if (rc == AGORA_ESTORAGE) {
			struct timespec ts = { 0, 20000000 };
			nanosleep(&ts, NULL);
		}
	} while (rc == AGORA_ESTORAGE && agh_now() < deadline);
	ck_assert_msg(rc == 0, "changes did not resume: %s: %s",
		      agora_errname(rc), agora_errmsg(c));
	{
		agora_value st;
		AGH_OK(c, agora_stats(c, &st));
		const agora_value *p = agh_map_find(st, "persistence");
		ck_assert_ptr_nonnull(p);
		const agora_value *e = agh_map_find(*p, "last_error");
		ck_assert_msg(e != NULL && e->type == AGORA_NIL,
			      "stats' persistence still has a last_error once "
			      "changes resumed");
		agora_value_free(&st);
	}
	AGH_OK(c, agora_dict_close(d));
	agora_client_free(c);

	/* A crash: what was acknowledged is there, what was refused not. */
	ps_kill(&ps);
	ps_start(&ps, always);
	c = ps_connect(&ps);
	AGH_OK(c, agora_open_ex(c, "dict", "d", NULL, 0, AGORA_OPEN_NO_CREATE,
				&d));
	AGH_OK(c, agora_dict_len(d, &len));
	ck_assert_uint_eq(len, 10 + (size_t)stored + 1);
	agora_value got;
	AGH_OK(c, agora_dict_get(d, agora_str("k0"), &got));
	agh_assert_str(got, "value-0");
	agora_value_free(&got);
	AGH_OK(c, agora_dict_contains(d, agora_str(k), &has));
	ck_assert(!has);
	AGH_OK(c, agora_dict_close(d));
	agora_client_free(c);
	ps_stop(&ps);
	ck_assert_int_eq(umount(mnt), 0);
	mounted[0] = '\0';
	ps_free(&ps);
}
END_TEST

/* ---- (h) what a restart keeps ---------------------------------------------
 */

/* Set up objects of each kind; with @save a snapshot is taken midway, so
 * that they come back from it rather than from the journal alone. */
static void restart_keeps(bool save)
{
	pserv ps;
	agora_lock *lk = NULL;
	agora_event *ev = NULL, *ev2 = NULL;
	agora_var *v = NULL, *v2 = NULL;
	agora_dict *d = NULL;
	agora_list *child = NULL, *loose = NULL;
	agora_ref ref;
	bool got = false;
	uint64_t t1 = 0, t2 = 0;

	ps_init(&ps, NULL);
	ps_start(&ps, NULL);
	agora_client *a = ps_connect(&ps), *c;
	AGH_OK(a, agora_lock_open(a, "h.lock", &lk));
	AGH_OK(a, agora_event_open(a, "h.ev", &ev));
	AGH_OK(a, agora_event_open(a, "h.ev2", &ev2));
	AGH_OK(a, agora_var_open(a, "h.v", agora_int(42), &v));
	AGH_OK(a, agora_var_open(a, "h.v2", agora_int(0), &v2));
	AGH_OK(a, agora_dict_open(a, "h.d", &d));
	AGH_OK(a, agora_list_open(a, NULL, &child));
	AGH_OK(a, agora_list_open(a, NULL, &loose));
	AGH_OK(a, agora_lock_acquire_fenced(lk, 0, &got, &t1));
	ck_assert(got);
	AGH_OK(a, agora_lock_release(lk));
	AGH_OK(a, agora_event_set(ev));
	AGH_OK(a, agora_var_set(v2, agora_int(7)));
	AGH_OK(a, agora_list_append(child, agora_int(1)));
	AGH_OK(a, agora_list_append(child, agora_int(2)));
	AGH_OK(a, agora_list_ref(child, &ref));
	AGH_OK(a, agora_dict_set(d, agora_str("child"), agora_ref_value(&ref)));
	AGH_OK(a, agora_list_append(loose, agora_int(9)));
	if (save)
		AGH_OK(a, agora_save(a, NULL));
	AGH_OK(a, agora_list_append(child, agora_int(3)));
	int64_t abandoned = agh_info_int(a, agora_lock_handle(lk), "abandoned");
	AGH_OK(a, agora_lock_acquire_fenced(lk, 0, &got, &t2));
	ck_assert(got && t2 > t1);
	/* 6 named, the child, the loose list */
	ck_assert_int_eq(agh_stats_int(a, "objects"), 8);

	/* A crash while the lock is held. */
	ps_kill(&ps);
	agora_lock_close(lk);
	agora_event_close(ev);
	agora_event_close(ev2);
	agora_var_close(v);
	agora_var_close(v2);
	agora_dict_close(d);
	agora_list_close(child);
	agora_list_close(loose);
	agora_client_free(a);
	ps_start(&ps, NULL);
	c = ps_connect(&ps);

	/* The named ones and the list the dict refers to; not the one only
	 * a connection held. */
	ck_assert_int_eq(agh_stats_int(c, "objects"), 7);
	AGH_OK(c, agora_open_ex(c, "lock", "h.lock", NULL, 0,
				AGORA_OPEN_NO_CREATE, &lk));
	bool locked = true;
	AGH_OK(c, agora_lock_locked(lk, &locked));
	ck_assert_msg(!locked, "a lock held at the crash is held after it");
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(lk), "abandoned"),
			 abandoned + 1);
	uint64_t t3 = 0;
	AGH_OK(c, agora_lock_acquire_fenced(lk, 0, &got, &t3));
	ck_assert(got);
	ck_assert_msg(t3 > t2, "token %llu after the restart, %llu before",
		      (unsigned long long)t3, (unsigned long long)t2);
	AGH_OK(c, agora_lock_release(lk));

	bool set = false;
	AGH_OK(c, agora_open_ex(c, "event", "h.ev", NULL, 0,
				AGORA_OPEN_NO_CREATE, &ev));
	AGH_OK(c, agora_event_is_set(ev, &set));
	ck_assert_msg(set, "a set event is clear after a restart");
	AGH_OK(c, agora_open_ex(c, "event", "h.ev2", NULL, 0,
				AGORA_OPEN_NO_CREATE, &ev2));
	AGH_OK(c, agora_event_is_set(ev2, &set));
	ck_assert_msg(!set, "a clear event is set after a restart");

	int64_t x = 0;
	AGH_OK(c, agora_open_ex(c, "value", "h.v", NULL, 0,
				AGORA_OPEN_NO_CREATE, &v));
	AGH_OK(c, agora_var_get_int(v, &x));
	ck_assert_msg(x == 42, "a value made with 42 is %lld after a restart",
		      (long long)x);
	AGH_OK(c, agora_open_ex(c, "value", "h.v2", NULL, 0,
				AGORA_OPEN_NO_CREATE, &v2));
	AGH_OK(c, agora_var_get_int(v2, &x));
	ck_assert_int_eq(x, 7);

	agora_value r;
	AGH_OK(c, agora_open_ex(c, "dict", "h.d", NULL, 0, AGORA_OPEN_NO_CREATE,
				&d));
	AGH_OK(c, agora_dict_get(d, agora_str("child"), &r));
	agora_ref back;
	AGH_OK(c, agora_ref_from_value(r, &back));
	agora_value_free(&r);
	ck_assert_uint_eq(back.id, ref.id);
	AGH_OK(c, agora_list_open_ref(c, &back, &child));
	agora_value items;
	AGH_OK(c, agora_list_copy(child, &items));
	static const int64_t want[] = { 1, 2, 3 };
	agh_assert_ints(items, want, 3);
	agora_value_free(&items);

	/* New objects get new ids. */
	agora_list *fresh = NULL;
	AGH_OK(c, agora_list_open(c, NULL, &fresh));
	ck_assert_int_gt(agh_info_int(c, agora_list_handle(fresh), "id"),
			 (int64_t)ref.id);
	AGH_OK(c, agora_list_close(fresh));

	AGH_OK(c, agora_lock_close(lk));
	AGH_OK(c, agora_event_close(ev));
	AGH_OK(c, agora_event_close(ev2));
	AGH_OK(c, agora_var_close(v));
	AGH_OK(c, agora_var_close(v2));
	AGH_OK(c, agora_dict_close(d));
	AGH_OK(c, agora_list_close(child));
	agora_client_free(c);
	ps_stop(&ps);
	ps_free(&ps);
}

/* A barrier waiter of its own (a process): waits on "h.bar2" until the
 * server is gone, then writes the error it got to @report (an exit
 * status under valgrind would count what the test process leaked
 * before the fork). */
static pid_t barrier_waiter(const pserv *ps, int report)
{
	pid_t parent = getpid();

	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	agora_client *c = agora_client_new();
	agora_barrier *b = NULL;
	int64_t at;
	int rc = AGORA_ENOMEM;
	if (c != NULL)
		rc =
		    agora_client_connect(c, ps->addr, ps->key, sizeof(ps->key));
	if (rc == 0)
		rc = agora_barrier_open(c, "h.bar2", 2, &b);
	if (rc == 0)
		rc = agora_barrier_wait(b, 60.0, &at);
	agora_barrier_close(b);
	agora_client_free(c);
	if (write(report, &rc, sizeof(rc)) != sizeof(rc))
		_exit(1);
	_exit(0);
}

/* Semaphores, a joinable queue, barriers, a queue's option; with @save
 * from a snapshot. */
static void restart_keeps_counts(bool save)
{
	pserv ps;
	agora_semaphore *sem = NULL, *osem = NULL;
	agora_jqueue *jq = NULL;
	agora_barrier *bar = NULL, *bar2 = NULL;
	agora_queue *q = NULL;
	bool got = false, broken = false;
	int64_t x = 0;
	size_t n = 0;

	ps_init(&ps, NULL);
	ps_start(&ps, NULL);
	agora_client *a = ps_connect(&ps), *c;
	AGH_OK(a, agora_semaphore_open(a, "h.sem", 3, false, &sem));
	AGH_OK(a, agora_semaphore_open(a, "h.osem", 2, true, &osem));
	AGH_OK(a, agora_jqueue_open(a, "h.jq", 0, &jq));
	AGH_OK(a, agora_barrier_open(a, "h.bar", 3, &bar));
	AGH_OK(a, agora_barrier_open(a, "h.bar2", 2, &bar2));
	AGH_OK(a, agora_queue_open(a, "h.q", 2, &q));
	AGH_OK(a, agora_jqueue_put(jq, agora_int(1), -1));
	AGH_OK(a, agora_jqueue_put(jq, agora_int(2), -1));
	AGH_OK(a, agora_queue_put(q, agora_int(5), -1));
	if (save)
		AGH_OK(a, agora_save(a, NULL));
	AGH_OK(a, agora_semaphore_acquire(sem, 0, &got));
	ck_assert(got);
	AGH_OK(a, agora_semaphore_acquire(osem, 0, &got));
	ck_assert(got);
	AGH_OK(a, agora_jqueue_get_int(jq, 0, &x)); /* never task_done */
	ck_assert_int_eq(x, 1);
	AGH_OK(a, agora_barrier_abort(bar));
	int report[2];
	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	pid_t waiter = barrier_waiter(&ps, report[1]);
	close(report[1]);
	agh_wait_info(a, agora_barrier_handle(bar2), "n_waiting", 1);

	ps_kill(&ps);
	agh_wait_pid(waiter, AGH_WORKER_TIMEOUT);
	int wrc = 0;
	ck_assert_int_eq(read(report[0], &wrc, sizeof(wrc)), sizeof(wrc));
	close(report[0]);
	ck_assert_msg(wrc == AGORA_EIO,
		      "the barrier's waiter got %s, not EIO, from the crash",
		      agora_errname(wrc));
	agora_semaphore_close(sem);
	agora_semaphore_close(osem);
	agora_jqueue_close(jq);
	agora_barrier_close(bar);
	agora_barrier_close(bar2);
	agora_queue_close(q);
	agora_client_free(a);
	ps_start(&ps, NULL);
	c = ps_connect(&ps);

	/* A semaphore keeps its count; an owned one has its permit back. */
	AGH_OK(c, agora_open_ex(c, "semaphore", "h.sem", NULL, 0,
				AGORA_OPEN_NO_CREATE, &sem));
	AGH_OK(c, agora_semaphore_value(sem, &x));
	ck_assert_msg(x == 2, "a semaphore of 3 less one is %lld",
		      (long long)x);
	AGH_OK(c, agora_open_ex(c, "semaphore", "h.osem", NULL, 0,
				AGORA_OPEN_NO_CREATE, &osem));
	AGH_OK(c, agora_semaphore_value(osem, &x));
	ck_assert_msg(x == 2,
		      "an owned semaphore of 2 is %lld: its holder's "
		      "permit is not back",
		      (long long)x);
	ck_assert_int_eq(
	    agh_info_int(c, agora_semaphore_handle(osem), "initial"), 2);
	/* The joinable queue: one item left, two unfinished. */
	AGH_OK(c, agora_open_ex(c, "joinable_queue", "h.jq", NULL, 0,
				AGORA_OPEN_NO_CREATE, &jq));
	AGH_OK(c, agora_jqueue_qsize(jq, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(agh_info_int(c, agora_jqueue_handle(jq), "unfinished"),
			 2);
	/* Barriers: the broken flag kept, nobody waiting. */
	AGH_OK(c, agora_open_ex(c, "barrier", "h.bar", NULL, 0,
				AGORA_OPEN_NO_CREATE, &bar));
	AGH_OK(c, agora_barrier_broken(bar, &broken));
	ck_assert_msg(broken, "an aborted barrier is not broken after a "
			      "restart");
	AGH_OK(c, agora_open_ex(c, "barrier", "h.bar2", NULL, 0,
				AGORA_OPEN_NO_CREATE, &bar2));
	AGH_OK(c, agora_barrier_broken(bar2, &broken));
	ck_assert(!broken);
	AGH_OK(c, agora_barrier_n_waiting(bar2, &x));
	ck_assert_int_eq(x, 0);
	AGH_OK(c, agora_barrier_parties(bar2, &x));
	ck_assert_int_eq(x, 2);
	/* A queue's maxsize and its item. */
	AGH_OK(c, agora_open_ex(c, "queue", "h.q", NULL, 0,
				AGORA_OPEN_NO_CREATE, &q));
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "maxsize"), 2);
	AGH_OK(c, agora_queue_put(q, agora_int(6), -1));
	ck_assert_int_eq(agora_queue_put(q, agora_int(7), 0), AGORA_EFULL);
	AGH_OK(c, agora_queue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 5);

	AGH_OK(c, agora_semaphore_close(sem));
	AGH_OK(c, agora_semaphore_close(osem));
	AGH_OK(c, agora_jqueue_close(jq));
	AGH_OK(c, agora_barrier_close(bar));
	AGH_OK(c, agora_barrier_close(bar2));
	AGH_OK(c, agora_queue_close(q));
	agora_client_free(c);
	ps_stop(&ps);
	ps_free(&ps);
}

START_TEST(a_restart_from_the_journal_keeps_counts_and_options)
{
	restart_keeps_counts(false);
}
END_TEST

START_TEST(a_restart_from_a_snapshot_keeps_counts_and_options)
{
	restart_keeps_counts(true);
}
END_TEST

START_TEST(a_restart_from_the_journal_keeps_what_the_docs_say)
{
	restart_keeps(false);
}
END_TEST

START_TEST(a_restart_from_a_snapshot_keeps_what_the_docs_say)
{
	restart_keeps(true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("persist");
	int rc;

	snprintf(base, sizeof(base), "/tmp/agora-persist-XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}

	AGH_ADD_BARE(s, garbage_after_the_last_record_is_dropped_with_a_line);
	AGH_ADD_BARE(s, a_last_record_cut_in_half_is_dropped_and_the_rest_kept);
	AGH_ADD_BARE(
	    s,
	    a_flipped_byte_mid_journal_stops_the_start_and_repair_keeps_before);
	AGH_ADD_BARE(s, a_flipped_byte_in_a_snapshot_stops_the_start_naming_it);
	AGH_ADD_BARE(s, a_missing_journal_stops_the_start_naming_it);
	AGH_ADD_BARE(s, a_newer_format_version_is_refused_by_name);
	AGH_ADD_BARE(s, a_second_agorad_on_the_directory_names_the_first);
	AGH_ADD_BARE(
	    s, a_directory_others_may_enter_is_refused_a_missing_one_made_0700);
	AGH_ADD_BARE(s,
		     a_full_disk_refuses_changes_with_storage_and_they_resume);
	AGH_ADD_BARE(s, a_restart_from_the_journal_keeps_what_the_docs_say);
	AGH_ADD_BARE(s, a_restart_from_a_snapshot_keeps_what_the_docs_say);
	AGH_ADD_BARE(s, a_restart_from_the_journal_keeps_counts_and_options);
	AGH_ADD_BARE(s, a_restart_from_a_snapshot_keeps_counts_and_options);
	rc = agh_run_suite(s);
	kill_running();
	if (mounted[0] != '\0')
		umount2(mounted, MNT_DETACH);
	agh_remove_tree(base, false);
	return rc;
}
