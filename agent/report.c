#include "agent/report.h"

#include "agent/config.h"
#include "base/err.h"
#include "base/fileio.h"
#include "agent/state.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEQ_DIGITS	20 /* zero-padded, so names sort like numbers */
#define ENTRY_MAX_BYTES (STATE_MAX_BYTES + 64 * 1024)
#define META_MAX_BYTES	4096

/* The outbox of one state_dir, locked while in use. */
struct outbox {
	char dir[PATH_MAX];
	int fd; /* the directory, flock()ed */
	uint64_t *seq;
	size_t n;
	uint64_t next;	    /* event id of the next report */
	uint64_t last_sent; /* event id of the last report delivered */
};

static int outbox_path(const struct outbox *ob, char *buf, size_t size, const char *name)
{
	return snprintf(buf, size, "%s/%s", ob->dir, name) >= (int)size ? -1 : 0;
}

static int entry_path(const struct outbox *ob, char *buf, size_t size, uint64_t seq)
{
	return snprintf(buf, size, "%s/%0*" PRIu64 ".json", ob->dir, SEQ_DIGITS, seq) >= (int)size
		   ? -1
		   : 0;
}

/* A queued report's name: exactly SEQ_DIGITS digits and ".json". */
static bool parse_entry_name(const char *name, uint64_t *seq)
{
	if (strlen(name) != SEQ_DIGITS + 5 || strcmp(name + SEQ_DIGITS, ".json") != 0)
		return false;
	*seq = 0;
	for (int i = 0; i < SEQ_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		if (*seq > (UINT64_MAX - 9) / 10)
			return false;
		*seq = *seq * 10 + (uint64_t)(name[i] - '0');
	}
	return true;
}

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int outbox_list(struct outbox *ob, struct err *e)
{
	DIR *d;
	struct dirent *de;
	size_t alloc = 0;
	int fd = dup(ob->fd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_set(e, "%s: %s", ob->dir, strerror(errno));
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		uint64_t seq;
		if (!parse_entry_name(de->d_name, &seq))
			continue;
		if (ob->n == alloc) {
			size_t want = alloc ? alloc * 2 : 64;
			uint64_t *grown = realloc(ob->seq, want * sizeof(*grown));
			if (!grown) {
				closedir(d);
				return err_set(e, "out of memory");
			}
			ob->seq = grown;
			alloc = want;
		}
		ob->seq[ob->n++] = seq;
	}
	closedir(d);
	if (ob->n > 1)
		qsort(ob->seq, ob->n, sizeof(*ob->seq), cmp_seq);
	return 0;
}

/* outbox/meta.json: {"next": N, "last_sent": M}. It is the agent's own file.
 * A new outbox starts at 1; one whose meta.json is missing or damaged goes on
 * after the highest queued number, and with an empty queue from the time in
 * milliseconds: receivers drop a report whose (host, event_id) they have seen,
 * so an id must never come back. */
static void meta_read(struct outbox *ob, bool fresh)
{
	char path[PATH_MAX], *text = NULL;
	size_t len;
	json_t *meta;

	ob->next = 0;
	ob->last_sent = 0;
	if (outbox_path(ob, path, sizeof(path), "meta.json") < 0 ||
	    file_read_capped(path, META_MAX_BYTES, &text, &len, NULL) < 0)
		goto out;
	meta = json_loadb(text, len, 0, NULL);
	if (json_integer_value(json_object_get(meta, "next")) > 0)
		ob->next = (uint64_t)json_integer_value(json_object_get(meta, "next"));
	if (json_integer_value(json_object_get(meta, "last_sent")) > 0)
		ob->last_sent = (uint64_t)json_integer_value(json_object_get(meta, "last_sent"));
	json_decref(meta);
out:
	free(text);
	if (!ob->next && !fresh && !ob->n) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		ob->next = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
		ob->last_sent = ob->next - 1; /* nothing is known to be lost */
	}
	if (!ob->next)
		ob->next = 1;
	if (ob->n && ob->seq[ob->n - 1] >= ob->next)
		ob->next = ob->seq[ob->n - 1] + 1;
}

static int meta_write(const struct outbox *ob, struct err *e)
{
	char path[PATH_MAX], text[128];
	int len;

	if (outbox_path(ob, path, sizeof(path), "meta.json") < 0)
		return err_set(e, "%s: path too long", ob->dir);
	len = snprintf(text, sizeof(text), "{\"next\": %" PRIu64 ", \"last_sent\": %" PRIu64 "}\n",
		       ob->next, ob->last_sent);
	return file_write_atomic(path, text, (size_t)len, 0600, e);
}

static void outbox_close(struct outbox *ob)
{
	if (ob->fd >= 0)
		close(ob->fd); /* drops the flock */
	free(ob->seq);
	ob->seq = NULL;
	ob->fd = -1;
}

/* Opens and locks the outbox: one process at a time queues or delivers, so a
 * report is never sent twice by two agents. create: make the directory. */
