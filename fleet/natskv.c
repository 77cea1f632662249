#include "fleet/natskv.h"

#include "base/err.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fleet_nats {
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
	int64_t timeout_ms;
	char servers[512]; /* for messages, without credentials */

	kvWatcher *watcher;
	pthread_t watch_thread;
	bool watching;
	natsSubscription *sub;

	struct fleet_evq q;

	pthread_mutex_t mu; /* guards the flags, set from nats.c's threads */
	pthread_cond_t cond;
	bool stopping, closed, sub_done;
};

/* "nats: <status text>: <last error>" into e. */
static int nats_fail(struct err *e, natsStatus s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int nats_fail(struct err *e, natsStatus s, const char *fmt, ...)
{
	char what[300];
	const char *last = nats_GetLastError(NULL), *inner;
	va_list ap;

	/* "Error: (util.c:1995): what" -> "what" */
	if (last && strncmp(last, "Error: (", 8) == 0 && (inner = strstr(last, "): ")))
		last = inner + 3;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(e, "%s: %s%s%.300s", what, natsStatus_GetText(s), last && *last ? ": " : "",
		       last ? last : "");
}

int fleet_nats_next_event(struct fleet_nats *n, struct fleet_nats_event *ev)
{
	return fleet_evq_next(&n->q, ev);
}

int fleet_nats_fd(const struct fleet_nats *n)
{
	return n->q.pipe[0];
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	fleet_evq_push_type(&((struct fleet_nats *)closure)->q, FLEET_NATS_DISCONNECTED);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	fleet_evq_push_type(&((struct fleet_nats *)closure)->q, FLEET_NATS_RECONNECTED);
}

/* The last callback nats.c makes for a connection: n may go after it. */
static void on_closed(natsConnection *nc, void *closure)
{
	struct fleet_nats *n = closure;

	pthread_mutex_lock(&n->mu);
	n->closed = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->mu);
}

/* The servers, without any user:password@, for messages. */
static void describe_servers(struct fleet_nats *n, const struct fleet_nats_options *o)
{
	size_t len = 0;

	n->servers[0] = '\0';
	for (size_t i = 0; i < o->nurls && len < sizeof(n->servers); i++) {
		const char *u = o->urls[i], *at = strchr(u, '@'), *scheme = strstr(u, "://");
		const char *host = at ? at + 1 : (scheme ? scheme + 3 : u);
		int k = snprintf(n->servers + len, sizeof(n->servers) - len, "%s%.*s%s",
				 i ? ", " : "", scheme ? (int)(scheme + 3 - u) : 0, u, host);
		if (k > 0)
			len += (size_t)k;
	}
}

static natsStatus set_tls(natsOptions *opts, const struct fleet_nats_options *o)
{
	natsStatus s = NATS_OK;

	if (!o->ca_file && !o->cert_file && !o->key_file)
		return NATS_OK;
	s = natsOptions_SetSecure(opts, true);
	if (s == NATS_OK && o->ca_file)
		s = natsOptions_LoadCATrustedCertificates(opts, o->ca_file);
	if (s == NATS_OK && (o->cert_file || o->key_file))
		s = natsOptions_LoadCertificatesChain(opts, o->cert_file, o->key_file);
	return s;
}

static int make_options(natsOptions **out, struct fleet_nats *n, const struct fleet_nats_options *o,
			struct err *e)
{
	natsOptions *opts = NULL;
	natsStatus s = natsOptions_Create(&opts);
	const char *urls[FLEET_NATS_MAX_URLS];

	for (size_t i = 0; i < o->nurls; i++)
		urls[i] = o->urls[i];
	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, urls, (int)o->nurls);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, o->timeout_ms);
	if (s == NATS_OK && o->name)
		s = natsOptions_SetName(opts, o->name);
	/* Reconnect for ever: the agent outlives outages. */
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, o->timeout_ms < 2000 ? o->timeout_ms : 2000);
	/* While reconnecting, a put or a publish fails at once (see fleet_nats_put)
	 * instead of waiting in a buffer to be sent, maybe, much later; one that
	 * races with the disconnect may still go out after the reconnect. */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(opts, 1);
	if (s == NATS_OK)
		s = natsOptions_SetFailRequestsOnDisconnect(opts, true);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(opts, on_disconnected, n);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(opts, on_reconnected, n);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(opts, on_closed, n);
	if (s == NATS_OK && o->creds_file)
		s = natsOptions_SetUserCredentialsFromFiles(opts, o->creds_file, NULL);
	if (s == NATS_OK)
		s = set_tls(opts, o);
	if (s != NATS_OK) {
		natsOptions_Destroy(opts);
		return nats_fail(e, s, "nats: options (creds %s, TLS ca %s cert %s key %s)",
				 o->creds_file ? o->creds_file : "-", o->ca_file ? o->ca_file : "-",
				 o->cert_file ? o->cert_file : "-",
				 o->key_file ? o->key_file : "-");
	}
	*out = opts;
	return 0;
}

