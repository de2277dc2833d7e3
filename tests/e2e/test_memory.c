/*
 * test_memory.c - what agorad's memory does, measured from outside: its
 * RSS (VmRSS and the peak VmHWM of /proc/PID/status) next to what `stats`
 * says it holds.
 *
 *   a 60 MiB request    list.extend of 1 KiB items, dict.update of 1 KiB
 *                       values and value.set of one bin, each 60 MiB on
 *                       the wire: the peak RSS rises by at most 3x the
 *                       request, and once the data is cleared RSS is back
 *                       within 16 MiB of where it started. A bystander
 *                       pings every 10 ms meanwhile; its slowest ping is
 *                       printed ("bystander worst ping"), not asserted.
 *   unread answers      with --max-memory 32 MiB, clients that ask for
 *                       large answers and never read cannot take the
 *                       server past max_memory + max_output (the bound
 *                       enforce_memory() in server/conn.c keeps): the
 *                       largest holders are cut, the others served.
 *   stats vs RSS        memory_total grows as RSS does, within a factor,
 *                       for many small objects, a few big values and idle
 *                       connections holding answers.
 *
 * RSS means nothing under valgrind or AddressSanitizer (their own heaps and
 * shadow memory): there the RSS assertions are skipped, saying so, and the
 * functional parts (LIMIT answers, cuts, what the clients read) still run.
 * AGORA_TEST_NO_RSS=1 skips them too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* The size of the large request, on the wire: 60 MiB, or 6 MiB where RSS
 * is not checked (valgrind would take minutes over 60). */
#define REQUEST_SIZE (rss_checked() ? 60 * MiB : 6 * MiB)
/* The peak RSS may rise by this many times the request. */
#define RSS_FACTOR 3
static bool rss_checked(void);
/* After the data is gone, RSS is back within this of its baseline. */
#define RSS_RETURN_SLACK (16 * MiB)
/* The bystander pings this often during a large request. */
#define PING_EVERY_MS 10

/* The unread-answers test: the limits it starts agorad with, and how far
 * past max_memory + max_output memory_total and the RSS rise may go (the
 * bound leaves out the connections it never cuts, CONN_SMALL each, and
 * glibc's own slack for RSS). */
#define MAX_MEMORY (32 * MiB)
#define MAX_OUTPUT (16 * MiB)
#define BOUND_SLACK (8 * MiB)

/* stats memory_total and RSS grow alike within this factor (measured:
 * 1.85 for many small objects, whose malloc overheads are not counted;
 * 0.94 to 1.00 for the other shapes). */
#define STATS_FACTOR 2.5

static bool rss_checked(void)
{
	static int said;

	if (agh_under_valgrind() || agh_under_asan() ||
	    getenv("AGORA_TEST_NO_RSS") != NULL) {
		if (!said++)
			printf("RSS assertions skipped: under %s, RSS says "
			       "nothing about agorad's own memory\n",
			       agh_under_valgrind() ? "valgrind"
			       : agh_under_asan()   ? "AddressSanitizer"
						    : "AGORA_TEST_NO_RSS");
		return false;
	}
	return true;
}

/* ---- /proc -------------------------------------------------------------- */

/* A "Name:   N kB" field of /proc/@pid/status, in bytes. */
static size_t proc_status(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field), kb = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtoull(line + flen + 1, NULL, 10);
			found = true;
		}
	fclose(f);
	ck_assert_msg(found, "%s has no %s", path, field);
	return kb * KiB;
}

static size_t rss(const agh_server *s)
{
	return proc_status(s->pid, "VmRSS");
}

/* Reset the peak RSS (VmHWM) to the current RSS (proc(5), clear_refs). */
static void reset_peak(const agh_server *s)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)s->pid);
	fd = open(path, O_WRONLY);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, "5", 1), 1);
	close(fd);
}

static size_t peak(const agh_server *s)
{
	return proc_status(s->pid, "VmHWM");
}

static double mib(size_t n)
{
	return (double)n / (double)MiB;
}

/* Wait (bounded) until agorad's RSS is at most @limit; returns the last
 * reading. Giving memory back is synchronous in agorad, but the kernel's
 * count may lag a little. */
static size_t wait_rss_under(const agh_server *s, size_t limit)
{
	double deadline = agh_now() + 5;
	size_t now;

	while ((now = rss(s)) > limit && agh_now() < deadline) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return now;
}