static int outbox_open(struct outbox *ob, const struct config *cfg, bool create, struct err *e)
{
	memset(ob, 0, sizeof(*ob));
	ob->fd = -1;
	if (snprintf(ob->dir, sizeof(ob->dir), "%s/outbox", cfg->agent.state_dir) >=
	    (int)sizeof(ob->dir))
		return err_set(e, "%s: path too long", cfg->agent.state_dir);
	bool fresh = create && access(ob->dir, F_OK) < 0 && errno == ENOENT;
	if (create && dir_create(ob->dir, 0700, e) < 0)
		return -1;
	ob->fd = open(ob->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ob->fd < 0) {
		if (errno == ENOENT && !create)
			return 1;
		return err_set(e, "%s: %s", ob->dir, strerror(errno));
	}
	while (flock(ob->fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			err_set(e, "%s: lock: %s", ob->dir, strerror(errno));
			outbox_close(ob);
			return -1;
		}
	}
	if (outbox_list(ob, e) < 0) {
		outbox_close(ob);
		return -1;
	}
	meta_read(ob, fresh);
	return 0;
}

/* Removes the oldest reports until there is room for one more. The gap in
 * event ids is what the next delivered report counts as "dropped". */
static int outbox_make_room(struct outbox *ob, unsigned max, struct err *e)
{
	char path[PATH_MAX];
	size_t keep = max ? max : 1, victims;

	if (ob->n < keep)
		return 0;
	victims = ob->n - keep + 1;
	for (size_t i = 0; i < victims; i++) {
		if (entry_path(ob, path, sizeof(path), ob->seq[i]) < 0)
			return err_set(e, "%s: path too long", ob->dir);
		if (unlink(path) < 0 && errno != ENOENT)
			return err_set(e, "%s: %s", path, strerror(errno));
	}
	memmove(ob->seq, ob->seq + victims, (ob->n - victims) * sizeof(*ob->seq));
	ob->n -= victims;
	return 0;
}

static int outbox_append(struct outbox *ob, const struct config *cfg, const struct agent_state *st,
			 struct err *e)
{
	char path[PATH_MAX], *text;
	json_t *body;
	int rc;

	if (outbox_make_room(ob, cfg->report.outbox_max, e) < 0)
		return -1;
	/* The state as the file has it, unknown keys too (README, "Body"):
	 * the receiver sees what the host holds. */
	body = json_pack("{s:i, s:I, s:s, s:I, s:o}", "schema", REPORT_SCHEMA, "event_id",
			 (json_int_t)ob->next, "host", cfg->agent.hostname, "created_at",
			 (json_int_t)time(NULL), "state", state_to_json(st, true));
	if (!body)
		return err_set(e, "report: cannot encode the state");
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return err_set(e, "out of memory");
	if (entry_path(ob, path, sizeof(path), ob->next) < 0) {
		free(text);
		return err_set(e, "%s: path too long", ob->dir);
	}
	rc = file_write_atomic(path, text, strlen(text), 0600, e);
	free(text);
	if (rc < 0)
		return -1;
	ob->next++;
	return meta_write(ob, e);
}

void report_hmac_hex(const unsigned char *key, size_t keylen, const void *body, size_t len,
		     char hex[REPORT_HMAC_HEX_LEN])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, REPORT_HMAC_HEX_LEN, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(mac, sizeof(mac));
}

/* The key is the file's content minus one trailing "\n" or "\r\n". The
 * caller wipes and frees it; its content never appears in a message. */
static int key_read(const char *path, char **key, size_t *len, struct err *e)
{
	if (file_read_capped(path, REPORT_KEY_MAX, key, len, e) < 0)
		return err_prefix(e, "hmac_key_file");
	if (*len && (*key)[*len - 1] == '\n')
		(*key)[--*len] = '\0';
	if (*len && (*key)[*len - 1] == '\r')
		(*key)[--*len] = '\0';
	if (*len == 0) {
		free(*key);
		*key = NULL;
		return err_set(e, "hmac_key_file %s is empty", path);
	}
	return 0;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

static int post(CURL *curl, const struct config *cfg, const char *body, const char *sig,
		struct err *e)
{
	char errbuf[CURL_ERROR_SIZE] = "", header[128];
	struct curl_slist *headers = NULL, *h;
	long status = 0;
	CURLcode rc;

	/* No 100-continue round trip: the body is small and receivers vary. */
	static const char *const fixed[] = {"Content-Type: application/json", "Expect:"};

	for (size_t i = 0; i < 3; i++) {
		if (i == 2 && !sig)
			break;
		if (i == 2)
			snprintf(header, sizeof(header), "X-Cim-Signature: sha256=%s", sig);
		h = curl_slist_append(headers, i < 2 ? fixed[i] : header);
		if (!h) {
			curl_slist_free_all(headers);
			return err_set(e, "out of memory");
		}
		headers = h;
	}
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, cfg->report.url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)cfg->report.timeout);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)cfg->report.timeout);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "cim-agent/" CIM_VERSION);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	/* The URL may hold credentials: messages name the outcome, not the URL. */
	if (rc != CURLE_OK)
		return err_set(e, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	if (status < 200 || status > 299)
		return err_set(e, "the receiver answered %ld", status);
	return 0;
}

