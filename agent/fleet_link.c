/* agent/fleet_link.h: the host key, the NATS connection, the bucket's copy. */
#include "agent/fleet_link.h"

#include "agent/config.h"
#include "base/err.h"
#include "secrets/identity.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEP_PER_KEY 8 /* revisions kept per key in the copy */

static struct {
	struct fleet_nats *nats;
	time_t last_try;
	bool watching, ready;
	struct fleet_entry *v; /* the copy, oldest first */
	size_t n, cap;
	struct fleet_entry *read; /* what fleet_link_entries() read without a watch */
	size_t nread;
} link;

int fleet_link_host_key(const struct config *cfg, unsigned char pk[32], unsigned char **sk,
			struct err *e)
{
	struct age_identities ids = {0};
	const struct age_key *k = NULL;
	const char *path = cfg->fleet.host_key;

	if (!path)
		return err_set(e, "[fleet] host_key is not set");
	if (identity_load_file(&ids, path, e) < 0) {
		identities_release(&ids);
		return err_prefix(e, "[fleet] host_key");
	}
	for (size_t i = 0; i < ids.n && !k; i++)
		if (ids.keys[i]->type == AGE_KEY_SSH_ED25519)
			k = ids.keys[i];
	if (!k) {
		identities_release(&ids);
		return err_set(e,
			       "[fleet] host_key %s holds no OpenSSH ed25519 key; name the host's "
			       "ed25519 key (e.g. /etc/ssh/ssh_host_ed25519_key)",
			       path);
	}
	memcpy(pk, k->ed_public, 32);
	if (sk) {
		*sk = sodium_malloc(64);
		if (!*sk) {
			identities_release(&ids);
			return err_set(e, "out of memory");
		}
		memcpy(*sk, k->ed_secret, 64);
	}
	identities_release(&ids);
	return 0;
}

static void forget_copy(void)
{
	fleet_entries_free(link.v, link.n);
	link.v = NULL;
	link.n = link.cap = 0;
	link.ready = false;
}

void fleet_link_close(void)
{
	fleet_nats_close(link.nats);
	link.nats = NULL;
	link.watching = false;
	forget_copy();
	fleet_entries_free(link.read, link.nread);
	link.read = NULL;
	link.nread = 0;
}

static struct fleet_nats_options options(const struct config *cfg)
{
	const struct fleet_settings *f = &cfg->fleet;
	return (struct fleet_nats_options){
	    .urls = (const char *const *)f->nats_url.v,
	    .nurls = f->nats_url.n,
	    .creds_file = f->nats_creds_file,
	    .ca_file = f->nats_ca_file,
	    .cert_file = f->nats_cert_file,
	    .key_file = f->nats_key_file,
	    .bucket = f->bucket,
	    .history = FLEET_LINK_HISTORY,
	    .timeout_ms = FLEET_LINK_TIMEOUT_MS,
	    .name = f->name,
	};
}

int fleet_link_publish(const struct config *cfg, const char *data, struct err *e)
{
	struct fleet_nats_options o = options(cfg);
	struct fleet_nats *n = NULL;
	int rc;

	o.bucket = NULL; /* CI may only be allowed to publish */
	if (fleet_nats_connect(&n, &o, e) < 0)
		return -1;
	rc = fleet_nats_publish(n, cfg->fleet.trigger_subject, data, strlen(data), e);
	fleet_nats_close(n);
	return rc;
}

struct fleet_nats *fleet_link_nats(const struct config *cfg, struct err *e)
{
	struct fleet_nats_options o = options(cfg);
	time_t now = time(NULL);

	if (link.nats)
		return link.nats;
	if (link.last_try && now - link.last_try < FLEET_LINK_RETRY && now >= link.last_try) {
		err_set(e, "NATS was unreachable %lds ago; trying again in %lds",
			(long)(now - link.last_try),
			(long)(FLEET_LINK_RETRY - (now - link.last_try)));
		return NULL;
	}
	link.last_try = now;
	if (fleet_nats_connect(&link.nats, &o, e) < 0)
		return NULL;
	link.last_try = 0;
	return link.nats;
}