/* ---- the bystander ------------------------------------------------------ */

/*
 * A worker that pings every PING_EVERY_MS until its stop pipe closes, then
 * writes its slowest ping and its count to the result pipe. It writes one
 * byte there after its first ping, so the test knows it runs.
 */
typedef struct pinger {
	int stop[2];
	int result[2];
	pid_t pid;
} pinger;

typedef struct ping_report {
	double worst;
	int pings;
} ping_report;

static int pinger_run(agora_client *c, int idx, void *arg)
{
	pinger *p = arg;
	ping_report rep;
	struct pollfd pfd = { p->stop[0], POLLIN, 0 };

	(void)idx;
	memset(&rep, 0, sizeof(rep)); /* its padding is written too */
	close(p->stop[1]);
	close(p->result[0]);
	for (;;) {
		double t0 = agh_now();
		AGH_WCALL(c, agora_ping(c));
		double dt = agh_now() - t0;
		if (dt > rep.worst)
			rep.worst = dt;
		if (rep.pings++ == 0)
			AGH_WCHECK(write(p->result[1], "r", 1) == 1);
		if (poll(&pfd, 1, PING_EVERY_MS) != 0)
			break; /* the stop pipe closed */
	}
	AGH_WCHECK(write(p->result[1], &rep, sizeof(rep)) ==
		   (ssize_t)sizeof(rep));
	return 0;
}

static void pinger_start(pinger *p)
{
	char ready;

	ck_assert_int_eq(pipe(p->stop), 0);
	ck_assert_int_eq(pipe(p->result), 0);
	p->pid = agh_spawn(pinger_run, 0, p);
	close(p->stop[0]);
	close(p->result[1]);
	ck_assert_int_eq(read(p->result[0], &ready, 1), 1);
}

static ping_report pinger_stop(pinger *p)
{
	ping_report rep;

	close(p->stop[1]);
	ck_assert_int_eq(read(p->result[0], &rep, sizeof(rep)), sizeof(rep));
	close(p->result[0]);
	agh_wait_ok(p->pid);
	return rep;
}

/* ---- a 60 MiB request --------------------------------------------------- */

#define ITEM_SIZE 1024
/* A bin of ITEM_SIZE bytes takes ITEM_SIZE + 3 on the wire (bin 16). */
#define NITEMS (REQUEST_SIZE / (ITEM_SIZE + 3))

static agh_server srv;
static char item[ITEM_SIZE];

typedef struct big_run {
	const char *what;
	size_t base, peak, after;
	ping_report ping;
	double took;
} big_run;

/* Run @send (the large request) with the bystander pinging, then @clear;
 * measure agorad's RSS before, at its peak, and after. */
static big_run big_request(const char *what, agora_client *c,
			   int (*send)(void *ud), int (*clear)(void *ud),
			   void *ud)
{
	big_run run = { .what = what };
	pinger p;

	run.base = rss(&srv);
	reset_peak(&srv);
	pinger_start(&p);
	double t0 = agh_now();
	AGH_OK(c, send(ud));
	run.took = agh_now() - t0;
	run.ping = pinger_stop(&p);
	run.peak = peak(&srv);
	AGH_OK(c, clear(ud));
	run.after = rss_checked()
			? wait_rss_under(&srv, run.base + RSS_RETURN_SLACK)
			: rss(&srv);
	printf("%s of %.1f MiB: RSS %.1f MiB before, peak %.1f MiB (+%.2fx "
	       "the request), %.1f MiB after clearing; took %.0f ms; "
	       "bystander worst ping %.1f ms over %d pings\n",
	       what, mib(REQUEST_SIZE), mib(run.base), mib(run.peak),
	       (double)(run.peak - run.base) / (double)REQUEST_SIZE,
	       mib(run.after), run.took * 1e3, run.ping.worst * 1e3,
	       run.ping.pings);
	if (rss_checked()) {
		ck_assert_msg(run.peak <= run.base + RSS_FACTOR * REQUEST_SIZE,
			      "%s: RSS rose by %.1f MiB for a %.1f MiB "
			      "request",
			      what, mib(run.peak - run.base),
			      mib(REQUEST_SIZE));
		ck_assert_msg(run.after <= run.base + RSS_RETURN_SLACK,
			      "%s: RSS %.1f MiB after clearing, %.1f MiB "
			      "before",
			      what, mib(run.after), mib(run.base));
	}
	return run;
}

