#include <stdio.h>
#include <unistd.h>
#include <agora.h>

int main(void)
{
	agora_client *c = agora_client_new();
	agora_dict *results;
	agora_queue *jobs;
	int64_t n;

	/* Sticky: after an error, calls do nothing; checked at the end. */
	agora_client_set_sticky(c, true);
	/* AGORA_ADDRESS and AGORA_AUTHKEY_FILE, from the environment. */
	agora_client_connect_env(c);
	agora_dict_open(c, "results", &results);
	agora_queue_open(c, "jobs", 0, &jobs);
	/* Take jobs until none comes for 5 s (AGORA_EEMPTY, no error). */
	while (agora_queue_get_int(jobs, 5.0, &n) == 0) {
		char key[32];
		snprintf(key, sizeof(key), "job:%lld", (long long)n);
		agora_dict_set(results, agora_str(key), agora_int(n * n));
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