static bool bucket_ok(const char *b)
{
	return b && *b && strlen(b) <= 64 &&
	       strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
		   strlen(b);
}

static int check_options(const struct fleet_nats_options *o, struct err *e)
{
	if (o->nurls < 1 || o->nurls > FLEET_NATS_MAX_URLS)
		return err_set(e, "nats: give 1 to %d server URLs", FLEET_NATS_MAX_URLS);
	if (o->bucket && !bucket_ok(o->bucket))
		return err_set(e, "nats: '%s' is not a bucket name (letters, digits, '_', '-')",
			       o->bucket ? o->bucket : "");
	if (o->history < 1 || o->history > FLEET_NATS_MAX_HISTORY)
		return err_set(e, "nats: history is 1 to %d revisions", FLEET_NATS_MAX_HISTORY);
	if (o->timeout_ms <= 0)
		return err_set(e, "nats: the timeout must be positive");
	if (!o->cert_file != !o->key_file)
		return err_set(e, "nats: a TLS client certificate needs its key, and a key its "
				  "certificate");
	return 0;
}

/* Binds to the bucket, creating it when it does not exist. */
static int open_bucket(struct fleet_nats *n, const struct fleet_nats_options *o, struct err *e)
{
	kvConfig cfg;
	natsStatus s = js_KeyValue(&n->kv, n->js, o->bucket);

	if (s == NATS_OK)
		return 0;
	if (s != NATS_NOT_FOUND)
		return nats_fail(e, s, "nats: bucket %s on %s", o->bucket, n->servers);
	kvConfig_Init(&cfg);
	cfg.Bucket = o->bucket;
	cfg.Description = "cim-agent fleet reports, one key per host";
	cfg.History = (uint8_t)o->history;
	cfg.MaxValueSize = FLEET_NATS_VALUE_MAX;
	cfg.StorageType = js_FileStorage;
	s = js_CreateKeyValue(&n->kv, n->js, &cfg);
	if (s != NATS_OK)
		return nats_fail(e, s, "nats: creating bucket %s on %s", o->bucket, n->servers);
	return 0;
}

/* Waits (at most the timeout) until flag is set by a nats.c thread. */
static bool wait_flag(struct fleet_nats *n, const bool *flag)
{
	struct timespec until;
	bool set;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(n->timeout_ms / 1000) + 1;
	pthread_mutex_lock(&n->mu);
	while (!*flag && pthread_cond_timedwait(&n->cond, &n->mu, &until) == 0)
		;
	set = *flag;
	pthread_mutex_unlock(&n->mu);
	return set;
}

static void stop_watch(struct fleet_nats *n)
{
	if (!n->watching)
		return;
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->mu);
	kvWatcher_Stop(n->watcher);
	pthread_join(n->watch_thread, NULL);
	kvWatcher_Destroy(n->watcher);
	n->watcher = NULL;
	n->watching = false;
}

void fleet_nats_close(struct fleet_nats *n)
{
	bool closed = true;

	if (!n)
		return;
	stop_watch(n);
	if (n->sub) {
		natsSubscription_Unsubscribe(n->sub);
		if (!wait_flag(n, &n->sub_done))
			return; /* its handler may still run: leak n rather than free it under it */
		natsSubscription_Destroy(n->sub);
	}
	kvStore_Destroy(n->kv);
	jsCtx_Destroy(n->js);
	if (n->nc) {
		natsConnection_Close(n->nc);
		closed = wait_flag(n, &n->closed);
		natsConnection_Destroy(n->nc);
	}
	if (!closed)
		return; /* the same: a late callback must find n */
	fleet_evq_release(&n->q);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

void fleet_nats_shutdown(void)
{
	nats_Close();
}

static struct fleet_nats *alloc_handle(struct err *e)
{
	struct fleet_nats *n = calloc(1, sizeof(*n));

	if (!n) {
		err_set(e, "out of memory");
		return NULL;
	}
	if (fleet_evq_init(&n->q, e) < 0) {
		free(n);
		return NULL;
	}
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cond, NULL);
	return n;
}

