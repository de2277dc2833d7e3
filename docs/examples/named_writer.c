/*
 * named_writer.c - one of two unrelated programs that share named objects
 * in one agorad (the other is named_reader.c). Neither forks the other and
 * they need not run at the same time: the objects live in the server under
 * their names, and any program holding the key can open them.
 *
 * This one stocks the shop and takes three orders:
 *
 *     AGORA_ADDRESS=unix:/run/agora/agora.sock \
 *     AGORA_AUTHKEY_FILE=/etc/agora/authkey ./named_writer
 */
#include <stdio.h>
#include <stdlib.h>

#include <agora.h>

int main(void)
{
	static const char *orders[] = { "apple", "pear", "apple" };
	agora_client *c = agora_client_new();
	agora_dict *stock;
	agora_queue *queue;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_dict_open(c, "shop.stock", &stock);
	agora_queue_open(c, "shop.orders", 0, &queue);

	agora_dict_set(stock, agora_str("apple"), agora_int(5));
	agora_dict_set(stock, agora_str("pear"), agora_int(3));
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++)
		agora_queue_put(queue, agora_str(orders[i]), AGORA_FOREVER);
	agora_queue_put(queue, agora_nil(), AGORA_FOREVER);
	agora_queue_close(queue);
	agora_dict_close(stock);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "writer: %s\n", agora_errmsg(c));
	else
		printf("writer: stocked the shop and took 3 orders\n");
	agora_client_free(c);
	return rc < 0;
}