int fleet_link_watch(const struct config *cfg, struct err *e)
{
	struct fleet_nats *n = fleet_link_nats(cfg, e);

	if (!n)
		return -1;
	if (link.watching)
		return 0;
	forget_copy();
	if (fleet_nats_watch(n, true, e) < 0 ||
	    fleet_nats_subscribe(n, cfg->fleet.trigger_subject, e) < 0) {
		fleet_link_close();
		return -1;
	}
	link.watching = true;
	return 0;
}

bool fleet_link_watching(void)
{
	return link.watching;
}

int fleet_link_fd(void)
{
	return link.watching ? fleet_nats_fd(link.nats) : -1;
}

/* Adds a watched entry to the copy; the oldest revision of its key goes when
 * it keeps more than KEEP_PER_KEY. */
static void keep_entry(struct fleet_entry *x)
{
	size_t same = 0, oldest = 0;

	for (size_t i = 0; i < link.n; i++) {
		if (link.v[i].revision == x->revision) {
			free(x->key);
			free(x->value);
			return; /* delivered again after a reconnect */
		}
		if (strcmp(link.v[i].key, x->key) == 0 && same++ == 0)
			oldest = i;
	}
	if (same >= KEEP_PER_KEY) {
		free(link.v[oldest].key);
		free(link.v[oldest].value);
		memmove(&link.v[oldest], &link.v[oldest + 1],
			(link.n - oldest - 1) * sizeof(*link.v));
		link.n--;
	}
	if (link.n == link.cap) {
		size_t c = link.cap ? link.cap * 2 : 64;
		struct fleet_entry *more = realloc(link.v, c * sizeof(*more));
		if (!more) {
			free(x->key);
			free(x->value);
			link.ready = false; /* read it all again */
			return;
		}
		link.v = more;
		link.cap = c;
	}
	link.v[link.n++] = *x;
}

int fleet_link_drain(const char *self)
{
	struct fleet_nats_event ev;
	int what = 0;

	if (!link.watching)
		return 0;
	while (fleet_nats_next_event(link.nats, &ev) == 1) {
		switch (ev.type) {
		case FLEET_NATS_ENTRY:
			if (link.ready && strcmp(ev.entry.key, self) != 0)
				what |= FLEET_LINK_CHANGED;
			keep_entry(&ev.entry);
			memset(&ev.entry, 0, sizeof(ev.entry));
			break;
		case FLEET_NATS_WATCH_READY:
			link.ready = true;
			what |= FLEET_LINK_CHANGED;
			break;
		case FLEET_NATS_TRIGGER:
			what |= FLEET_LINK_TRIGGERED;
			break;
		case FLEET_NATS_DISCONNECTED:
			what |= FLEET_LINK_LOST;
			break;
		case FLEET_NATS_RECONNECTED:
			what |= FLEET_LINK_RECONNECTED | FLEET_LINK_CHANGED;
			break;
		case FLEET_NATS_OVERFLOW:
			link.ready = false; /* read again by the next decision */
			what |= FLEET_LINK_CHANGED;
			break;
		}
		fleet_nats_event_release(&ev);
	}
	return what;
}

int fleet_link_entries(const struct config *cfg, const struct fleet_entry **v, size_t *n,
		       struct err *e)
{
	struct fleet_nats *nats = fleet_link_nats(cfg, e);

	*v = NULL;
	*n = 0;
	if (!nats)
		return -1;
	if (!fleet_nats_connected(nats))
		return err_set(e, "NATS is unreachable: the connection is lost, reconnecting");
	if (link.watching && link.ready) {
		*v = link.v;
		*n = link.n;
		return 0;
	}
	fleet_entries_free(link.read, link.nread);
	link.read = NULL;
	link.nread = 0;
	if (fleet_nats_read_all(nats, NULL, &link.read, &link.nread, e) < 0)
		return -1;
	if (link.watching) {
		/* The copy lost events (or is not complete yet): this read replaces
		 * it, and the watch adds what comes after. */
		forget_copy();
		link.v = link.read;
		link.n = link.cap = link.nread;
		link.read = NULL;
		link.nread = 0;
		link.ready = true;
		*v = link.v;
		*n = link.n;
		return 0;
	}
	*v = link.read;
	*n = link.nread;
	return 0;
}