int fleet_nats_connect(struct fleet_nats **out, const struct fleet_nats_options *o, struct err *e)
{
	struct fleet_nats *n;
	natsOptions *opts = NULL;
	jsOptions jo;
	natsStatus s;

	*out = NULL;
	if (check_options(o, e) < 0 || !(n = alloc_handle(e)))
		return -1;
	n->timeout_ms = o->timeout_ms;
	describe_servers(n, o);
	if (make_options(&opts, n, o, e) < 0) {
		n->closed = true;
		fleet_nats_close(n);
		return -1;
	}
	s = natsConnection_Connect(&n->nc, opts);
	natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		nats_fail(e, s, "nats: cannot connect to %s", n->servers);
		n->nc = NULL;
		n->closed = true; /* no connection, no callback to wait for */
		fleet_nats_close(n);
		return -1;
	}
	jsOptions_Init(&jo);
	jo.Wait = o->timeout_ms;
	s = natsConnection_JetStream(&n->js, n->nc, &jo);
	if (s != NATS_OK) {
		nats_fail(e, s, "nats: JetStream on %s", n->servers);
		fleet_nats_close(n);
		return -1;
	}
	if (o->bucket && open_bucket(n, o, e) < 0) {
		fleet_nats_close(n);
		return -1;
	}
	*out = n;
	return 0;
}

bool fleet_nats_connected(struct fleet_nats *n)
{
	return natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

int fleet_nats_put(struct fleet_nats *n, const char *key, const void *value, size_t len,
		   uint64_t *revision, struct err *e)
{
	uint64_t rev = 0;
	natsStatus s;

	if (len > FLEET_NATS_VALUE_MAX)
		return err_set(e, "nats: a value of %zu bytes is over %d", len,
			       FLEET_NATS_VALUE_MAX);
	if (!n->kv)
		return err_set(e, "nats: put %s: no bucket was opened", key);
	if (!fleet_nats_connected(n))
		return err_set(e, "nats: put %s: not connected to %s (reconnecting)", key,
			       n->servers);
	s = kvStore_Put(&rev, n->kv, key, value, (int)len);
	if (s != NATS_OK)
		return nats_fail(e, s, "nats: put %s", key);
	if (revision)
		*revision = rev;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A copy of a watched entry; NULL when out of memory. */
static int copy_entry(struct fleet_entry *out, kvEntry *k)
{
	kvOperation op = kvEntry_Operation(k);
	int len = kvEntry_ValueLen(k);

	memset(out, 0, sizeof(*out));
	out->key = strdup(kvEntry_Key(k));
	out->revision = kvEntry_Revision(k);
	out->deleted = op == kvOp_Delete || op == kvOp_Purge;
	/* Past the limit a report is refused anyway: one byte more says so. */
	if (len > FLEET_NATS_VALUE_MAX)
		len = FLEET_NATS_VALUE_MAX + 1;
	if (!out->deleted && len > 0) {
		out->value = malloc((size_t)len);
		if (out->value)
			memcpy(out->value, kvEntry_Value(k), (size_t)len);
		out->len = (size_t)len;
	}
	if (!out->key || (!out->deleted && len > 0 && !out->value)) {
		free(out->key);
		free(out->value);
		return -1;
	}
	return 0;
}

static int append_entry(struct fleet_entry **v, size_t *n, size_t *cap, kvEntry *k)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct fleet_entry *more = realloc(*v, c * sizeof(*more));
		if (!more)
			return -1;
		*v = more;
		*cap = c;
	}
	if (copy_entry(&(*v)[*n], k) < 0)
		return -1;
	(*n)++;
	return 0;
}

/* Not kvStore_History(): in nats.c 3.4.1 its deadline shrinks faster than
 * time passes, so a big bucket times out. One deadline for the whole read. */
int fleet_nats_read_all(struct fleet_nats *n, const char *key, struct fleet_entry **entries,
			size_t *count, struct err *e)
{
	kvWatchOptions wo;
	kvWatcher *w = NULL;
	size_t got = 0, cap = 0;
	struct fleet_entry *v = NULL;
	int64_t deadline = now_ms() + n->timeout_ms;
	natsStatus s;

	*entries = NULL;
	*count = 0;
	if (!n->kv)
		return err_set(e, "nats: no bucket was opened");
	kvWatchOptions_Init(&wo);
	wo.IncludeHistory = true;
	s = kvStore_Watch(&w, n->kv, key ? key : ">", &wo);
	while (s == NATS_OK) {
		kvEntry *k = NULL;
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			s = NATS_TIMEOUT;
			break;
		}
		s = kvWatcher_Next(&k, w, left);
		if (s != NATS_OK || !k)
			break; /* NULL: all that was there has come */
		if (append_entry(&v, &got, &cap, k) < 0)
			s = NATS_NO_MEMORY;
		kvEntry_Destroy(k);
	}
	if (w)
		kvWatcher_Destroy(w);
	if (s != NATS_OK) {
		fleet_entries_free(v, got);
		return nats_fail(e, s, "nats: reading %s", key ? key : "the bucket");
	}
	*entries = v;
	*count = got;
	return 0;
}

