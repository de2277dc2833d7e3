/*
 * persist-bench - what a data directory costs besides the journal's
 * per-request price (tests/bench/persist-cost measures that): how long
 * agorad takes to start on a big data directory, and what a snapshot of a
 * big dict does to the round trips of a client that is not involved.
 *
 *   persist-bench restart  --agorad PATH --dir DIR [--n N] [--what dict|list]
 *                          [--batch B] [--fsync POLICY]
 *   persist-bench snapshot --agorad PATH --dir DIR [--n N] [--op ping|dict.set]
 *                          [--saves K] [--idle SECONDS] [--fsync POLICY]
 *
 * DIR must not exist: it is made and holds the data directory, which is
 * removed at the end (--keep keeps it). agorad listens on a Unix socket in
 * a private directory under /tmp with a fresh key; its log goes to a file
 * there, shown when something fails.
 *
 * restart: agorad starts on DIR; a dict gets N int->int entries (k->k),
 * or a list N ints, B per call (dict.update / list.extend; B = 1: one
 * dict.set / list.append per entry, 256 in flight through a pipeline);
 * agorad is stopped (SIGTERM) and started again three times from the
 * journal alone, then `save` makes a snapshot and it is started three
 * times from that. A start is timed from just before the fork that
 * execs agorad to the first answered ping (a connect and a ping tried
 * every millisecond); the contents' length is checked after each start.
 * Each start's figures and the data directory's size (apparent bytes,
 * and the disk blocks it uses) are one JSON line.
 *
 * snapshot: agorad starts on DIR; a dict gets N int->int entries, 1000 per
 * call. A bystander process connects and does one --op at a time (ping,
 * or dict.set of one of the dict's own keys, which makes the server
 * write to pages it shares with the snapshot's child) as fast as it
 * can, keeping each round trip's start and length. The parent waits
 * --idle seconds, then calls `save` K times, one second apart, keeping
 * each save's start and end. A round trip that overlaps a save is
 * "saving", the others "idle"; each set's p50, p99, p99.9 and max are one
 * JSON line, each save's answer another.
 *
 * A table goes to stderr, the JSON lines to stdout. Every figure is
 * measured, none is checked against a goal: benchmarks measure, tests
 * assert.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agora.h"
#include "bench.h"

#define STARTS 3
#define PIPE_DEPTH 256
#define FILL_BATCH_MAX 100000
#define MAX_SAMPLES (8u << 20)
#define START_TIMEOUT_S 600

static const char *agorad = "agorad";
static const char *data_dir;
static const char *fsync_policy = "everysec";
static char tmp_dir[64];
static char sock_addr[128];
static char key[33];
static pid_t server_pid;
static pid_t bystander_pid;
static bool keep;

static void cleanup(void)
{
	char path[128];

	if (bystander_pid > 0) {
		kill(bystander_pid, SIGKILL);
		waitpid(bystander_pid, NULL, 0);
		bystander_pid = 0;
	}
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	if (tmp_dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/key", tmp_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/s", tmp_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/agorad.log", tmp_dir);
		unlink(path);
		rmdir(tmp_dir);
		tmp_dir[0] = '\0';
	}
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	char path[96], line[512];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/agorad.log", tmp_dir);
	f = tmp_dir[0] != '\0' ? fopen(path, "r") : NULL;
	if (f != NULL) {
		fprintf(stderr, "persist-bench: agorad's log:\n");
		while (fgets(line, sizeof(line), f) != NULL)
			fputs(line, stderr);
		fclose(f);
	}
	va_start(ap, fmt);
	fprintf(stderr, "persist-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	cleanup();
	exit(1);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void check(agora_client *c, int rc, const char *what)
{
	if (rc < 0)
		die("%s: %s: %s", what, agora_strerror(rc), agora_errmsg(c));
}

/* ---- the server ---------------------------------------------------------- */

