/* libFuzzer target for the STUN codec: parse, verify, answer valid requests, re-parse the answer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "sfu/stun.h"

/* The RFC 5769 short-term password, so the seed vectors exercise the success paths. */
static const uint8_t KEY[] = "VOkJxbRl1RmTxUk/WvJxBt";
#define KEYLEN (sizeof KEY - 1)

/* Every message this codec builds must parse back and verify: anything else is a bug. */
static void check_built(const uint8_t *buf, size_t len, int signed_with_key)
{
    stun_msg_t r;
    if (stun_parse(&r, buf, len) != 0 || stun_check_fingerprint(&r) != 0)
        abort();
    if (signed_with_key && stun_check_integrity(&r, KEY, KEYLEN) != 0)
        abort();
}

static void answer(const stun_msg_t *m)
{
    uint8_t out[1024];
    size_t len = 0;
    if (m->unknown_count > 0) {
        if (stun_build_error_response(out, sizeof out, m, 420, KEY, KEYLEN, &len) != 0)
            abort();
        check_built(out, len, 1);
        return;
    }
    struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};
    memcpy(from.sin6_addr.s6_addr, m->txid, STUN_TXID_SIZE); /* some input-derived address */
    if (stun_build_binding_success(out, sizeof out, m->txid, (const struct sockaddr *)&from, KEY,
                                   KEYLEN, &len) != 0)
        abort();
    check_built(out, len, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stun_msg_t m;
    (void)stun_is_stun(data, size);
    if (stun_parse(&m, data, size) != 0)
        return 0;
    int fp = stun_check_fingerprint(&m);
    int mi = stun_check_integrity(&m, KEY, KEYLEN);
    uint8_t out[1024];
    size_t len = 0;
    if (m.cls == STUN_CLASS_REQUEST && m.method == STUN_METHOD_BINDING) {
        if (fp != 0 && fp != LG_ENOTFOUND) /* FINGERPRINT is optional */
            return 0;
        if (mi != 0) {
            int code = (m.present & STUN_HAS_USERNAME) && mi != LG_ENOTFOUND ? 401 : 400;
            if (stun_build_error_response(out, sizeof out, &m, code, NULL, 0, &len) != 0)
                abort();
            check_built(out, len, 0);
            return 0;
        }
        answer(&m);
    }
    return 0;
}