static void *watch_main(void *arg)
{
	struct fleet_nats *n = arg;

	for (;;) {
		kvEntry *k = NULL;
		natsStatus s = kvWatcher_Next(&k, n->watcher, 1000);
		struct fleet_nats_event ev = {0};
		bool stopping;

		pthread_mutex_lock(&n->mu);
		stopping = n->stopping;
		pthread_mutex_unlock(&n->mu);
		if (stopping) {
			kvEntry_Destroy(k);
			return NULL;
		}
		if (s == NATS_TIMEOUT)
			continue;
		if (s != NATS_OK) {
			/* reconnecting: wait a little, unless told to stop */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 200 * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_mutex_lock(&n->mu);
			if (!n->stopping)
				pthread_cond_timedwait(&n->cond, &n->mu, &until);
			pthread_mutex_unlock(&n->mu);
			continue;
		}
		ev.type = k ? FLEET_NATS_ENTRY : FLEET_NATS_WATCH_READY;
		if (k && copy_entry(&ev.entry, k) < 0)
			ev.type = FLEET_NATS_OVERFLOW; /* lost one: say so */
		kvEntry_Destroy(k);
		fleet_evq_push(&n->q, &ev);
	}
}

int fleet_nats_watch(struct fleet_nats *n, bool with_history, struct err *e)
{
	kvWatchOptions wo;
	natsStatus s;

	if (n->watching)
		return err_set(e, "nats: already watching");
	if (!n->kv)
		return err_set(e, "nats: no bucket was opened");
	kvWatchOptions_Init(&wo);
	wo.IncludeHistory = with_history;
	s = kvStore_WatchAll(&n->watcher, n->kv, &wo);
	if (s != NATS_OK)
		return nats_fail(e, s, "nats: watching the bucket");
	n->stopping = false;
	if (pthread_create(&n->watch_thread, NULL, watch_main, n) != 0) {
		kvWatcher_Destroy(n->watcher);
		n->watcher = NULL;
		return err_set(e, "nats: cannot start the watch thread");
	}
	n->watching = true;
	return 0;
}

static void on_trigger(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct fleet_nats *n = closure;
	struct fleet_nats_event ev = {.type = FLEET_NATS_TRIGGER};
	int len = natsMsg_GetDataLength(msg);
	size_t keep = len < 0 ? 0 : (size_t)len;

	if (keep > FLEET_NATS_TRIGGER_MAX)
		keep = FLEET_NATS_TRIGGER_MAX;
	if ((ev.data = malloc(keep + 1))) {
		memcpy(ev.data, natsMsg_GetData(msg), keep);
		ev.data[keep] = '\0';
		ev.len = keep;
	} else {
		ev.type = FLEET_NATS_OVERFLOW;
	}
	fleet_evq_push(&n->q, &ev);
	natsMsg_Destroy(msg);
}

/* After the last call of on_trigger: the subscription may go. */
static void on_sub_done(void *closure)
{
	struct fleet_nats *n = closure;

	pthread_mutex_lock(&n->mu);
	n->sub_done = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->mu);
}

int fleet_nats_subscribe(struct fleet_nats *n, const char *subject, struct err *e)
{
	natsStatus s;

	if (n->sub)
		return err_set(e, "nats: already subscribed");
	s = natsConnection_Subscribe(&n->sub, n->nc, subject, on_trigger, n);
	if (s == NATS_OK)
		s = natsSubscription_SetOnCompleteCB(n->sub, on_sub_done, n);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(n->nc, n->timeout_ms);
	if (s != NATS_OK) {
		if (n->sub) {
			natsSubscription_Unsubscribe(n->sub);
			wait_flag(n, &n->sub_done);
			natsSubscription_Destroy(n->sub);
			n->sub = NULL;
			n->sub_done = false;
		}
		return nats_fail(e, s, "nats: subscribing to %s", subject);
	}
	return 0;
}

int fleet_nats_publish(struct fleet_nats *n, const char *subject, const void *data, size_t len,
		       struct err *e)
{
	natsStatus s;

	if (len > FLEET_NATS_VALUE_MAX)
		return err_set(e, "nats: a message of %zu bytes is over %d", len,
			       FLEET_NATS_VALUE_MAX);
	if (!fleet_nats_connected(n))
		return err_set(e, "nats: publishing to %s: not connected to %s (reconnecting)",
			       subject, n->servers);
	s = natsConnection_Publish(n->nc, subject, data, (int)len);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(n->nc, n->timeout_ms);
	if (s != NATS_OK)
		return nats_fail(e, s, "nats: publishing to %s", subject);
	return 0;
}