static void make_key(void)
{
	unsigned char raw[16];
	char path[96];
	int fd;

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/agora-persist-XXXXXX");
	if (mkdtemp(tmp_dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		die("getrandom: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(raw); i++)
		sprintf(key + 2 * i, "%02x", raw[i]);
	snprintf(path, sizeof(path), "%s/key", tmp_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, key, strlen(key)) != (ssize_t)strlen(key))
		die("cannot write %s: %s", path, strerror(errno));
	close(fd);
	snprintf(sock_addr, sizeof(sock_addr), "unix:%s/s", tmp_dir);
}

/* A connection, or NULL while the server does not answer yet. */
static agora_client *try_connect(void)
{
	agora_client *c = agora_client_new();

	if (c == NULL)
		die("out of memory");
	if (agora_client_connect(c, sock_addr, key, strlen(key)) < 0 ||
	    agora_ping(c) < 0) {
		agora_client_free(c);
		return NULL;
	}
	return c;
}

/*
 * Start agorad on the data directory; return a connection once it
 * answered a ping, and in *ns the time from just before the fork.
 */
static agora_client *start_server(uint64_t *ns)
{
	char keyfile[96], sock[96], log[96];
	uint64_t t0;
	agora_client *c;
	int status;

	snprintf(keyfile, sizeof(keyfile), "%s/key", tmp_dir);
	snprintf(sock, sizeof(sock), "%s/s", tmp_dir);
	snprintf(log, sizeof(log), "%s/agorad.log", tmp_dir);
	unlink(sock);
	fflush(NULL);
	t0 = bench_now_ns();
	server_pid = fork();
	if (server_pid < 0)
		die("fork: %s", strerror(errno));
	if (server_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (devnull >= 0)
			dup2(devnull, 1);
		if (logfd >= 0)
			dup2(logfd, 2);
		execlp(agorad, agorad, "--listen", sock_addr, "--authkey-file",
		       keyfile, "--data-dir", data_dir, "--fsync", fsync_policy,
		       (char *)NULL);
		fprintf(stderr, "persist-bench: exec %s: %s\n", agorad,
			strerror(errno));
		_exit(127);
	}
	for (;;) {
		c = try_connect();
		if (c != NULL)
			break;
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = 0;
			die("agorad exited before it answered a ping");
		}
		if (bench_now_ns() - t0 >
		    (uint64_t)START_TIMEOUT_S * 1000000000u)
			die("agorad did not answer a ping in %d s",
			    START_TIMEOUT_S);
		usleep(1000);
	}
	*ns = bench_now_ns() - t0;
	return c;
}

static void stop_server(void)
{
	int status;

	if (server_pid <= 0)
		return;
	kill(server_pid, SIGTERM);
	if (waitpid(server_pid, &status, 0) < 0)
		die("waitpid: %s", strerror(errno));
	server_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("agorad did not stop cleanly (status %d)", status);
}

/* ---- the data directory's size ------------------------------------------- */

static long long dir_bytes, dir_blocks;

static int add_size(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F) {
		dir_bytes += st->st_size;
		dir_blocks += st->st_blocks;
	}
	return 0;
}

/* The apparent size of the files in the data directory, and what they
 * take on disk (st_blocks: a journal is reserved ahead with fallocate). */
static void dir_size(long long *bytes, long long *disk)
{
	dir_bytes = 0;
	dir_blocks = 0;
	if (nftw(data_dir, add_size, 16, FTW_PHYS) < 0)
		die("%s: %s", data_dir, strerror(errno));
	*bytes = dir_bytes;
	*disk = dir_blocks * 512;
}

/* ---- filling ------------------------------------------------------------- */

/* Fill "bench.big" (a dict or a list) with @n ints, @batch per call. */
static void fill(agora_client *c, bool dict, long n, long batch)
{
	agora_value *items = calloc((size_t)batch, sizeof(*items));
	agora_pair *pairs = calloc((size_t)batch, sizeof(*pairs));
	agora_dict *d = NULL;
	agora_list *l = NULL;
	agora_pipeline *p = NULL;
	agora_value a[3];
	uint32_t h;

	if (items == NULL || pairs == NULL)
		die("out of memory");
	if (dict) {
		check(c, agora_dict_open(c, "bench.big", &d), "open bench.big");
		h = agora_dict_handle(d);
	} else {
		check(c, agora_list_open(c, "bench.big", &l), "open bench.big");
		h = agora_list_handle(l);
	}
	if (batch == 1) {
		p = agora_pipeline_new(c);
		if (p == NULL)
			die("out of memory");
		a[0] = agora_uint(h);
		for (long i = 0; i < n; i++) {
			a[1] = agora_int(i);
			a[2] = agora_int(i);
			check(c,
			      agora_pipeline_call(
				  p, dict ? "dict.set" : "list.append",
				  agora_array(a, dict ? 3 : 2)),
			      "fill");
			if (agora_pipeline_pending(p) >= PIPE_DEPTH)
				check(c, agora_pipeline_result(p, NULL),
				      "fill");
		}
		while (agora_pipeline_pending(p) > 0)
			check(c, agora_pipeline_result(p, NULL), "fill");
		agora_pipeline_free(p);
	} else {
		for (long i = 0; i < n; i += batch) {
			long k = n - i < batch ? n - i : batch;

			for (long j = 0; j < k; j++) {
				items[j] = agora_int(i + j);
				pairs[j].key = agora_int(i + j);
				pairs[j].val = agora_int(i + j);
			}
			if (dict)
				check(c,
				      agora_dict_update(
					  d, agora_map(pairs, (size_t)k)),
				      "dict.update");
			else
				check(c, agora_list_extend(l, items, (size_t)k),
				      "list.extend");
		}
	}
	agora_dict_close(d);
	agora_list_close(l);
	free(items);
	free(pairs);
}

