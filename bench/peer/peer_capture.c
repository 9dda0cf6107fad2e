/* An on-path observer of the subscribe leg: remembers the SRTP bytes received per (SSRC, sequence
 * number) and counts a number that comes twice with different bytes (srtp_index_reuse).
 *
 * Why: a relay that resends a packet in its original stream protects it under the same SRTP index
 * (SSRC, ROC, SEQ); under AEAD_AES_128_GCM that is the same IV, and two different ciphertexts
 * under one IV give the leg's GHASH key away (AES-CM: the XOR of the plaintexts). A correct relay
 * resends byte-identical packets (srtp_index_repeats) or uses RTX. The observer looks before the
 * simulated loss (media_drop_inbound), as a wire tap would, and before unprotect (whose replay
 * check drops the second copy). It keeps CAPTURE_SLOTS numbers per SSRC for CAPTURE_SSRCS SSRCs:
 * resends come within a second, far inside that. */
#include "bench/peer/peer_internal.h"

#include <stdlib.h>
#include <string.h>

#include "media/send_history.h"
#include "media/wire.h"

#define CAPTURE_SSRCS 16
#define CAPTURE_SLOTS 4096 /* per SSRC, by seq mod CAPTURE_SLOTS */

typedef struct {
    uint64_t hash; /* of the whole SRTP packet */
    uint16_t seq;
    uint8_t used;
} capture_slot_t;

struct peer_capture {
    uint32_t ssrcs[CAPTURE_SSRCS];
    int nssrcs;
    capture_slot_t slots[CAPTURE_SSRCS][CAPTURE_SLOTS];
};

int capture_init(peer_t *p)
{
    if (!p->o.capture_srtp)
        return 0;
    p->capture = calloc(1, sizeof *p->capture);
    return p->capture ? 0 : -1;
}

void capture_free(peer_t *p)
{
    free(p->capture);
    p->capture = NULL;
}

void capture_srtp(peer_t *p, const peer_leg_t *leg, const uint8_t *buf, size_t len)
{
    peer_capture_t *c = p->capture;
    if (!c || leg->kind != LEG_SUBSCRIBE || len < 12)
        return;
    uint32_t ssrc = wire_get_u32(buf + 8);
    uint16_t seq = wire_get_u16(buf + 2);
    int i = 0;
    while (i < c->nssrcs && c->ssrcs[i] != ssrc)
        i++;
    if (i == c->nssrcs) {
        if (c->nssrcs == CAPTURE_SSRCS)
            return;
        c->ssrcs[c->nssrcs++] = ssrc;
    }
    capture_slot_t *s = &c->slots[i][seq % CAPTURE_SLOTS];
    static const sendhist_key_t key = {0x6361707475726521ull, 0}; /* any: the sender is honest */
    uint64_t h = sendhist_hash(&key, 0, buf, len);
    if (s->used && s->seq == seq) {
        if (s->hash == h)
            p->st.srtp_index_repeats++;
        else
            p->st.srtp_index_reuse++;
        return;
    }
    s->used = 1;
    s->seq = seq;
    s->hash = h;
}
