/*
 * console_agent.c - the agent's side of the console protocol: enrolment and signed requests.
 *
 * The agent makes its own Ed25519 key pair at enrolment and sends only the public half with the
 * token; afterwards it signs "METHOD\nPATH\nTIME\nSHA256(body)" for every request, which is what
 * console_server.c checks.
 */
#include <khien/console.h>
#include "core/core.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void kh_free(void *p)
{
    khi_free(p);
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    khi_buf *b = ud;
    if (b->len + size * n > (4u << 20))
        return 0;
    return khi_buf_append(b, p, size * n) == KH_OK ? size * n : 0;
}

static kh_err post(const char *base, const char *pin, const char *path, const char *body,
                   struct curl_slist *hdr, long *out_status, char **out_reply, char *err, size_t err_len)
{
    char url[2048], cerr[CURL_ERROR_SIZE] = "";
    khi_buf b;
    khi_buf_init(&b);
    khi_snprintf(url, sizeof(url), "%s%s", base, path);
    /* one handle per thread, kept: connections to the console are reused between requests */
    static __thread CURL *kept;
    CURL *c = kept ? kept : (kept = curl_easy_init());
    if (!c)
        return KH_ENOMEM;
    curl_easy_reset(c);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (!strncmp(base, "https://", 8)) {
        /* the console's certificate is its own: the pinned public key is what is trusted */
        if (!pin || strncmp(pin, "sha256//", 8) != 0) {
            khi_snprintf(err, err_len, "%s: an https:// console needs its pin (sha256//...)", base);
            curl_slist_free_all(hdr);
            return KH_EINVAL;
        }
        curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, pin);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(c);
    kh_err e = KH_OK;
    if (rc != CURLE_OK) {
        khi_snprintf(err, err_len, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
        e = KH_EIO;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, out_status);
        *out_reply = b.data ? b.data : khi_strdup("");
        b.data = NULL;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    khi_buf_cleanup(&b);
    return e;
}

kh_err kh_agent_post(const char *base, const kh_agent_identity *id, const char *path,
                     const char *json, long *out_status, char **out_reply, char *err, size_t err_len)
{
    uint8_t h[32], sig[64];
    char hex[65], sighex[129], msg[2300], line[256];
    if (sodium_init() < 0)
        return KH_ECRYPTO;
    crypto_hash_sha256(h, (const uint8_t *)json, strlen(json));
    khi_hex_encode(h, 32, hex);
    long long t = (long long)time(NULL);
    int n = snprintf(msg, sizeof(msg), "POST\n%s\n%lld\n%s", path, t, hex);
    if (n <= 0 || (size_t)n >= sizeof(msg))
        return KH_EINVAL;
    crypto_sign_detached(sig, NULL, (const uint8_t *)msg, (unsigned long long)n, id->secret);
    khi_hex_encode(sig, 64, sighex);
    struct curl_slist *hdr = NULL;
    khi_snprintf(line, sizeof(line), "X-Khien-Endpoint: %lld", (long long)id->endpoint);
    hdr = curl_slist_append(hdr, line);
    khi_snprintf(line, sizeof(line), "X-Khien-Time: %lld", t);
    hdr = curl_slist_append(hdr, line);
    khi_snprintf(line, sizeof(line), "X-Khien-Signature: %s", sighex);
    hdr = curl_slist_append(hdr, line);
    return post(base, id->pin, path, json, hdr, out_status, out_reply, err, err_len);
}

kh_err kh_agent_enrol(const char *base, const char *token, const char *pin, const char *hostname,
                      kh_agent_identity *out, char *err, size_t err_len)
{
    memset(out->pin, 0, sizeof(out->pin));
    if (pin)
        khi_snprintf(out->pin, sizeof(out->pin), "%s", pin);
    uint8_t pk[32];
    char pkhex[65];
    if (sodium_init() < 0)
        return KH_ECRYPTO;
    crypto_sign_keypair(pk, out->secret);
    khi_hex_encode(pk, 32, pkhex);
    json_t *j = json_pack("{s:s, s:s, s:s}", "token", token, "pubkey", pkhex, "hostname", hostname);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body)
        return KH_ENOMEM;
    long status = 0;
    char *reply = NULL;
    kh_err e = post(base, out->pin, "/api/v1/enrol", body, NULL, &status, &reply, err, err_len);
    free(body);
    if (e == KH_OK) {
        json_t *r = json_loads(reply, 0, NULL);
        json_int_t id = r ? json_integer_value(json_object_get(r, "endpoint")) : 0;
        if (status != 200 || id <= 0) {
            const char *why = r ? json_string_value(json_object_get(r, "error")) : NULL;
            khi_snprintf(err, err_len, "enrolment refused (HTTP %ld): %s", status, why ? why : reply);
            e = KH_EACCES;
        } else {
            out->endpoint = (int64_t)id;
        }
        json_decref(r);
    }
    khi_free(reply);
    return e;
}