/* The length of "bench.big". */
static long big_len(agora_client *c, bool dict)
{
	size_t len = 0;

	if (dict) {
		agora_dict *d;

		check(c, agora_dict_open(c, "bench.big", &d), "open bench.big");
		check(c, agora_dict_len(d, &len), "len");
		agora_dict_close(d);
	} else {
		agora_list *l;

		check(c, agora_list_open(c, "bench.big", &l), "open bench.big");
		check(c, agora_list_len(l, &len), "len");
		agora_list_close(l);
	}
	return (long)len;
}

/* The number under @name in the map @m, or -1. */
static double map_num(agora_value m, const char *name)
{
	for (size_t i = 0; m.type == AGORA_MAP && i < m.via.map.len; i++) {
		const agora_pair *p = &m.via.map.items[i];
		int64_t v;

		if (p->key.type != AGORA_STR ||
		    strcmp(p->key.via.str.ptr, name) != 0)
			continue;
		if (p->val.type == AGORA_FLOAT)
			return p->val.via.f;
		if (agora_value_to_int(p->val, &v) == 0)
			return (double)v;
	}
	return -1;
}

/* `save`: its answer's seconds and bytes. */
static void save(agora_client *c, double *seconds, double *bytes)
{
	agora_value ret;

	check(c, agora_save(c, &ret), "save");
	*seconds = map_num(ret, "seconds");
	*bytes = map_num(ret, "bytes");
	agora_value_free(&ret);
}

/* ---- restart ------------------------------------------------------------- */

static void restart_one(const char *from, const char *what, long n, long batch)
{
	long long bytes, disk;
	uint64_t ns;
	agora_client *c;
	long len;

	dir_size(&bytes, &disk);
	c = start_server(&ns);
	len = big_len(c, strcmp(what, "dict") == 0);
	agora_client_free(c);
	stop_server();
	fprintf(stderr,
		"restart %-4s n=%ld batch=%-5ld from %-8s  %8.1f ms to the "
		"first ping  dir %.1f MB (%.1f MB on disk)  len %ld%s\n",
		what, n, batch, from, (double)ns / 1e6, (double)bytes / 1e6,
		(double)disk / 1e6, len, len == n ? "" : "  WRONG LENGTH");
	printf("{\"mode\":\"restart\",\"what\":\"%s\",\"n\":%ld,\"batch\":%ld,"
	       "\"from\":\"%s\",\"fsync\":\"%s\",\"ms\":%.2f,"
	       "\"dir_bytes\":%lld,\"dir_disk_bytes\":%lld,\"len\":%ld}\n",
	       what, n, batch, from, fsync_policy, (double)ns / 1e6, bytes,
	       disk, len);
	fflush(stdout);
}

static void run_restart(const char *what, long n, long batch)
{
	bool dict = strcmp(what, "dict") == 0;
	double secs, bytes;
	uint64_t ns, t0;
	agora_client *c;

	c = start_server(&ns);
	t0 = bench_now_ns();
	fill(c, dict, n, batch);
	fprintf(stderr, "filled %s with %ld in %.2f s\n", what, n,
		(double)(bench_now_ns() - t0) / 1e9);
	agora_client_free(c);
	stop_server();
	for (int i = 0; i < STARTS; i++)
		restart_one("journal", what, n, batch);
	c = start_server(&ns);
	save(c, &secs, &bytes);
	agora_client_free(c);
	stop_server();
	fprintf(stderr, "save: %.3f s, %.1f MB\n", secs, bytes / 1e6);
	printf("{\"mode\":\"save\",\"what\":\"%s\",\"n\":%ld,\"seconds\":%.4f,"
	       "\"bytes\":%.0f}\n",
	       what, n, secs, bytes);
	for (int i = 0; i < STARTS; i++)
		restart_one("snapshot", what, n, batch);
}