typedef struct big_ctx {
	agora_client *c;
	agora_list *l;
	agora_dict *d;
	agora_var *v;
	agora_value *items;
	agora_pair *pairs;
	char *blob;
} big_ctx;

static int extend_list(void *ud)
{
	big_ctx *x = ud;
	return agora_list_extend(x->l, x->items, NITEMS);
}

static int clear_list(void *ud)
{
	big_ctx *x = ud;
	size_t n = 0;
	int rc = agora_list_len(x->l, &n);

	if (rc == 0 && n != NITEMS)
		return AGORA_EVALUE; /* not all of it was stored */
	return rc < 0 ? rc : agora_list_clear(x->l);
}

static int update_dict(void *ud)
{
	big_ctx *x = ud;
	return agora_dict_update(x->d, agora_map(x->pairs, NITEMS));
}

static int clear_dict(void *ud)
{
	big_ctx *x = ud;
	size_t n = 0;
	int rc = agora_dict_len(x->d, &n);

	if (rc == 0 && n != NITEMS)
		return AGORA_EVALUE;
	return rc < 0 ? rc : agora_dict_clear(x->d);
}

static int set_value(void *ud)
{
	big_ctx *x = ud;
	return agora_var_set(x->v, agora_bin(x->blob, REQUEST_SIZE - 8));
}

static int clear_value(void *ud)
{
	big_ctx *x = ud;
	return agora_var_set(x->v, agora_nil());
}

START_TEST(a_60_mib_request_costs_at_most_3x_and_is_given_back)
{
	big_ctx x = { 0 };
	char(*keys)[16];

	agh_server_start(&srv);
	x.c = agh_connect(&srv);
	memset(item, 'i', sizeof(item));
	x.items = calloc(NITEMS, sizeof(*x.items));
	x.pairs = calloc(NITEMS, sizeof(*x.pairs));
	keys = calloc(NITEMS, sizeof(*keys));
	x.blob = malloc(REQUEST_SIZE);
	ck_assert(x.items && x.pairs && keys && x.blob);
	memset(x.blob, 'v', REQUEST_SIZE);
	for (size_t i = 0; i < NITEMS; i++) {
		x.items[i] = agora_bin(item, sizeof(item));
		/* Keys of 12 bytes (str 8: 13 on the wire), values 1 KiB less
		 * those 13: each pair takes ITEM_SIZE + 3 on the wire too. */
		snprintf(keys[i], sizeof(keys[i]), "k%011zu", i);
		x.pairs[i].key = agora_strn(keys[i], 12);
		x.pairs[i].val = agora_bin(item, sizeof(item) - 13);
	}
	AGH_OK(x.c, agora_list_open(x.c, "big-list", &x.l));
	AGH_OK(x.c, agora_dict_open(x.c, "big-dict", &x.d));
	AGH_OK(x.c, agora_var_open(x.c, "big-value", agora_nil(), &x.v));

	big_request("list.extend", x.c, extend_list, clear_list, &x);
	big_request("dict.update", x.c, update_dict, clear_dict, &x);
	big_request("value.set", x.c, set_value, clear_value, &x);
	/* The request's buffers went with it. */
	int64_t held = agh_stats_int(x.c, "memory_connections");
	ck_assert_msg(held < (int64_t)MiB, "connections hold %lld bytes",
		      (long long)held);

	agora_list_close(x.l);
	agora_dict_close(x.d);
	agora_var_close(x.v);
	agora_client_free(x.c);
	free(x.items);
	free(x.pairs);
	free(keys);
	free(x.blob);
	agh_server_stop(&srv);
}
END_TEST

/* ---- unread answers ----------------------------------------------------- */

/* One raw client that asks for a value and reads nothing until told. */
typedef struct reader {
	agh_raw *r;
	size_t value_len; /* of the value it asked for */
	char fill;        /* every byte of that value */
	size_t got;       /* bytes of its answer read */
	bool complete;    /* all of it, as expected */
} reader;

static void send_get(agh_raw *r, uint32_t msgid, uint64_t h)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, msgid, "value.get", 1);
	msgpack_pack_uint64(&pk, h);
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
}

