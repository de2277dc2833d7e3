#include <stdio.h>
#include <unistd.h>
#include <agora.h>

int main(void)
{
	agora_client *c = agora_client_new();
	agora_dict *results;
	agora_queue *jobs;
	agora_value job;
	uint64_t id;

	/* Sticky: after an error, calls do nothing; checked at the end. */
	agora_client_set_sticky(c, true);
	/* AGORA_ADDRESS and AGORA_AUTHKEY_FILE, from the environment. */
	agora_client_connect_env(c);
	agora_dict_open(c, "results", &results);
	agora_queue_open(c, "jobs", 0, &jobs);
	/* Take jobs until none comes for 5 s (AGORA_EEMPTY, no error). A job
	 * stays the queue's until acknowledged: if this worker dies first, it
	 * goes back and another worker does it. */
	while (agora_queue_take(jobs, 5.0, 0, &id, &job) == 0) {
		int64_t n = 0;
		char key[32];
		agora_value_to_int(job, &n);
		snprintf(key, sizeof(key), "job:%lld", (long long)n);
		agora_dict_set(results, agora_str(key), agora_int(n * n));
		agora_queue_ack(jobs, id);
		agora_value_free(&job);
	}
	agora_dict_set(results, agora_int(getpid()), agora_str("done"));
	agora_queue_close(jobs);
	agora_dict_close(results);
	int rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "worker: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}