/* ---- snapshot ------------------------------------------------------------ */

/* What the bystander keeps, shared with the parent. */
struct samples {
	volatile int stop;
	volatile int ready;
	char err[256];
	uint64_t n;
	uint64_t start[MAX_SAMPLES]; /* ns, bench_now_ns() */
	uint32_t len[MAX_SAMPLES];   /* ns */
};

static void bystander(struct samples *s, const char *op, long n)
{
	agora_client *c = try_connect();
	agora_dict *d = NULL;
	uint64_t i = 0;
	int rc = 0;

	if (c == NULL) {
		snprintf(s->err, sizeof(s->err), "bystander cannot connect");
		s->ready = 1;
		_exit(1);
	}
	if (strcmp(op, "dict.set") == 0 &&
	    agora_dict_open(c, "bench.big", &d) < 0) {
		snprintf(s->err, sizeof(s->err), "bystander: open: %s",
			 agora_errmsg(c));
		s->ready = 1;
		_exit(1);
	}
	s->ready = 1;
	while (!s->stop && s->n < MAX_SAMPLES) {
		uint64_t t0 = bench_now_ns(), t1;

		/* keys spread over the whole dict: every write may land on a
		 * page the snapshot's child still shares */
		if (d != NULL)
			rc = agora_dict_set(
			    d, agora_int((int64_t)((i * 7919) % (uint64_t)n)),
			    agora_int((int64_t)i));
		else
			rc = agora_ping(c);
		t1 = bench_now_ns();
		if (rc < 0) {
			snprintf(s->err, sizeof(s->err), "bystander: %s: %s",
				 agora_strerror(rc), agora_errmsg(c));
			_exit(1);
		}
		s->start[s->n] = t0;
		s->len[s->n] =
		    t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
		s->n++;
		i++;
	}
	agora_dict_close(d);
	agora_client_free(c);
	_exit(0);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void report_phase(const char *op, long n, const char *phase, uint32_t *v,
			 size_t k)
{
	double p50, p99, p999, max;

	if (k == 0) {
		fprintf(stderr, "snapshot %-8s %-7s no round trips\n", op,
			phase);
		return;
	}
	qsort(v, k, sizeof(*v), cmp_u32);
	p50 = v[(size_t)((double)(k - 1) * 0.50)] / 1e3;
	p99 = v[(size_t)((double)(k - 1) * 0.99)] / 1e3;
	p999 = v[(size_t)((double)(k - 1) * 0.999)] / 1e3;
	max = v[k - 1] / 1e3;
	fprintf(stderr,
		"bystander %-8s %-7s %8zu round trips  p50 %8.1f  p99 %8.1f  "
		"p99.9 %8.1f  max %9.1f us\n",
		op, phase, k, p50, p99, p999, max);
	printf(
	    "{\"mode\":\"snapshot\",\"op\":\"%s\",\"n\":%ld,\"fsync\":\"%s\","
	    "\"phase\":\"%s\",\"count\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	    "\"p999_us\":%.1f,\"max_us\":%.1f}\n",
	    op, n, fsync_policy, phase, k, p50, p99, p999, max);
	fflush(stdout);
}

static void run_snapshot(const char *op, long n, int saves, double idle)
{
	struct samples *s;
	uint64_t ns, (*win)[2];
	agora_client *c;
	uint32_t *during, *other;
	size_t nd = 0, no = 0, w = 0;

	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	win = calloc((size_t)saves, sizeof(*win));
	if (s == MAP_FAILED || win == NULL)
		die("out of memory");
	c = start_server(&ns);
	fill(c, true, n, 1000);
	fflush(NULL);
	bystander_pid = fork();
	if (bystander_pid < 0)
		die("fork: %s", strerror(errno));
	if (bystander_pid == 0)
		bystander(s, op, n);
	while (!s->ready)
		usleep(1000);
	if (s->err[0] != '\0')
		die("%s", s->err);
	usleep((useconds_t)(idle * 1e6));
	for (int i = 0; i < saves; i++) {
		double secs, bytes;

		win[i][0] = bench_now_ns();
		save(c, &secs, &bytes);
		win[i][1] = bench_now_ns();
		fprintf(stderr,
			"save %d: %.3f s by the server, %.3f s round trip, "
			"%.1f MB\n",
			i + 1, secs, (double)(win[i][1] - win[i][0]) / 1e9,
			bytes / 1e6);
		printf("{\"mode\":\"save\",\"what\":\"dict\",\"n\":%ld,"
		       "\"bystander\":\"%s\",\"seconds\":%.4f,"
		       "\"round_trip_s\":%.4f,\"bytes\":%.0f}\n",
		       n, op, secs, (double)(win[i][1] - win[i][0]) / 1e9,
		       bytes);
		usleep(1000000);
	}
	s->stop = 1;
	waitpid(bystander_pid, NULL, 0);
	bystander_pid = 0;
	if (s->err[0] != '\0')
		die("%s", s->err);
	agora_client_free(c);
	stop_server();

	during = malloc(s->n * sizeof(*during) + 1);
	other = malloc(s->n * sizeof(*other) + 1);
	if (during == NULL || other == NULL)
		die("out of memory");
	/* the samples and the windows are both in time order */
	for (uint64_t i = 0; i < s->n; i++) {
		uint64_t a = s->start[i], b = a + s->len[i];

		while (w < (size_t)saves && win[w][1] < a)
			w++;
		if (w < (size_t)saves && a <= win[w][1] && b >= win[w][0])
			during[nd++] = s->len[i];
		else
			other[no++] = s->len[i];
	}
	report_phase(op, n, "idle", other, no);
	report_phase(op, n, "saving", during, nd);
	free(during);
	free(other);
	free(win);
	munmap(s, sizeof(*s));
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: persist-bench restart|snapshot --agorad PATH --dir DIR "
		"[options]\n"
		"  --n N            entries (default 1000000)\n"
		"  --fsync POLICY   agorad's --fsync (default everysec)\n"
		"  --keep           keep DIR at the end\n"
		" restart:\n"
		"  --what dict|list what to fill (default dict)\n"
		"  --batch B        entries per call; 1: one call each, "
		"pipelined (default 1000)\n"
		" snapshot:\n"
		"  --op ping|dict.set  the bystander's round trip (default "
		"ping)\n"
		"  --saves K        snapshots to take (default 5)\n"
		"  --idle SECONDS   measured before the first (default 3)\n");
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agorad", required_argument, NULL, 'a' },
		{ "dir", required_argument, NULL, 'd' },
		{ "n", required_argument, NULL, 'n' },
		{ "fsync", required_argument, NULL, 'f' },
		{ "what", required_argument, NULL, 'w' },
		{ "batch", required_argument, NULL, 'b' },
		{ "op", required_argument, NULL, 'o' },
		{ "saves", required_argument, NULL, 's' },
		{ "idle", required_argument, NULL, 'i' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode, *what = "dict", *op = "ping";
	long n = 1000000, batch = 1000;
	int saves = 5, o;
	double idle = 3;
	struct stat st;

	if (argc < 2 || argv[1][0] == '-') {
		usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout
								  : stderr);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	mode = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			agorad = optarg;
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 'n':
			n = atol(optarg);
			if (n <= 0)
				die("--n %s: want a count above 0", optarg);
			break;
		case 'f':
			fsync_policy = optarg;
			break;
		case 'w':
			what = optarg;
			if (strcmp(what, "dict") != 0 &&
			    strcmp(what, "list") != 0)
				die("--what %s: want dict or list", optarg);
			break;
		case 'b':
			batch = atol(optarg);
			if (batch <= 0 || batch > FILL_BATCH_MAX)
				die("--batch %s: want 1 to %d", optarg,
				    FILL_BATCH_MAX);
			break;
		case 'o':
			op = optarg;
			if (strcmp(op, "ping") != 0 &&
			    strcmp(op, "dict.set") != 0)
				die("--op %s: want ping or dict.set", optarg);
			break;
		case 's':
			saves = atoi(optarg);
			if (saves <= 0)
				die("--saves %s: want a count above 0", optarg);
			break;
		case 'i':
			idle = strtod(optarg, NULL);
			if (!(idle >= 0))
				die("--idle %s: want seconds", optarg);
			break;
		case 'k':
			keep = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(mode, "restart") != 0 && strcmp(mode, "snapshot") != 0)
		die("%s: want restart or snapshot", mode);
	if (data_dir == NULL)
		die("--dir DIR is needed (a directory that does not exist "
		    "yet)");
	if (stat(data_dir, &st) == 0)
		die("--dir %s exists; give one that does not (it is removed "
		    "at the end)",
		    data_dir);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	make_key();
	if (strcmp(mode, "restart") == 0)
		run_restart(what, n, batch);
	else
		run_snapshot(op, n, saves, idle);
	cleanup();
	if (!keep)
		nftw(data_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
