/*
 * test_watch.c - watches from C (docs/protocol.md section 11.1): a watcher
 * sees every change of 8 writers' 10,000 mixed writes, in order, none
 * missing, none twice; a watcher that went away learns, watching again
 * with its last version, whether it missed changes.
 *
 * Every write is about a key that names its writer and its step ("w3:17",
 * or "c3" for writer 3's counter), and a writer's steps follow a fixed
 * pattern, so the watcher knows, for each writer, which change must come
 * next: any change missing, repeated or out of its writer's order fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define WRITERS 8

/* Writes per writer: 10,000 in all (2,000 under valgrind). */
static int steps(void)
{
	return agh_under_valgrind() ? 250 : 1250;
}

/* Writer @w's step @j: the op, and the key in @key. */
static const char *step(int w, int j, char *key, size_t len)
{
	switch (j % 5) {
	case 0:
		snprintf(key, len, "w%d:%d", w, j);
		return "dict.set";
	case 1:
		snprintf(key, len, "c%d", w);
		return "dict.incr";
	case 2:
		snprintf(key, len, "w%d:%d", w, j);
		return "dict.setdefault";
	case 3: /* the key step j - 3 set */
		snprintf(key, len, "w%d:%d", w, j - 3);
		return "dict.delete";
	default: /* the key step j - 2 set */
		snprintf(key, len, "w%d:%d", w, j - 2);
		return "dict.pop";
	}
}

static int writer(agora_client *c, int idx, void *arg)
{
	agora_dict *d;
	char key[32];

	(void)arg;
	AGH_WCALL(c, agora_dict_open(c, "watched", &d));
	for (int j = 0; j < steps(); j++) {
		const char *op = step(idx, j, key, sizeof(key));
		agora_value k = agora_str(key), v;

		if (strcmp(op, "dict.set") == 0) {
			AGH_WCALL(c, agora_dict_set(d, k, agora_int(j)));
		} else if (strcmp(op, "dict.incr") == 0) {
			AGH_WCALL(c, agora_dict_incr_int(d, k, 1, NULL));
		} else if (strcmp(op, "dict.setdefault") == 0) {
			AGH_WCALL(
			    c, agora_dict_setdefault(d, k, agora_int(j), &v));
			agora_value_free(&v);
		} else if (strcmp(op, "dict.delete") == 0) {
			AGH_WCALL(c, agora_dict_delete(d, k));
		} else {
			AGH_WCALL(c, agora_dict_pop(d, k, &v));
			agora_value_free(&v);
		}
	}
	agora_dict_close(d);
	return 0;
}

/* Take the next change for @watch from @c (failing after 60 s). */
static agora_notification *next_change(agora_client *c, agora_change *ch)
{
	agora_notification *n = NULL;

	AGH_OK(c, agora_notification_next(c, 60, &n));
	ck_assert_str_eq(n->method, "watch");
	ck_assert_int_eq(agora_change_of(n, ch), 0);
	return n;
}