static uint64_t raw_open_value(agh_raw *r, uint32_t msgid, const char *name)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, msgid, "open", 2);
	msgpack_pack_str_with_body(&pk, "value", 5);
	msgpack_pack_str_with_body(&pk, name, strlen(name));
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	msgpack_object h = agh_ok_result(m.data, msgid);
	ck_assert_int_eq(h.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	uint64_t handle = h.via.u64;
	msgpack_unpacked_destroy(&m);
	return handle;
}

/* Wait until the server has answered (or closed): the socket is readable.
 * Nothing is read. */
static void wait_readable(const agh_raw *r)
{
	struct pollfd p = { r->fd, POLLIN, 0 };
	ck_assert_msg(poll(&p, 1, (int)(AGH_RAW_TIMEOUT * 1000)) == 1,
		      "no answer within %g s", AGH_RAW_TIMEOUT);
}

/* Read @rd's answer (msgid 4) to the end, or to the server's close:
 * whether all of it came, every byte as expected. */
static void reader_drain(reader *rd)
{
	unsigned char head[16];
	size_t hlen = 0, want;
	char buf[65536];

	/* [1, 4, nil, bin32 len] */
	head[hlen++] = 0x94;
	head[hlen++] = 0x01;
	head[hlen++] = 0x04;
	head[hlen++] = 0xc0;
	head[hlen++] = 0xc6;
	for (int i = 3; i >= 0; i--)
		head[hlen++] = (unsigned char)(rd->value_len >> (8 * i));
	want = hlen + rd->value_len;
	rd->got = 0;
	for (;;) {
		struct pollfd p = { rd->r->fd, POLLIN, 0 };
		ck_assert_msg(poll(&p, 1, (int)(AGH_RAW_TIMEOUT * 1000)) == 1,
			      "an answer stalled after %zu bytes", rd->got);
		ssize_t n = read(rd->r->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		ck_assert_msg(n > 0, "read: %s", strerror(errno));
		/* (Check's assertions are slow: one per read, not per byte.) */
		bool ok = rd->got + (size_t)n <= want;
		for (ssize_t i = 0; ok && i < n; i++, rd->got++)
			ok = (unsigned char)buf[i] ==
			     (rd->got < hlen ? head[rd->got]
					     : (unsigned char)rd->fill);
		ck_assert_msg(ok, "an answer is wrong near byte %zu", rd->got);
		if (rd->got == want)
			break;
	}
	rd->complete = rd->got == want;
}

#define NBIG 6
#define NSMALL 6
#define BIG_ANSWER (12 * MiB)
#define SMALL_ANSWER (1 * MiB)

START_TEST(unread_answers_stay_within_the_bound_and_the_largest_are_cut)
{
	static const char *const flags[] = { "--max-memory", "33554432",
					     "--max-output", "16777216", NULL };
	const size_t bound = MAX_MEMORY + MAX_OUTPUT;
	reader rds[NBIG + NSMALL];
	size_t empty_rss, base_rss, max_rss = 0;
	int64_t max_total = 0;
	agora_var *big, *small;
	char *blob;
	int big_cut = 0;

	agh_server_start_args(&srv, flags);
	agora_client *c = agh_connect(&srv);
	empty_rss = rss(&srv);
	blob = malloc(BIG_ANSWER);
	ck_assert_ptr_nonnull(blob);
	memset(blob, 'B', BIG_ANSWER);
	AGH_OK(c, agora_var_open(c, "big", agora_bin(blob, BIG_ANSWER), &big));
	memset(blob, 's', SMALL_ANSWER);
	AGH_OK(c, agora_var_open(c, "small", agora_bin(blob, SMALL_ANSWER),
				 &small));
	free(blob);
	/* The objects leave room for little more: storing is LIMIT. */
	static char more[24 * 1024 * 1024];
	AGH_CALL_EQ(c, agora_var_set(small, agora_bin(more, sizeof(more))),
		    AGORA_ELIMIT);
	base_rss = rss(&srv);

	/* Big and small askers in turn; none reads. */
	for (int i = 0; i < NBIG + NSMALL; i++) {
		reader *rd = &rds[i];
		bool is_big = i % 2 == 0;
		rd->r = agh_raw_connect(&srv);
		agh_raw_handshake(rd->r, &srv);
		uint64_t h = raw_open_value(rd->r, 3, is_big ? "big" : "small");
		rd->value_len = is_big ? BIG_ANSWER : SMALL_ANSWER;
		rd->fill = is_big ? 'B' : 's';
		send_get(rd->r, 4, h);
		wait_readable(rd->r);
		int64_t total = agh_stats_int(c, "memory_total");
		size_t now = rss(&srv);
		if (total > max_total)
			max_total = total;
		if (now > max_rss)
			max_rss = now;
	}
	int64_t conns_left = agh_stats_int(c, "connections");

	/* Everyone reads now: the cut ones find their connection closed. */
	for (int i = 0; i < NBIG + NSMALL; i++) {
		reader_drain(&rds[i]);
		if (!rds[i].complete) {
			ck_assert_msg(rds[i].value_len == BIG_ANSWER,
				      "a client asking for %zu bytes was cut",
				      rds[i].value_len);
			big_cut++;
		}
	}
	printf("unread answers (--max-memory %.0f MiB, --max-output %.0f "
	       "MiB): %d of %d clients holding %.0f MiB answers cut, %d "
	       "holding %.0f MiB served; memory_total at most %.1f MiB "
	       "(bound %.0f MiB); RSS %.1f MiB empty, %.1f MiB with the "
	       "objects, at most %.1f MiB\n",
	       mib(MAX_MEMORY), mib(MAX_OUTPUT), big_cut, NBIG, mib(BIG_ANSWER),
	       NSMALL, mib(SMALL_ANSWER), mib(max_total), mib(bound),
	       mib(empty_rss), mib(base_rss), mib(max_rss));
	ck_assert_msg(big_cut >= 1, "nobody was cut");
	ck_assert_int_eq(conns_left, 1 + NBIG + NSMALL - big_cut);
	ck_assert_msg((size_t)max_total <= bound + BOUND_SLACK,
		      "memory_total reached %.1f MiB", mib(max_total));
	if (rss_checked())
		ck_assert_msg(max_rss <= empty_rss + bound + BOUND_SLACK,
			      "RSS rose from %.1f MiB (empty) to %.1f MiB",
			      mib(empty_rss), mib(max_rss));

	/* Still serving, its data intact. */
	agora_value v;
	AGH_OK(c, agora_var_get(small, &v));
	ck_assert_int_eq(v.type, AGORA_BIN);
	ck_assert_uint_eq(v.via.str.len, SMALL_ANSWER);
	agora_value_free(&v);
	for (int i = 0; i < NBIG + NSMALL; i++)
		agh_raw_free(rds[i].r);
	agh_wait_stats(c, "connections", 1);
	agora_var_close(big);
	agora_var_close(small);
	agora_client_free(c);
	agh_server_stop(&srv);
}
END_TEST

/* ---- stats against RSS -------------------------------------------------- */

typedef struct shape {
	const char *what;
	void (*build)(agora_client *c, void **state);
	void (*undo)(agora_client *c, void *state);
} shape;

#define NSMALLOBJ 10000

static void many_small_objects(agora_client *c, void **state)
{
	agora_var **vs = calloc(NSMALLOBJ, sizeof(*vs));
	char name[32];

	ck_assert_ptr_nonnull(vs);
	for (int i = 0; i < NSMALLOBJ; i++) {
		snprintf(name, sizeof(name), "small-%d", i);
		AGH_OK(c, agora_var_open(c, name,
					 agora_str("a small value of forty "
						   "bytes, give or take"),
					 &vs[i]));
	}
	*state = vs;
}

static void many_small_objects_undo(agora_client *c, void *state)
{
	agora_var **vs = state;
	(void)c;
	for (int i = 0; i < NSMALLOBJ; i++)
		agora_var_close(vs[i]);
	free(vs);
}

#define NDICT 200000

static void a_dict_of_small_entries(agora_client *c, void **state)
{
	agora_dict *d;
	agora_pair *pairs = calloc(NDICT, sizeof(*pairs));

	ck_assert_ptr_nonnull(pairs);
	for (int i = 0; i < NDICT; i++) {
		pairs[i].key = agora_int(i);
		pairs[i].val = agora_str("value");
	}
	AGH_OK(c, agora_dict_open(c, "entries", &d));
	AGH_OK(c, agora_dict_update(d, agora_map(pairs, NDICT)));
	free(pairs);
	*state = d;
}

static void dict_undo(agora_client *c, void *state)
{
	(void)c;
	agora_dict_close(state);
}

#define NBIGVAL 4
#define BIGVAL (8 * MiB)

static void a_few_big_values(agora_client *c, void **state)
{
	agora_var **vs = calloc(NBIGVAL, sizeof(*vs));
	char *blob = malloc(BIGVAL), name[32];

	ck_assert(vs && blob);
	memset(blob, 'x', BIGVAL);
	for (int i = 0; i < NBIGVAL; i++) {
		snprintf(name, sizeof(name), "big-%d", i);
		AGH_OK(c, agora_var_open(c, name, agora_bin(blob, BIGVAL),
					 &vs[i]));
	}
	free(blob);
	*state = vs;
}

static void big_values_undo(agora_client *c, void *state)
{
	agora_var **vs = state;
	(void)c;
	for (int i = 0; i < NBIGVAL; i++)
		agora_var_close(vs[i]);
	free(vs);
}

#define NIDLE 8
#define IDLE_ANSWER (4 * MiB)

static void idle_connections(agora_client *c, void **state)
{
	agh_raw **rs = calloc(NIDLE, sizeof(*rs));
	char *blob = malloc(IDLE_ANSWER);
	agora_var *v;

	ck_assert(rs && blob);
	memset(blob, 'i', IDLE_ANSWER);
	AGH_OK(c,
	       agora_var_open(c, "answer", agora_bin(blob, IDLE_ANSWER), &v));
	free(blob);
	agora_var_close(v);
	for (int i = 0; i < NIDLE; i++) {
		rs[i] = agh_raw_connect(&srv);
		agh_raw_handshake(rs[i], &srv);
		send_get(rs[i], 4, raw_open_value(rs[i], 3, "answer"));
		wait_readable(rs[i]);
	}
	*state = rs;
}

static void idle_undo(agora_client *c, void *state)
{
	agh_raw **rs = state;
	for (int i = 0; i < NIDLE; i++)
		agh_raw_free(rs[i]);
	free(rs);
	agh_wait_stats(c, "connections", 1);
}

static const shape shapes[] = {
	{ "10,000 small named values", many_small_objects,
	  many_small_objects_undo },
	{ "a dict of 200,000 small entries", a_dict_of_small_entries,
	  dict_undo },
	{ "4 values of 8 MiB", a_few_big_values, big_values_undo },
	{ "8 idle connections holding 4 MiB answers", idle_connections,
	  idle_undo },
};

START_TEST(stats_memory_total_tracks_rss)
{
	const shape *sh = &shapes[_i];
	void *state = NULL;

	agh_server_start(&srv);
	agora_client *c = agh_connect(&srv);
	int64_t total0 = agh_stats_int(c, "memory_total");
	size_t rss0 = rss(&srv);
	sh->build(c, &state);
	int64_t total1 = agh_stats_int(c, "memory_total");
	size_t rss1 = rss(&srv);
	double dtotal = (double)(total1 - total0), drss = (double)rss1 - rss0;
	double ratio = drss / dtotal;
	printf("%s: memory_total +%.1f MiB (memory %.1f, connections %.1f), "
	       "RSS +%.1f MiB: RSS/stats %.2f\n",
	       sh->what, mib((size_t)(total1 - total0)),
	       mib((size_t)agh_stats_int(c, "memory")),
	       mib((size_t)agh_stats_int(c, "memory_connections")),
	       drss / (double)MiB, ratio);
	ck_assert_msg(dtotal > 0, "memory_total did not grow");
	if (rss_checked())
		ck_assert_msg(ratio >= 1 / STATS_FACTOR &&
				  ratio <= STATS_FACTOR,
			      "%s: RSS grew %.2f times what memory_total did",
			      sh->what, ratio);
	sh->undo(c, state);
	agora_client_free(c);
	agh_server_stop(&srv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memory");

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0); /* figures survive a failure */
	AGH_ADD_BARE(s, a_60_mib_request_costs_at_most_3x_and_is_given_back);
	AGH_ADD_BARE(
	    s, unread_answers_stay_within_the_bound_and_the_largest_are_cut);
	TCase *tc = tcase_create("stats_memory_total_tracks_rss");
	tcase_set_timeout(tc, 100);
	tcase_add_loop_test(tc, stats_memory_total_tracks_rss, 0,
			    (int)(sizeof(shapes) / sizeof(shapes[0])));
	suite_add_tcase(s, tc);
	return agh_run_suite(s);
}
