/*
 * work.c - the soak's and the storm's common parts: agorad started and
 * stopped, shared counters, and the workers' random operations; see soak.h.
 *
 * Mutual exclusion is checked with a mark rather than a bare count. On
 * entering a section a worker swaps its pid into the section's mark (a
 * shared value) and must get 0 back; on leaving it swaps the mark back to 0
 * with compare-and-swap, which must succeed. A worker SIGKILLed inside
 * leaves its pid in the mark while the server, seeing its connection end,
 * releases the lock (or permit) to the next worker: that worker finds the
 * pid of a process that no longer runs, which is a takeover, counted, not a
 * violation. A pid that still runs is two workers inside at once. A count
 * (add 1 must return 1) could not tell these two apart after a kill.
 */
#include "soak.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEYLEN 32
#define START_TIMEOUT 20.0
#define STOP_TIMEOUT 20.0
/* How long an acquire may wait: far more than any section takes. */
#define ACQUIRE_TIMEOUT 10.0
/* A get parks this long on an empty queue. */
#define GET_TIMEOUT 0.02
/* How long a worker waits for the holder it found in a section to be seen
 * gone, before calling it a violation: it was SIGKILLed, so it dies at
 * once, but its connection may end a moment before /proc says so. */
#define GONE_WAIT 3.0
#define LOG_TRIM_AT 4096

/* ---- small things ------------------------------------------------------- */

