/*
 * test_manager.c - the seeds' Manager scenario, end to end: worker processes
 * share a dict and a list through a real agorad.
 *
 *     with Manager() as m:
 *         d, l = m.dict(), m.list()
 *         ps = [Process(target=f, args=(d, l)) for _ in range(10)]
 *         ...                     # f: d[os.getpid()] = os.getppid();
 *                                 #    l.append(os.getpid())
 */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define NWORKERS 10

static int record_pid(agora_client *c, int idx, void *arg)
{
	agora_dict *d = NULL;
	agora_list *l = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_dict_open(c, "d", &d));
	AGH_WCALL(c, agora_list_open(c, "l", &l));
	AGH_WCALL(c,
		  agora_dict_set(d, agora_int(getpid()), agora_int(getppid())));
	AGH_WCALL(c, agora_list_append(l, agora_int(getpid())));
	AGH_WCALL(c, agora_list_close(l));
	AGH_WCALL(c, agora_dict_close(d));
	return 0;
}

START_TEST(ten_workers_write_pid_into_shared_dict_and_list)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_list *l;
	pid_t pids[NWORKERS];
	size_t n;

	agh_run_workers(NWORKERS, record_pid, NULL, pids);

	AGH_OK(c, agora_dict_open(c, "d", &d));
	AGH_OK(c, agora_list_open(c, "l", &l));
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, NWORKERS);
	AGH_OK(c, agora_list_len(l, &n));
	ck_assert_uint_eq(n, NWORKERS);
	for (int i = 0; i < NWORKERS; i++) {
		int64_t ppid = 0, count = 0;
		AGH_OK(c, agora_dict_get_int(d, agora_int(pids[i]), &ppid));
		ck_assert_int_eq(ppid, getpid());
		AGH_OK(c, agora_list_count(l, agora_int(pids[i]), &count));
		ck_assert_int_eq(count, 1);
	}
	agora_dict_close(d);
	agora_list_close(l);
}
END_TEST

static int append_until_seen(agora_client *c, int idx, void *arg)
{
	agora_list *l = NULL;
	agora_var *go = NULL;
	int64_t v = 0;

	(void)arg;
	AGH_WCALL(c, agora_list_open(c, "log", &l));
	AGH_WCALL(c, agora_var_open(c, "arrived", agora_int(0), &go));
	AGH_WCALL(c, agora_list_append(l, agora_int(idx)));
	AGH_WCALL(c, agora_var_add_int(go, 1, &v));
	AGH_WCHECK(v >= 1 && v <= NWORKERS);
	AGH_WCALL(c, agora_var_close(go));
	AGH_WCALL(c, agora_list_close(l));
	return 0;
}

START_TEST(workers_see_one_list_and_the_parent_sees_every_append)
{
	agora_client *c = agh_cli;
	agora_list *l;
	agora_var *arrived;
	agora_value items;
	bool seen[NWORKERS] = { false };

	/* The parent creates the objects first; the workers open them by
	 * name and get the same ones. */
	AGH_OK(c, agora_list_open(c, "log", &l));
	AGH_OK(c, agora_var_open(c, "arrived", agora_int(0), &arrived));
	agh_run_workers(NWORKERS, append_until_seen, NULL, NULL);

	int64_t n = 0;
	AGH_OK(c, agora_var_get_int(arrived, &n));
	ck_assert_int_eq(n, NWORKERS);
	AGH_OK(c, agora_list_copy(l, &items));
	ck_assert_int_eq(items.type, AGORA_ARRAY);
	ck_assert_uint_eq(items.via.array.len, NWORKERS);
	for (size_t i = 0; i < items.via.array.len; i++) {
		int64_t x = -1;
		ck_assert_int_eq(
		    agora_value_to_int(items.via.array.items[i], &x), 0);
		ck_assert(x >= 0 && x < NWORKERS);
		ck_assert_msg(!seen[x], "worker %lld appended twice",
			      (long long)x);
		seen[x] = true;
	}
	agora_value_free(&items);
	agora_var_close(arrived);
	agora_list_close(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("manager");

	AGH_ADD(s, ten_workers_write_pid_into_shared_dict_and_list);
	AGH_ADD(s, workers_see_one_list_and_the_parent_sees_every_append);
	return agh_run_suite(s);
}