/* Reads a queued report and adds what is known only when it is sent: the time
 * and how many reports before it were discarded. NULL when it is damaged. */
static char *entry_body(const struct outbox *ob, uint64_t seq, const char *path, struct err *e)
{
	char *text, *body;
	size_t len;
	json_t *root;

	if (file_read_capped(path, ENTRY_MAX_BYTES, &text, &len, e) < 0)
		return NULL;
	root = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(root)) {
		json_decref(root);
		err_set(e, "%s: not a report", path);
		return NULL;
	}
	json_object_set_new(
	    root, "dropped",
	    json_integer(seq > ob->last_sent ? (json_int_t)(seq - ob->last_sent - 1) : 0));
	json_object_set_new(root, "sent_at", json_integer((json_int_t)time(NULL)));
	body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!body)
		err_set(e, "out of memory");
	return body;
}

static int outbox_deliver(struct outbox *ob, const struct config *cfg, struct err *e)
{
	char path[PATH_MAX], sig[REPORT_HMAC_HEX_LEN];
	char *key = NULL, *body;
	size_t keylen = 0, sent = 0;
	CURL *curl = NULL;
	int rc = -1;

	if (ob->n == 0)
		return 0;
	if (cfg->report.hmac_key_file && key_read(cfg->report.hmac_key_file, &key, &keylen, e) < 0)
		goto out;
	if (sodium_init() < 0) {
		err_set(e, "libsodium failed to initialise");
		goto out;
	}
	curl = curl_easy_init();
	if (!curl) {
		err_set(e, "cannot start libcurl");
		goto out;
	}
	for (; sent < ob->n; sent++) {
		struct err damaged = {{0}};
		if (entry_path(ob, path, sizeof(path), ob->seq[sent]) < 0) {
			err_set(e, "%s: path too long", ob->dir);
			goto out;
		}
		body = entry_body(ob, ob->seq[sent], path, &damaged);
		if (!body) {
			/* It can never be sent and would block the queue forever; its
			 * event id shows as a gap ("dropped") in the next report. */
			if (unlink(path) < 0 && errno != ENOENT) {
				err_set(e, "%s: %s", path, strerror(errno));
				goto out;
			}
			continue;
		}
		if (key)
			report_hmac_hex((const unsigned char *)key, keylen, body, strlen(body),
					sig);
		rc = post(curl, cfg, body, key ? sig : NULL, e);
		free(body);
		if (rc < 0) {
			err_prefix(e, "delivering report %" PRIu64 " (%zu queued)", ob->seq[sent],
				   ob->n - sent);
			goto out;
		}
		rc = -1;
		/* Recorded before the unlink: a crash in between sends it again
		 * (receivers deduplicate by event_id) but never loses one. */
		ob->last_sent = ob->seq[sent];
		if (meta_write(ob, e) < 0)
			goto out;
		if (unlink(path) < 0 && errno != ENOENT) {
			err_set(e, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	memmove(ob->seq, ob->seq + sent, (ob->n - sent) * sizeof(*ob->seq));
	ob->n -= sent;
	if (key) {
		sodium_memzero(key, keylen);
		free(key);
	}
	sodium_memzero(sig, sizeof(sig));
	if (curl)
		curl_easy_cleanup(curl);
	return rc;
}

int report_flush(const struct config *cfg, struct err *e)
{
	struct outbox ob;
	int rc;

	if (!cfg->report.url)
		return 0;
	rc = outbox_open(&ob, cfg, false, e);
	if (rc != 0)
		return rc < 0 ? -1 : 0; /* no outbox yet: nothing queued */
	rc = outbox_deliver(&ob, cfg, e);
	outbox_close(&ob);
	return rc;
}

int report_state(const struct config *cfg, const struct agent_state *st, struct err *e)
{
	struct outbox ob;
	int rc;

	if (!cfg->report.url)
		return 0;
	if (outbox_open(&ob, cfg, true, e) < 0)
		return -1;
	rc = outbox_append(&ob, cfg, st, e);
	if (rc == 0) {
		ob.n = 0; /* list again: the new report is the last */
		rc = outbox_list(&ob, e);
	}
	if (rc == 0)
		rc = outbox_deliver(&ob, cfg, e);
	outbox_close(&ob);
	return rc;
}

size_t report_queued(const struct config *cfg)
{
	struct outbox ob;
	size_t n;

	if (outbox_open(&ob, cfg, false, NULL) != 0)
		return 0;
	n = ob.n;
	outbox_close(&ob);
	return n;
}