START_TEST(a_watcher_sees_every_change_of_eight_writers_in_order)
{
	const int total = WRITERS * steps(), half = total / 2;
	agora_client *late = agh_connect(&agh_srv);
	agora_dict *d, *dl;
	agora_watch_info w, wl, again;
	int next[WRITERS] = { 0 }, seen = 0;
	uint64_t last = 0, late_last = 0;
	pid_t pids[WRITERS];

	AGH_OK(agh_cli, agora_dict_open(agh_cli, "watched", &d));
	AGH_OK(late, agora_dict_open(late, "watched", &dl));
	AGH_OK(agh_cli,
	       agora_watch(agh_cli, agora_dict_handle(d), NULL, NULL, &w));
	ck_assert_int_eq(w.changed, -1);
	AGH_OK(late, agora_watch(late, agora_dict_handle(dl), NULL, NULL, &wl));
	for (int i = 0; i < WRITERS; i++)
		pids[i] = agh_spawn(writer, i, NULL);

	/* The second watcher reads half the changes, then goes away. */
	for (int i = 0; i < half; i++) {
		agora_change ch;
		agora_notification *n = next_change(late, &ch);
		ck_assert_uint_gt(ch.version, late_last);
		late_last = ch.version;
		agora_notification_free(n);
	}
	agora_dict_close(dl);
	agora_client_free(late);

	while (seen < total) {
		agora_change ch;
		agora_notification *n = next_change(agh_cli, &ch);
		char want[32], *colon;
		int wr;

		ck_assert_uint_eq(ch.watch, w.watch);
		ck_assert_msg(ch.version > last, "version %llu after %llu",
			      (unsigned long long)ch.version,
			      (unsigned long long)last);
		last = ch.version;
		ck_assert_ptr_nonnull(ch.key);
		ck_assert_int_eq(ch.key->type, AGORA_STR);
		wr = atoi(ch.key->via.str.ptr + 1);
		colon = strchr(ch.key->via.str.ptr, ':');
		ck_assert(colon != NULL || ch.key->via.str.ptr[0] == 'c');
		ck_assert_int_ge(wr, 0);
		ck_assert_int_lt(wr, WRITERS);
		ck_assert_int_lt(next[wr], steps());
		/* exactly the change its writer made next */
		ck_assert_str_eq(ch.op, step(wr, next[wr], want, sizeof(want)));
		ck_assert_str_eq(ch.key->via.str.ptr, want);
		next[wr]++;
		seen++;
		agora_notification_free(n);
	}
	agh_wait_all_ok(pids, WRITERS);
	for (int i = 0; i < WRITERS; i++)
		ck_assert_int_eq(next[i], steps());
	/* nothing more came, and the last version seen is the object's */
	{
		agora_notification *n = NULL;
		ck_assert_int_eq(agora_notification_next(agh_cli, 0.2, &n),
				 AGORA_ETIMEDOUT);
	}
	ck_assert_int_eq(agh_info_int(agh_cli, agora_dict_handle(d), "version"),
			 (int64_t)last);

	/* Resuming: the watcher that went away half-way missed changes; one
	 * that saw the last version missed none, until one more write. */
	late = agh_connect(&agh_srv);
	AGH_OK(late, agora_dict_open(late, "watched", &dl));
	wl.version = late_last;
	AGH_OK(late,
	       agora_watch(late, agora_dict_handle(dl), NULL, &wl, &again));
	ck_assert_int_eq(again.changed, 1);
	ck_assert_str_eq(again.run, w.run);
	ck_assert_uint_eq(again.version, last);
	w.version = last;
	AGH_OK(late,
	       agora_watch(late, agora_dict_handle(dl), NULL, &w, &again));
	ck_assert_int_eq(again.changed, 0);
	AGH_OK(agh_cli, agora_dict_set(d, agora_str("one"), agora_int(1)));
	AGH_OK(late,
	       agora_watch(late, agora_dict_handle(dl), NULL, &w, &again));
	ck_assert_int_eq(again.changed, 1);
	agora_dict_close(dl);
	agora_client_free(late);
	agora_dict_close(d);
}
END_TEST

START_TEST(a_key_watch_and_unwatch)
{
	agora_dict *d;
	agora_watch_info w;
	agora_notification *n = NULL;
	agora_change ch;
	agora_value key = agora_str("mode");
	bool had;

	AGH_OK(agh_cli, agora_dict_open(agh_cli, NULL, &d));
	AGH_OK(agh_cli,
	       agora_watch(agh_cli, agora_dict_handle(d), &key, NULL, &w));
	AGH_OK(agh_cli, agora_dict_set(d, agora_str("other"), agora_int(1)));
	AGH_OK(agh_cli, agora_dict_set(d, key, agora_str("fast")));
	AGH_OK(agh_cli, agora_notification_next(agh_cli, 10, &n));
	AGH_OK(agh_cli, agora_change_of(n, &ch));
	ck_assert_str_eq(ch.op, "dict.set");
	agh_assert_str(*ch.key, "mode");
	agora_notification_free(n);
	AGH_OK(agh_cli, agora_unwatch(agh_cli, w.watch, &had));
	ck_assert(had);
	AGH_OK(agh_cli, agora_unwatch(agh_cli, w.watch, &had));
	ck_assert(!had);
	AGH_OK(agh_cli, agora_dict_set(d, key, agora_str("slow")));
	ck_assert_int_eq(agora_notification_next(agh_cli, 0.1, &n),
			 AGORA_ETIMEDOUT);
	/* a key on a type without keys */
	{
		agora_queue *q;
		AGH_OK(agh_cli, agora_queue_open(agh_cli, NULL, 0, &q));
		ck_assert_int_eq(
		    agora_watch(agh_cli, agora_queue_handle(q), &key, NULL, &w),
		    AGORA_EARGS);
		agora_queue_close(q);
	}
	agora_dict_close(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("watch");

	agh_tcase(s, "eight writers",
		  a_watcher_sees_every_change_of_eight_writers_in_order);
	agh_tcase(s, "key", a_key_watch_and_unwatch);
	return agh_run_suite(s);
}
