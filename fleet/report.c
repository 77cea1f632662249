#include "fleet/report.h"

#include "base/err.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fleet_commit_ok(const char *s)
{
	size_t n = strlen(s);

	return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

static bool wave_ok(const char *s)
{
	size_t n = strlen(s);

	return n <= FLEET_REPORT_WAVE_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-()") ==
		   n;
}

static bool reason_ok(const char *s)
{
	if (strlen(s) > FLEET_REASON_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int ensure_arrays(struct fleet_report *r, struct err *e)
{
	if (!r->lineage)
		r->lineage = calloc(FLEET_REPORT_MAX_LINEAGE, sizeof(*r->lineage));
	if (!r->failures)
		r->failures = calloc(FLEET_REPORT_MAX_FAILURES, sizeof(*r->failures));
	return r->lineage && r->failures ? 0 : err_set(e, "out of memory");
}

/* Makes room in a full lineage before an entry at since: drops the inner
 * entry (never the first, the start of the streak) whose neighbours are the
 * closest relative to its age, so that the entries thin out geometrically
 * with age and the commits about one soak old stay finely resolved. */
static void lineage_drop_one(struct fleet_report *r, int64_t since)
{
	struct fleet_lineage *l = r->lineage;
	size_t drop = 1, n = r->nlineage;
	double best = 0;

	for (size_t i = 1; i < n; i++) {
		int64_t right = i + 1 < n ? l[i + 1].since : since;
		double age = (double)(since - l[i].since) + 1;
		double score = (double)(right - l[i - 1].since) / (age > 1 ? age : 1);
		if (i == 1 || score < best) {
			best = score;
			drop = i;
		}
	}
	memmove(&l[drop], &l[drop + 1], (n - drop - 1) * sizeof(*l));
	r->nlineage--;
}

int fleet_report_lineage_add(struct fleet_report *r, const char *commit, int64_t since,
			     struct err *e)
{
	struct fleet_lineage *l;

	if (!fleet_commit_ok(commit))
		return err_set(e, "'%.80s' is not a commit id", commit);
	if (ensure_arrays(r, e) < 0)
		return -1;
	l = r->lineage;
	if (r->nlineage > 0 && strcmp(l[r->nlineage - 1].commit, commit) == 0)
		return 0;
	if (r->nlineage == FLEET_REPORT_MAX_LINEAGE)
		lineage_drop_one(r, since);
	l = &r->lineage[r->nlineage++];
	snprintf(l->commit, sizeof(l->commit), "%s", commit);
	l->since = since;
	return 0;
}

void fleet_report_lineage_reset(struct fleet_report *r)
{
	r->nlineage = 0;
}

int fleet_report_add_failure(struct fleet_report *r, const char *commit, int64_t time,
			     bool rolled_back, const char *reason, struct err *e)
{
	struct fleet_failure *f;
	size_t n = strlen(reason);
	char *copy;

	if (!fleet_commit_ok(commit))
		return err_set(e, "'%.80s' is not a commit id", commit);
	if (ensure_arrays(r, e) < 0)
		return -1;
	if (n > FLEET_REASON_MAX) {
		n = FLEET_REASON_MAX;
		while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
			n--; /* not inside a UTF-8 sequence */
	}
	if (!(copy = strndup(reason, n)))
		return err_set(e, "out of memory");
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	if (r->nfailures == FLEET_REPORT_MAX_FAILURES) {
		free(r->failures[0].reason);
		memmove(&r->failures[0], &r->failures[1],
			(FLEET_REPORT_MAX_FAILURES - 1) * sizeof(*r->failures));
		r->nfailures--;
	}
	f = &r->failures[r->nfailures++];
	snprintf(f->commit, sizeof(f->commit), "%s", commit);
	f->time = time;
	f->rolled_back = rolled_back;
	f->reason = copy;
	return 0;
}

void fleet_report_release(struct fleet_report *r)
{
	for (size_t i = 0; r->failures && i < r->nfailures; i++)
		free(r->failures[i].reason);
	free(r->failures);
	free(r->lineage);
	if (r->status)
		json_decref(r->status);
	memset(r, 0, sizeof(*r));
}

int fleet_report_copy(struct fleet_report *dst, const struct fleet_report *src, struct err *e)
{
	*dst = *src;
	dst->lineage = NULL;
	dst->failures = NULL;
	dst->nfailures = 0;
	dst->status = src->status ? json_deep_copy(src->status) : NULL;
	if ((src->status && !dst->status) || ensure_arrays(dst, e) < 0) {
		fleet_report_release(dst);
		return err_set(e, "out of memory");
	}
	if (src->nlineage)
		memcpy(dst->lineage, src->lineage, src->nlineage * sizeof(*src->lineage));
	for (size_t i = 0; i < src->nfailures; i++) {
		dst->failures[i] = src->failures[i];
		if (!(dst->failures[i].reason = strdup(src->failures[i].reason))) {
			fleet_report_release(dst);
			return err_set(e, "out of memory");
		}
		dst->nfailures++;
	}
	return 0;
}

/* What a reader checks, for the writer too: a report nobody would accept is
 * refused before it is signed. */
static int check_report(const struct fleet_report *r, struct err *e)
{
	if (!fleet_host_name_ok(r->host))
		return err_set(e, "report: '%s' is not a valid host name", r->host);
	if (r->seq < 1 || r->seq > FLEET_SEQ_MAX)
		return err_set(e, "report: seq %llu is out of range", (unsigned long long)r->seq);
	if (r->time < 0 || r->time > FLEET_TIME_MAX)
		return err_set(e, "report: time is out of range");
	if (!wave_ok(r->wave))
		return err_set(e, "report: '%s' is not a wave name", r->wave);
	if ((r->deployed[0] && !fleet_commit_ok(r->deployed)) ||
	    (r->target[0] && !fleet_commit_ok(r->target)))
		return err_set(e, "report: deployed and target are commit ids or empty");
	if (r->nlineage > FLEET_REPORT_MAX_LINEAGE || r->nfailures > FLEET_REPORT_MAX_FAILURES)
		return err_set(e, "report: too many lineage or failure entries");
	if (r->healthy && (r->nlineage == 0 || !r->deployed[0] ||
			   strcmp(r->lineage[r->nlineage - 1].commit, r->deployed) != 0))
		return err_set(e, "report: a healthy host's lineage ends with its deployed commit");
	for (size_t i = 0; i < r->nlineage; i++)
		if (!fleet_commit_ok(r->lineage[i].commit) || r->lineage[i].since < 0 ||
		    r->lineage[i].since > FLEET_TIME_MAX)
			return err_set(e, "report: lineage entry %zu is malformed", i + 1);
	for (size_t i = 0; i < r->nfailures; i++)
		if (!fleet_commit_ok(r->failures[i].commit) || r->failures[i].time < 0 ||
		    r->failures[i].time > FLEET_TIME_MAX || !r->failures[i].reason ||
		    !reason_ok(r->failures[i].reason))
			return err_set(e, "report: failure entry %zu is malformed", i + 1);
	if (r->status && !json_is_object(r->status))
		return err_set(e, "report: status is not a JSON object");
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *payload_json(const struct fleet_report *r)
{
	json_t *o = json_object(), *lineage = json_array(), *failures = json_array();
	int bad = !o || !lineage || !failures;

	for (size_t i = 0; !bad && i < r->nlineage; i++)
		bad |= json_array_append_new(lineage,
					     json_pack("{s:s, s:I}", "commit", r->lineage[i].commit,
						       "since", (json_int_t)r->lineage[i].since));
	for (size_t i = 0; !bad && i < r->nfailures; i++) {
		const struct fleet_failure *f = &r->failures[i];
		bad |= json_array_append_new(failures,
					     json_pack("{s:s, s:I, s:b, s:s}", "commit", f->commit,
						       "time", (json_int_t)f->time, "rolled_back",
						       f->rolled_back, "reason", f->reason));
	}
	if (!bad)
		bad |= json_object_set_new(o, "v", json_integer(FLEET_REPORT_VERSION)) |
		       json_object_set_new(o, "host", json_string(r->host)) |
		       json_object_set_new(o, "seq", json_integer((json_int_t)r->seq)) |
		       json_object_set_new(o, "time", json_integer((json_int_t)r->time)) |
		       json_object_set_new(o, "wave", str_or_null(r->wave)) |
		       json_object_set_new(o, "deployed", str_or_null(r->deployed)) |
		       json_object_set_new(o, "target", str_or_null(r->target)) |
		       json_object_set_new(o, "healthy", json_boolean(r->healthy)) |
		       json_object_set_new(o, "healthy_since",
					   r->healthy ? json_integer(r->lineage[0].since)
						      : json_null()) |
		       json_object_set(o, "lineage", lineage) |
		       json_object_set(o, "failures", failures) |
		       json_object_set(o, "status", r->status ? r->status : json_null());
	json_decref(lineage);
	json_decref(failures);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* FLEET_SIGN_CONTEXT "\0" payload, in a heap buffer. */
static unsigned char *signed_bytes(const void *payload, size_t len, size_t *out_len)
{
	size_t ctx = sizeof(FLEET_SIGN_CONTEXT); /* with its NUL */
	unsigned char *m = malloc(ctx + len);

	if (!m)
		return NULL;
	memcpy(m, FLEET_SIGN_CONTEXT, ctx);
	memcpy(m + ctx, payload, len);
	*out_len = ctx + len;
	return m;
}

static char *base64(const void *bin, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);

	if (s)
		sodium_bin2base64(s, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static json_t *envelope_json(const char *payload, size_t plen, const unsigned char sk[64])
{
	unsigned char sig[crypto_sign_BYTES], *m;
	char key[128], *p64 = NULL, *s64 = NULL;
	size_t mlen = 0;
	json_t *env = NULL;

	if (!(m = signed_bytes(payload, plen, &mlen)))
		return NULL;
	crypto_sign_detached(sig, NULL, m, mlen, sk);
	free(m);
	p64 = base64(payload, plen);
	s64 = base64(sig, sizeof(sig));
	if (p64 && s64 && fleet_key_format(sk + 32, key, sizeof(key)) == 0)
		env = json_pack("{s:s, s:s, s:s}", "key", key, "payload", p64, "sig", s64);
	free(p64);
	free(s64);
	return env;
}

int fleet_report_sign(const struct fleet_report *r, const unsigned char sk[64], char **out,
		      size_t *len, struct err *e)
{
	json_t *o, *env;
	char *payload, *text;
	size_t plen;

	*out = NULL;
	if (check_report(r, e) < 0)
		return -1;
	if (!(o = payload_json(r)))
		return err_set(e, "report: out of memory");
	payload = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!payload)
		return err_set(e, "report: out of memory");
	plen = strlen(payload);
	if (plen > FLEET_PAYLOAD_MAX_BYTES) {
		free(payload);
		return err_set(e, "report: %zu bytes, more than %d (make the status smaller)", plen,
			       FLEET_PAYLOAD_MAX_BYTES);
	}
	env = envelope_json(payload, plen, sk);
	free(payload);
	text = env ? json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(env);
	if (!text)
		return err_set(e, "report: out of memory");
	*out = text;
	*len = strlen(text);
	return 0;
}

static int get_int(json_t *o, const char *key, json_int_t min, json_int_t max, bool nullable,
		   json_int_t *out)
{
	json_t *v = json_object_get(o, key);

	if (nullable && json_is_null(v)) {
		*out = -1;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* A string of at most size - 1 bytes, or "" for null when nullable. */
static int get_str(json_t *o, const char *key, char *buf, size_t size, bool nullable)
{
	json_t *v = json_object_get(o, key);

	if (nullable && json_is_null(v)) {
		buf[0] = '\0';
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int decode_lineage(json_t *arr, struct fleet_report *r)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) > FLEET_REPORT_MAX_LINEAGE)
		return -1;
	json_array_foreach(arr, i, v)
	{
		struct fleet_lineage *l = &r->lineage[r->nlineage];
		json_int_t since;
		if (!json_is_object(v) ||
		    get_str(v, "commit", l->commit, sizeof(l->commit), false) ||
		    get_int(v, "since", 0, FLEET_TIME_MAX, false, &since))
			return -1;
		l->since = since;
		r->nlineage++;
	}
	return 0;
}

static int decode_failures(json_t *arr, struct fleet_report *r)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) > FLEET_REPORT_MAX_FAILURES)
		return -1;
	json_array_foreach(arr, i, v)
	{
		struct fleet_failure *f = &r->failures[r->nfailures];
		char reason[FLEET_REASON_MAX + 1];
		json_int_t t;
		json_t *rb = json_object_get(v, "rolled_back");
		if (!json_is_object(v) ||
		    get_str(v, "commit", f->commit, sizeof(f->commit), false) ||
		    get_int(v, "time", 0, FLEET_TIME_MAX, false, &t) || !json_is_boolean(rb) ||
		    get_str(v, "reason", reason, sizeof(reason), false) ||
		    !(f->reason = strdup(reason)))
			return -1;
		f->time = t;
		f->rolled_back = json_is_true(rb);
		r->nfailures++;
	}
	return 0;
}

static int decode_payload(json_t *o, struct fleet_report *r, struct err *e)
{
	json_int_t v, seq, t, since;
	json_t *healthy = json_object_get(o, "healthy"), *status = json_object_get(o, "status");

	if (ensure_arrays(r, e) < 0)
		return -1;
	if (!json_is_object(o) || get_int(o, "v", 0, INT32_MAX, false, &v))
		return err_set(e, "the payload is not a report object");
	if (v != FLEET_REPORT_VERSION)
		return err_set(e, "report version %lld is not %d", (long long)v,
			       FLEET_REPORT_VERSION);
	if (get_str(o, "host", r->host, sizeof(r->host), false) ||
	    get_int(o, "seq", 1, (json_int_t)FLEET_SEQ_MAX, false, &seq) ||
	    get_int(o, "time", 0, FLEET_TIME_MAX, false, &t) ||
	    get_str(o, "wave", r->wave, sizeof(r->wave), true) ||
	    get_str(o, "deployed", r->deployed, sizeof(r->deployed), true) ||
	    get_str(o, "target", r->target, sizeof(r->target), true) || !json_is_boolean(healthy) ||
	    get_int(o, "healthy_since", 0, FLEET_TIME_MAX, true, &since) ||
	    decode_lineage(json_object_get(o, "lineage"), r) ||
	    decode_failures(json_object_get(o, "failures"), r) ||
	    !(json_is_object(status) || json_is_null(status)))
		return err_set(e, "a field of the report is missing or malformed");
	r->seq = (uint64_t)seq;
	r->time = t;
	r->healthy = json_is_true(healthy);
	if (json_is_object(status))
		r->status = json_incref(status);
	if (check_report(r, e) < 0)
		return -1;
	if (r->healthy ? since != r->lineage[0].since : since != -1)
		return err_set(e, "healthy_since is not the start of the lineage");
	return 0;
}

/* Strict base64 of at most max bytes; the caller frees *out. */
static int unbase64(json_t *v, size_t max, unsigned char **out, size_t *len)
{
	const char *s = json_string_value(v), *end = NULL;
	size_t slen;

	*out = NULL;
	if (!s)
		return -1;
	slen = json_string_length(v);
	if (slen > sodium_base64_ENCODED_LEN(max, sodium_base64_VARIANT_ORIGINAL) ||
	    !(*out = malloc(max + 1)))
		return -1;
	if (sodium_base642bin(*out, max + 1, s, slen, NULL, len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + slen || *len > max) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* Checks the envelope and its signature; on success *payload (heap) holds the
 * signed payload bytes. */
static int verify_envelope(const void *buf, size_t len, const unsigned char pk[32],
			   unsigned char **payload, size_t *plen, struct err *e)
{
	json_t *env = NULL;
	unsigned char *sig = NULL, *m = NULL;
	size_t siglen = 0, mlen = 0;
	int rc = -1;

	*payload = NULL;
	if (len > FLEET_REPORT_MAX_BYTES) {
		err_set(e, "larger than %d bytes", FLEET_REPORT_MAX_BYTES);
		goto out;
	}
	env = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(env) ||
	    unbase64(json_object_get(env, "payload"), FLEET_PAYLOAD_MAX_BYTES, payload, plen) ||
	    unbase64(json_object_get(env, "sig"), crypto_sign_BYTES, &sig, &siglen) ||
	    siglen != crypto_sign_BYTES) {
		err_set(e, "not a signed report envelope");
		goto out;
	}
	if (!(m = signed_bytes(*payload, *plen, &mlen))) {
		err_set(e, "out of memory");
		goto out;
	}
	if (crypto_sign_verify_detached(sig, m, mlen, pk) != 0) {
		err_set(e, "the signature does not verify with the host's key");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		free(*payload);
		*payload = NULL;
	}
	free(sig);
	free(m);
	json_decref(env);
	return rc;
}

enum fleet_open_result fleet_report_open_key(const char *key_name, const void *buf, size_t len,
					     const unsigned char pk[32], struct fleet_report *out,
					     struct err *e)
{
	unsigned char *payload;
	size_t plen = 0;
	json_t *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (verify_envelope(buf, len, pk, &payload, &plen, e) < 0) {
		err_prefix(e, "report of %s: forged", key_name);
		return FLEET_OPEN_FORGED;
	}
	o = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, NULL);
	free(payload);
	rc = o ? decode_payload(o, out, e) : err_set(e, "the payload is not JSON");
	json_decref(o);
	if (rc == 0 && strcmp(out->host, key_name) != 0)
		rc = err_set(e, "it names host '%s'", out->host);
	if (rc < 0) {
		fleet_report_release(out);
		err_prefix(e, "report of %s: invalid", key_name);
		return FLEET_OPEN_INVALID;
	}
	return FLEET_OPEN_OK;
}

enum fleet_open_result fleet_report_open(const struct fleet_hosts *hosts, const char *key_name,
					 const void *buf, size_t len, struct fleet_report *out,
					 struct err *e)
{
	const struct fleet_host *h = fleet_hosts_find(hosts, key_name);

	memset(out, 0, sizeof(*out));
	if (!h) {
		err_set(e, "report of %.100s: not a member of the fleet (not in %s)", key_name,
			hosts->source);
		return FLEET_OPEN_NOT_MEMBER;
	}
	return fleet_report_open_key(key_name, buf, len, h->key, out, e);
}