double sk_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sk_sleep(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Whether /proc shows @pid as not running: no such process, a zombie, or
 * dead. */
static bool pid_gone_now(pid_t pid)
{
	char path[64], buf[512];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return false;
	return p[2] == 'Z' || p[2] == 'X' || p[2] == 'x';
}

bool sk_pid_gone(pid_t pid, double wait)
{
	double deadline = sk_now() + wait;

	if (pid <= 0)
		return false;
	for (;;) {
		if (pid_gone_now(pid))
			return true;
		if (sk_now() >= deadline)
			return false;
		sk_sleep(0.001);
	}
}

const agora_value *sk_map_find(agora_value map, const char *key)
{
	size_t klen = strlen(key);

	if (map.type != AGORA_MAP)
		return NULL;
	for (size_t i = 0; i < map.via.map.len; i++) {
		const agora_value *k = &map.via.map.items[i].key;
		if (k->type == AGORA_STR && k->via.str.len == klen &&
		    memcmp(k->via.str.ptr, key, klen) == 0)
			return &map.via.map.items[i].val;
	}
	return NULL;
}

int64_t sk_stats_int(agora_client *c, const char *field)
{
	agora_value st;
	int64_t x = -1;

	if (agora_stats(c, &st) != 0)
		return -1;
	const agora_value *v = sk_map_find(st, field);
	if (v == NULL || agora_value_to_int(*v, &x) != 0)
		x = -1;
	agora_value_free(&st);
	return x;
}

long sk_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- the server --------------------------------------------------------- */

static int write_key(const char *path)
{
	unsigned char key[KEYLEN];
	size_t got = 0;

	while (got < KEYLEN) {
		ssize_t n = getrandom(key + got, KEYLEN - got, 0);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			got += (size_t)n;
	}
	if (key[KEYLEN - 1] == '\n') /* the file loses a trailing newline */
		key[KEYLEN - 1] = 'k';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	bool ok = write(fd, key, KEYLEN) == KEYLEN;
	explicit_bzero(key, sizeof(key));
	return close(fd) == 0 && ok ? 0 : -1;
}

/* Read the server's stdout until it says it listens. */
static bool await_listening(sk_server *s)
{
	char out[4096], want[256];
	size_t len = 0;
	double deadline = sk_now() + START_TIMEOUT;

	snprintf(want, sizeof(want), "agorad: listening on %s\n", s->address);
	out[0] = '\0';
	while (strstr(out, want) == NULL) {
		double left = deadline - sk_now();
		if (left <= 0 || len + 1 >= sizeof(out))
			return false;
		struct pollfd p = { s->out_fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		ssize_t n = read(s->out_fd, out + len, sizeof(out) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		len += (size_t)n;
		out[len] = '\0';
	}
	return true;
}

static void remove_files(sk_server *s)
{
	unlink(s->sock);
	unlink(s->keyfile);
	rmdir(s->dir);
}

int sk_server_start(sk_server *s, const char *agorad)
{
	int pipefd[2];

	memset(s, 0, sizeof(*s));
	s->out_fd = -1;
	if (agorad == NULL)
		agorad = getenv("AGORAD");
	if (agorad == NULL || *agorad == '\0') {
		fprintf(stderr, "soak: set AGORAD to the agorad binary (or "
				"pass --agorad PATH)\n");
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "/tmp/agora-soak-XXXXXX");
	if (mkdtemp(s->dir) == NULL) {
		fprintf(stderr, "soak: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(s->sock, sizeof(s->sock), "%s/agora.sock", s->dir);
	snprintf(s->keyfile, sizeof(s->keyfile), "%s/key", s->dir);
	snprintf(s->address, sizeof(s->address), "unix:%s", s->sock);
	if (write_key(s->keyfile) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		fprintf(stderr, "soak: key file or pipe: %s\n",
			strerror(errno));
		remove_files(s);
		return -1;
	}
	/* Room for anything it prints later; the pipe is never read again. */
	fcntl(pipefd[0], F_SETPIPE_SZ, 1 << 20);
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "soak: fork: %s\n", strerror(errno));
		remove_files(s);
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(pipefd[1], 1);
		execl(agorad, agorad, "--listen", s->address, "--authkey-file",
		      s->keyfile, (char *)NULL);
		fprintf(stderr, "soak: exec %s: %s\n", agorad, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	s->pid = pid;
	s->out_fd = pipefd[0];
	if (!await_listening(s)) {
		fprintf(stderr, "soak: agorad did not say it listens on %s\n",
			s->address);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		s->pid = 0;
		close(s->out_fd);
		remove_files(s);
		return -1;
	}
	setenv("AGORA_ADDRESS", s->address, 1);
	setenv("AGORA_AUTHKEY_FILE", s->keyfile, 1);
	return 0;
}

int sk_server_stop(sk_server *s)
{
	double deadline = sk_now() + STOP_TIMEOUT;
	int status = 0;
	pid_t r;

	if (s->pid <= 0)
		return 0;
	kill(s->pid, SIGTERM);
	while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 &&
	       sk_now() < deadline)
		sk_sleep(0.005);
	if (r != s->pid) {
		fprintf(stderr, "soak: agorad did not stop within %.0f s\n",
			STOP_TIMEOUT);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
		status = -1;
	}
	s->pid = 0;
	close(s->out_fd);
	remove_files(s);
	if (status != 0) {
		fprintf(stderr, "soak: agorad ended with status 0x%x\n",
			status);
		return -1;
	}
	return 0;
}

/* ---- shared counters ---------------------------------------------------- */

sk_shared *sk_shared_new(void)
{
	void *p = mmap(NULL, sizeof(sk_shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof(sk_shared));
	return p;
}

static void vreport(sk_shared *sh, _Atomic uint64_t *counter, const char *kind,
		    const char *fmt, va_list ap)
{
	char msg[sizeof(sh->first) - 32];
	int expected = 0;

	atomic_fetch_add(counter, 1);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "soak: %s in %d: %s\n", kind, (int)getpid(), msg);
	if (atomic_compare_exchange_strong(&sh->have_first, &expected, 1))
		snprintf(sh->first, sizeof(sh->first), "%s: %s", kind, msg);
}

void sk_violation(sk_shared *sh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(sh, &sh->violations, "violation", fmt, ap);
	va_end(ap);
}

void sk_error(sk_shared *sh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(sh, &sh->errors, "error", fmt, ap);
	va_end(ap);
}

uint64_t sk_total_ops(const sk_shared *sh)
{
	uint64_t n = 0;
	for (int i = 0; i < SK_OPS; i++)
		n += atomic_load(&sh->ops[i]);
	return n;
}

/* ---- the objects -------------------------------------------------------- */

#define LOCK_MARK "soak-lock-mark"
#define RLOCK_MARK "soak-rlock-mark"
#define SLOT_FMT "soak-sem-slot-%d"
#define COUNTS "soak-counts"
#define LOG "soak-log"

typedef struct worker {
	sk_shared *sh;
	agora_client *c;
	int slot;
	unsigned gen;
	int64_t me; /* the pid, as the sections' mark */
	uint64_t seq;
	unsigned rng;
	agora_queue *q, *aq;
	agora_dict *seen, *counts, *adone, *aacked;
	agora_lock *lock;
	agora_rlock *rlock;
	agora_semaphore *sem;
	agora_var *lock_mark, *rlock_mark, *sem_slot[SK_PERMITS];
	agora_list *log;
	unsigned appends;
} worker;

/* Require @call to return 0; otherwise count an error and fail. */
#define CALL(w, call)                                                       \
	do {                                                                \
		int rc_ = (call);                                           \
		if (rc_ != 0) {                                             \
			sk_error((w)->sh, "%s: %s: %s", #call,              \
				 agora_errname(rc_), agora_errmsg((w)->c)); \
			return -1;                                          \
		}                                                           \
	} while (0)

static int open_all(worker *w)
{
	agora_client *c = w->c;
	char name[32];

	CALL(w, agora_queue_open(c, SK_QUEUE, 0, &w->q));
	CALL(w, agora_dict_open(c, SK_SEEN, &w->seen));
	CALL(w, agora_dict_open(c, COUNTS, &w->counts));
	CALL(w, agora_lock_open(c, SK_LOCK_NAME, &w->lock));
	CALL(w, agora_rlock_open(c, SK_RLOCK_NAME, &w->rlock));
	CALL(w,
	     agora_semaphore_open(c, SK_SEM_NAME, SK_PERMITS, true, &w->sem));
	CALL(w, agora_var_open(c, LOCK_MARK, agora_int(0), &w->lock_mark));
	CALL(w, agora_var_open(c, RLOCK_MARK, agora_int(0), &w->rlock_mark));
	for (int k = 0; k < SK_PERMITS; k++) {
		snprintf(name, sizeof(name), SLOT_FMT, k);
		CALL(w, agora_var_open(c, name, agora_int(0), &w->sem_slot[k]));
	}
	CALL(w, agora_list_open(c, LOG, &w->log));
	CALL(w, agora_queue_open(c, SK_AQUEUE, 0, &w->aq));
	CALL(w, agora_dict_open(c, SK_ADONE, &w->adone));
	CALL(w, agora_dict_open(c, SK_AACKED, &w->aacked));
	return 0;
}

static void close_all(worker *w)
{
	agora_queue_close(w->q);
	agora_dict_close(w->seen);
	agora_dict_close(w->counts);
	agora_lock_close(w->lock);
	agora_rlock_close(w->rlock);
	agora_semaphore_close(w->sem);
	agora_var_close(w->lock_mark);
	agora_var_close(w->rlock_mark);
	for (int k = 0; k < SK_PERMITS; k++)
		agora_var_close(w->sem_slot[k]);
	agora_list_close(w->log);
	agora_queue_close(w->aq);
	agora_dict_close(w->adone);
	agora_dict_close(w->aacked);
}

int sk_objects_create(agora_client *c)
{
	worker w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.c = c;
	w.sh = sk_shared_new();
	if (w.sh == NULL)
		return -1;
	rc = open_all(&w);
	close_all(&w);
	if (rc < 0)
		fprintf(stderr, "soak: creating the objects: %s\n",
			w.sh->first);
	munmap(w.sh, sizeof(sk_shared));
	return rc;
}

void sk_objects_drop(agora_client *c)
{
	static const char *const names[] = {
		SK_QUEUE,      SK_SEEN,     COUNTS,    SK_LOCK_NAME,
		SK_RLOCK_NAME, SK_SEM_NAME, LOCK_MARK, RLOCK_MARK,
		LOG,           SK_AQUEUE,   SK_ADONE,  SK_AACKED,
	};
	char name[32];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		agora_drop(c, names[i], NULL);
	for (int k = 0; k < SK_PERMITS; k++) {
		snprintf(name, sizeof(name), SLOT_FMT, k);
		agora_drop(c, name, NULL);
	}
}

/* ---- the operations ----------------------------------------------------- */

static int64_t value_int(agora_value *v)
{
	int64_t x = -1;
	agora_value_to_int(*v, &x);
	agora_value_free(v);
	return x;
}

/* Put a new id, unique over the whole run: slot, life, sequence. */
static int op_put(worker *w)
{
	int64_t id = (int64_t)((uint64_t)w->slot << 56 |
			       (uint64_t)(w->gen & 0xffffff) << 32 |
			       (w->seq++ & 0xffffffff));

	CALL(w, agora_queue_put(w->q, agora_int(id), 0));
	atomic_fetch_add(&w->sh->ops[SK_PUT], 1);
	return 0;
}

/* Get an id and count its delivery in "soak-seen": the count must be 1. */
static int op_get(worker *w)
{
	int64_t id = 0, n = 0;
	int rc = agora_queue_get_int(w->q, GET_TIMEOUT, &id);

	if (rc == AGORA_EEMPTY) {
		atomic_fetch_add(&w->sh->ops[SK_GET_EMPTY], 1);
		return 0;
	}
	CALL(w, rc);
	if (id < 0 || (id >> 56) >= SK_WORKERS)
		sk_violation(w->sh, "queue: got %lld, an id never put",
			     (long long)id);
	CALL(w, agora_dict_incr_int(w->seen, agora_int(id), 1, &n));
	if (n != 1) {
		atomic_fetch_add(&w->sh->duplicates, 1);
		sk_violation(w->sh, "queue: id %#llx delivered %lld times",
			     (unsigned long long)id, (long long)n);
	}
	atomic_fetch_add(&w->sh->ops[SK_GET], 1);
	return 0;
}

/* Put a new id (as op_put) to the queue taken with acknowledgement. */
static int op_aput(worker *w)
{
	int64_t id = (int64_t)((uint64_t)w->slot << 56 |
			       (uint64_t)(w->gen & 0xffffff) << 32 |
			       (w->seq++ & 0xffffffff));

	CALL(w, agora_queue_put(w->aq, agora_int(id), 0));
	atomic_fetch_add(&w->sh->ops[SK_APUT], 1);
	return 0;
}

/*
 * Take an id with acknowledgement, record its work as done in "soak-adone"
 * (the same however often it is done), ack it, and count the ack in
 * "soak-aacked": the count must be 1. The item is this connection's until
 * the ack (no lease), so the ack must succeed; a worker killed before it
 * gives the item back, to be done again.
 */
static int op_take(worker *w)
{
	agora_value item;
	uint64_t tid;
	int64_t n = 0;
	int rc = agora_queue_take(w->aq, GET_TIMEOUT, 0, &tid, &item);

	if (rc == AGORA_EEMPTY) {
		atomic_fetch_add(&w->sh->ops[SK_TAKE_EMPTY], 1);
		return 0;
	}
	CALL(w, rc);
	int64_t id = value_int(&item);
	if (id < 0 || (id >> 56) >= SK_WORKERS)
		sk_violation(w->sh, "acked queue: took %lld, an id never put",
			     (long long)id);
	CALL(w, agora_dict_set(w->adone, agora_int(id), agora_int(1)));
	CALL(w, agora_queue_ack(w->aq, tid));
	CALL(w, agora_dict_incr_int(w->aacked, agora_int(id), 1, &n));
	if (n != 1) {
		atomic_fetch_add(&w->sh->double_acks, 1);
		sk_violation(w->sh,
			     "acked queue: id %#llx acknowledged %lld times",
			     (unsigned long long)id, (long long)n);
	}
	atomic_fetch_add(&w->sh->ops[SK_TAKE], 1);
	return 0;
}

/* Enter a section marked by @mark (see the top of this file). */
static int mark_enter(worker *w, agora_var *mark, const char *what,
		      _Atomic uint64_t *takeovers)
{
	agora_value old;

	CALL(w, agora_var_swap(mark, agora_int(w->me), &old));
	int64_t holder = value_int(&old);
	if (holder == 0)
		return 0;
	if (sk_pid_gone((pid_t)holder, GONE_WAIT))
		atomic_fetch_add(takeovers, 1);
	else
		sk_violation(w->sh,
			     "%s: worker %lld entered while worker %lld, "
			     "still running, was inside",
			     what, (long long)w->me, (long long)holder);
	return 0;
}

static int mark_leave(worker *w, agora_var *mark, const char *what)
{
	bool swapped = false;

	CALL(w, agora_var_cas(mark, agora_int(w->me), agora_int(0), &swapped));
	if (!swapped)
		sk_violation(w->sh,
			     "%s: worker %lld's mark was replaced while it "
			     "was inside",
			     what, (long long)w->me);
	return 0;
}

static int op_lock(worker *w)
{
	bool ok = false;

	CALL(w, agora_lock_acquire(w->lock, ACQUIRE_TIMEOUT, &ok));
	if (!ok) {
		atomic_fetch_add(&w->sh->acquire_timeouts, 1);
		return 0;
	}
	if (mark_enter(w, w->lock_mark, "lock", &w->sh->lock_takeovers) < 0)
		return -1;
	CALL(w, agora_dict_incr_int(w->counts, agora_str("sections"), 1, NULL));
	if (mark_leave(w, w->lock_mark, "lock") < 0)
		return -1;
	CALL(w, agora_lock_release(w->lock));
	atomic_fetch_add(&w->sh->ops[SK_LOCK], 1);
	return 0;
}

/* Acquire twice, check, release twice. */
static int op_rlock(worker *w)
{
	bool ok = false, again = false, locked = false;

	CALL(w, agora_rlock_acquire(w->rlock, ACQUIRE_TIMEOUT, &ok));
	if (!ok) {
		atomic_fetch_add(&w->sh->acquire_timeouts, 1);
		return 0;
	}
	CALL(w, agora_rlock_acquire(w->rlock, 0, &again));
	if (!again)
		sk_violation(w->sh, "rlock: its holder could not acquire it "
				    "again");
	if (mark_enter(w, w->rlock_mark, "rlock", &w->sh->rlock_takeovers) < 0)
		return -1;
	if (mark_leave(w, w->rlock_mark, "rlock") < 0)
		return -1;
	CALL(w, agora_rlock_release(w->rlock));
	CALL(w, agora_rlock_locked(w->rlock, &locked));
	if (!locked)
		sk_violation(w->sh, "rlock: free after one release of two");
	if (again)
		CALL(w, agora_rlock_release(w->rlock));
	atomic_fetch_add(&w->sh->ops[SK_RLOCK], 1);
	return 0;
}

/*
 * With a permit held, take one of the SK_PERMITS slots: a free one, else
 * one whose holder no longer runs. Holding a permit, at most SK_PERMITS - 1
 * running workers can be in slots, so one is always found unless more than
 * SK_PERMITS are inside. Returns the slot, -1 after an error, -2 after a
 * violation (both counted).
 */
static int take_slot(worker *w)
{
	bool swapped = false;
	agora_value v;

	for (int k = 0; k < SK_PERMITS; k++) {
		CALL(w, agora_var_cas(w->sem_slot[k], agora_int(0),
				      agora_int(w->me), &swapped));
		if (swapped)
			return k;
	}
	/* Every slot marked: look for the mark of a killed worker, first
	 * without waiting, then giving each holder time to be seen gone. */
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < SK_PERMITS; k++) {
			CALL(w, agora_var_get(w->sem_slot[k], &v));
			int64_t holder = value_int(&v);
			if (holder != 0 &&
			    !sk_pid_gone((pid_t)holder, pass ? GONE_WAIT : 0))
				continue;
			CALL(w, agora_var_cas(w->sem_slot[k], agora_int(holder),
					      agora_int(w->me), &swapped));
			if (swapped) {
				if (holder != 0)
					atomic_fetch_add(&w->sh->sem_takeovers,
							 1);
				return k;
			}
		}
	}
	sk_violation(w->sh,
		     "semaphore: worker %lld holds a permit but all %d "
		     "slots are held by running workers",
		     (long long)w->me, SK_PERMITS);
	return -2;
}

static int op_sem(worker *w)
{
	bool ok = false, swapped = false;
	int64_t value = -1;

	CALL(w, agora_semaphore_acquire(w->sem, ACQUIRE_TIMEOUT, &ok));
	if (!ok) {
		atomic_fetch_add(&w->sh->acquire_timeouts, 1);
		return 0;
	}
	CALL(w, agora_semaphore_value(w->sem, &value));
	if (value < 0 || value > SK_PERMITS - 1)
		sk_violation(w->sh,
			     "semaphore: value %lld while a permit is held "
			     "(%d permits)",
			     (long long)value, SK_PERMITS);
	int k = take_slot(w);
	if (k == -1)
		return -1;
	if (k >= 0) {
		CALL(w, agora_var_cas(w->sem_slot[k], agora_int(w->me),
				      agora_int(0), &swapped));
		if (!swapped)
			sk_violation(w->sh,
				     "semaphore: worker %lld's slot %d was "
				     "taken while it was inside",
				     (long long)w->me, k);
	}
	CALL(w, agora_semaphore_release(w->sem, 1));
	atomic_fetch_add(&w->sh->ops[SK_SEM], 1);
	return 0;
}

static int op_incr(worker *w)
{
	char key[16];
	int64_t n = 0;

	snprintf(key, sizeof(key), "k%u", rand_r(&w->rng) % SK_KEYS);
	CALL(w, agora_dict_incr_int(w->counts, agora_str(key), 1, &n));
	if (n < 1)
		sk_violation(w->sh, "dict: %s incremented to %lld", key,
			     (long long)n);
	atomic_fetch_add(&w->sh->ops[SK_INCR], 1);
	return 0;
}

/* Append; now and then cut the list back so that it stays small. */
static int op_append(worker *w)
{
	size_t len = 0;

	CALL(w, agora_list_append(w->log, agora_int(w->me)));
	if (++w->appends % 64 == 0) {
		CALL(w, agora_list_len(w->log, &len));
		if (len > LOG_TRIM_AT)
			CALL(w,
			     agora_list_del_slice(w->log, 0, LOG_TRIM_AT / 2));
	}
	atomic_fetch_add(&w->sh->ops[SK_APPEND], 1);
	return 0;
}

static int run(worker *w)
{
	if (open_all(w) < 0)
		return -1;
	while (!atomic_load(&w->sh->stop) && sk_now() < w->sh->deadline) {
		unsigned r = rand_r(&w->rng) % 100;
		int rc;
		if (r < 12)
			rc = op_put(w);
		else if (r < 26)
			rc = op_get(w);
		else if (r < 32)
			rc = op_aput(w);
		else if (r < 38)
			rc = op_take(w);
		else if (r < 52)
			rc = op_lock(w);
		else if (r < 62)
			rc = op_rlock(w);
		else if (r < 72)
			rc = op_sem(w);
		else if (r < 88)
			rc = op_incr(w);
		else
			rc = op_append(w);
		if (rc < 0)
			return -1;
	}
	close_all(w);
	return 0;
}

pid_t sk_worker_spawn(sk_shared *sh, int slot, unsigned gen)
{
	pid_t parent = getpid();

	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);

	worker w;
	memset(&w, 0, sizeof(w));
	w.sh = sh;
	w.slot = slot;
	w.gen = gen;
	w.me = getpid();
	w.rng = (unsigned)getpid() * 2654435761u ^ (unsigned)slot;
	w.c = agora_client_new();
	if (w.c == NULL)
		_exit(124);
	int rc = agora_client_connect_env(w.c);
	if (rc != 0) {
		sk_error(sh, "worker %d: connect: %s: %s", slot,
			 agora_errname(rc), agora_errmsg(w.c));
		agora_client_free(w.c);
		_exit(123);
	}
	rc = run(&w);
	agora_client_free(w.c);
	_exit(rc == 0 ? 0 : 1);
}
