/*
 * traffic_light.c - the traffic light: an Event is green when set. Cars
 * wait for green; a police car waits at most a moment and goes anyway;
 * the light switches between red and green until every car has crossed.
 * Python's
 *
 *     def car(e, n):
 *         while True:
 *             if not e.is_set(): e.wait()
 *             if e.is_set(): print(f"car{n} goes"); break
 *     def police_car(e, n):
 *         green = e.wait(0.1); print(f"police car goes, green={green}")
 *     def light(e):
 *         while True: time.sleep(0.1); e.clear() if e.is_set() else e.set()
 *
 * Exits 0 when every car and the police car crossed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

#define NCARS 5

static int car(int n)
{
	agora_client *c = agora_client_new();
	agora_event *green;
	agora_list *crossed;
	bool is_green;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_event_open(c, "green", &green);
	agora_list_open(c, "crossed", &crossed);
	while (agora_event_is_set(green, &is_green) == 0 && !is_green) {
		printf("car%d waits at the red light\n", n);
		agora_event_wait(green, AGORA_FOREVER, NULL);
		/* The light may have turned red again meanwhile: look again. */
	}
	printf("car%d sees green and goes\n", n);
	agora_list_append(crossed, agora_int(n));
	agora_list_close(crossed);
	agora_event_close(green);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "car%d: %s\n", n, agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

static int police_car(int n)
{
	agora_client *c = agora_client_new();
	agora_event *green;
	agora_list *crossed;
	bool is_green = false;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_event_open(c, "green", &green);
	agora_list_open(c, "crossed", &crossed);
	/* Wait 0.1 s at most: is_green is false when the light stayed red. */
	agora_event_wait(green, 0.1, &is_green);
	printf("police car goes (light %s)\n", is_green ? "green" : "red");
	agora_list_append(crossed, agora_int(n));
	agora_list_close(crossed);
	agora_event_close(green);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "police car: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

/* Switch every 0.1 s until all NCARS + 1 vehicles crossed. */
static int light(int unused)
{
	agora_client *c = agora_client_new();
	agora_event *green;
	agora_list *crossed;
	bool is_green = false;
	size_t len;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_event_open(c, "green", &green);
	agora_list_open(c, "crossed", &crossed);
	while (agora_list_len(crossed, &len) == 0 && len != NCARS + 1) {
		usleep(100000);
		agora_event_is_set(green, &is_green);
		if (is_green) {
			printf("light: red\n");
			agora_event_clear(green);
		} else {
			printf("light: green\n");
			agora_event_set(green);
		}
	}
	agora_list_close(crossed);
	agora_event_close(green);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "light: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

static pid_t spawn(int (*fn)(int), int i)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0)
		exit(fn(i));
	return pid;
}

int main(void)
{
	pid_t pids[NCARS + 2];
	agora_manager *m;
	agora_client *c;
	agora_list *crossed;
	char err[256];
	size_t len = 0;
	int bad = 0, status;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_list_open(c, "crossed", &crossed);

	/* A new event is clear: the light starts red. */
	for (int n = 0; n < NCARS; n++)
		pids[n] = spawn(car, n);
	pids[NCARS] = spawn(police_car, NCARS);
	pids[NCARS + 1] = spawn(light, 0);
	for (int i = 0; i < NCARS + 2; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;

	agora_list_len(crossed, &len);
	printf("%zu vehicles crossed\n", len);
	if (len != NCARS + 1)
		bad = 1;
	agora_list_close(crossed);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "traffic_light: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
