/* libFuzzer target for the SDP codec: parse; if that succeeds, write, re-parse and compare. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/sdp.h"

#define OUT_CAP (1024 * 1024)

/* Static: sdp_session_t is about 2 MB. libFuzzer runs one input at a time. */
static sdp_session_t first, second;
static char out[OUT_CAP];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdp_error_t err;
    if (sdp_parse(data, size, &first, &err) != 0) {
        if (err.msg[0] == '\0') /* every failure explains itself */
            abort();
        return 0;
    }
    size_t len = 0;
    if (sdp_write(&first, out, sizeof out, &len) != 0) /* a parsed struct is always writable */
        abort();
    if (len > SDP_MAX_INPUT) /* rtcp-fb:* can grow the text past the input limit */
        return 0;
    if (sdp_parse((const uint8_t *)out, len, &second, &err) != 0)
        abort();
    /* Candidates over capacity were counted but not written: the only field allowed to differ. */
    for (int i = 0; i < first.media_count; i++)
        first.media[i].candidates_ignored = 0;
    if (memcmp(&first, &second, sizeof first) != 0)
        abort();
    return 0;
}
