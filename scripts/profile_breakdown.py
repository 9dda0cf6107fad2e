#!/usr/bin/env python3
"""Per-forwarded-packet breakdown of a callgrind dump of the relay, by category.

Usage: python3 scripts/profile_breakdown.py CALLGRIND_FILE [FUNCTION...]
The dump should cover steady forwarding only (callgrind_control -z, then -d; see
bench/results/profile-20261126.txt). Categories are inclusive costs of the named functions,
divided by the calls of forward() (one per forwarded packet); they overlap by about 1 %."""
import sys, re, collections
path = sys.argv[1]
names = {}
calls = collections.Counter(); pair = collections.Counter(); self_ = collections.Counter()
cur = None; cfn = None; pend = None
def fname(s):
    m = re.match(r'\((\d+)\)(?:\s+(.*))?', s)
    if m:
        if m.group(2): names[m.group(1)] = m.group(2)
        return names.get(m.group(1), '?')
    return s
for line in open(path):
    line = line.rstrip('\n')
    if line.startswith('fn='): cur = fname(line[3:]); continue
    if line.startswith('cfn='): cfn = fname(line[4:]); continue
    if line.startswith('calls='): pend = int(line[6:].split()[0]); continue
    if line and (line[0].isdigit() or line[0] in '+-*'):
        p = line.split(); c = int(p[1]) if len(p) > 1 else 0
        if pend is not None:
            calls[cfn] += pend; pair[(cur, cfn)] += c; pend = None
        else:
            self_[cur] += c
incl = collections.Counter(self_)
for (a, b), c in pair.items():
    if a != b: incl[a] += c
def I(f): return incl.get(f, 0)
def P(a, b): return pair.get((a, b), 0)
fwd = calls['srtp_session_protect_rtp'] - 0
fwd = calls.get('forward', 0) or fwd
total = incl.get('uv_run', 0)
protect = I('srtp_session_protect_rtp')
unprot = I('srtp_session_unprotect_rtp')
rtcp = I('srtp_session_protect_rtcp') + I('srtp_session_unprotect_rtcp') + I('router_on_rtcp')
twcc = I('rtp_ext_set_transport_seq') + P('forward', 'bwe_on_send') + P('forward', 'uv_hrtime')
ext = I('rtp_ext_rewrite_ids') + I('rtp_ext_rewrite_copy')
copy = sum(c for (a, b), c in pair.items() if a == 'forward' and 'memcpy' in b or a == 'forward' and 'memmove' in b)
txprep = (P('forward', 'transport_tx_begin') + P('forward', 'transport_tx_commit') + P('forward', 'udp_io_tx_commit')
          + P('forward', 'udp_io_tx_slot'))
fwd_self = self_.get('forward', 0) + P('forward', 'rtp_set_ssrc') + P('forward', 'rtp_set_seq') + P('forward', 'rtp_set_timestamp') + P('forward', 'rtp_set_payload_type')
forward_incl = I('forward')
rewrite = forward_incl - protect - twcc - ext - copy - txprep  # forward's own work incl. rewrite_numbers
rtx = I('rtxbuf_put')
video = I('video_in') - rtx if I('video_in') else I('vp8_parse') + I('nackgen_on_packet') + I('h264_parse')
media_in_other = I('media_in') - forward_incl - (I('video_in') if I('video_in') else I('vp8_parse') + I('nackgen_on_packet') + I('rtxbuf_put'))
recv = I('on_readable') - I('udp_io_flush') - I('transport_on_srtp') + self_.get('transport_on_srtp', 0) \
       + I('router_on_rtp') - I('media_in')
sendmmsg = I('udp_io_flush')
timers = I('on_feedback_timer') + I('on_sweep_timer') + I('on_lag_timer')
rows = [
 ('SRTP protect, downlink (per forwarded packet)', protect),
 ('SRTP unprotect, uplink (per received packet / fan-out)', unprot),
 ('header rewrite (seq/ts/SSRC/PT) + forward() bookkeeping', rewrite),
 ('extension id rewrite', ext),
 ('transport-cc stamping (find, write, bwe_on_send, clock)', twcc),
 ('copy into the send slot (memcpy)', copy),
 ('send-slot prep (tx_begin/tx_commit: msghdr, address)', txprep),
 ('sendmmsg wrapper (udp_io_flush, user side)', sendmmsg),
 ('retransmission-buffer copy (rtxbuf_put)', rtx),
 ('per-received-packet media bookkeeping (vp8/nack/stats/speaker)', max(media_in_other, 0) + (video if video > 0 else 0)),
 ('receive path (recvmmsg wrapper, demux, 5-tuple lookup, RTP parse, classify)', recv),
 ('RTCP in/out (SR/RR, feedback, NACK answers)', rtcp),
 ('timers (NACK/feedback 20 ms, sweep, lag)', timers),
]
acc = sum(v for _, v in rows)
rows.append(('other (libuv loop, control queue, ...)', total - acc))
print(f"file {path}")
print(f"forwarded packets (forward() calls): {fwd}; received RTP: {calls.get('router_on_rtp',0)}; "
      f"user-space instructions (uv_run inclusive): {total:,}")
print(f"{'category':78s} {'Ir/fwd pkt':>10s} {'share':>6s}")
for n, v in rows:
    print(f"{n:78s} {v/fwd:10.0f} {100*v/total:5.1f}%")
print(f"{'TOTAL':78s} {total/fwd:10.0f}")
if len(sys.argv) > 2:
    for f in sys.argv[2:]:
        print(f"  {f}: calls {calls.get(f,0)} incl/fwd {I(f)/fwd:.0f} self/fwd {self_.get(f,0)/fwd:.0f}")
