/*
 * cache.c - a cache of computed results in a shared dict, each entry
 * expiring 5 minutes after it was made (a per-key TTL, as a Redis hash
 * field's): readers never see an expired entry, and agorad reclaims them
 * in the background.
 *
 * Exits 0 when a cached entry is served from the cache, its TTL reads
 * back, can be extended and taken away, and an entry whose TTL has passed
 * is missing and made again.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

static int made; /* thumbnails computed */

static char *make_thumbnail(const char *url)
{
	char *t = malloc(strlen(url) + 16);

	sprintf(t, "thumbnail of %s", url);
	made++;
	return t;
}

/* The thumbnail of @url, from the cache or made and cached for 5 minutes. */
static char *thumbnail(agora_dict *cache, const char *url)
{
	char *thumb = NULL;

	if (agora_dict_get_str(cache, agora_str(url), &thumb) == 0)
		return thumb; /* cached, and not expired */
	thumb = make_thumbnail(url);
	agora_dict_set_ttl(cache, agora_str(url), agora_str(thumb), 300);
	return thumb;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	const char *url = "https://example.org/cat.png";
	agora_manager *m;
	agora_client *c;
	agora_dict *cache;
	char err[256], *t;
	int bad = 0;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_dict_open(c, "thumbnails", &cache);

	free(thumbnail(cache, url));
	free(thumbnail(cache, url)); /* from the cache */
	if (made != 1)
		bad = 1;

	double left;
	bool has_ttl;
	agora_dict_ttl(cache, agora_str(url), &left, &has_ttl);
	printf("%s expires in %.1f s\n", url, left);
	if (!has_ttl || left > 300 || left < 290)
		bad = 1;
	agora_dict_expire(cache, agora_str(url), 600); /* keep it longer */
	agora_dict_ttl(cache, agora_str(url), &left, &has_ttl);
	if (!has_ttl || left < 590)
		bad = 1;
	agora_dict_expire(cache, agora_str(url), -1); /* or for good */
	agora_dict_ttl(cache, agora_str(url), &left, &has_ttl);
	if (has_ttl)
		bad = 1;

	/* An entry whose TTL passes is gone, and made again. */
	agora_dict_set_ttl(cache, agora_str(url), agora_str("old"), 0.2);
	double until = wall() + 0.2;
	while (wall() <= until)
		usleep(10000);
	if (agora_dict_get_str(cache, agora_str(url), &t) != AGORA_EKEY)
		bad = 1;
	t = thumbnail(cache, url);
	printf("after its TTL: %s (made %d times)\n", t, made);
	if (made != 2 || strcmp(t, "thumbnail of https://example.org/cat.png"))
		bad = 1;
	free(t);

	agora_dict_close(cache);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "cache: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
