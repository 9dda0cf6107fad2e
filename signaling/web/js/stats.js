// Connection quality from getStats(): round-trip time (selected ICE candidate pair, or the relay's
// receiver reports) and packet loss over the last interval (what we receive and what the relay
// reports losing of what we send).

export class QualityMeter {
  constructor() {
    this.prev = new Map(); // stats id -> {lost, received}
  }

  /** Samples the given connections; resolves with {level, rttMs, lossPct} or null (no data). */
  async sample(pcs) {
    let rtt = null;
    let lost = 0;
    let total = 0;
    const seen = new Set();
    for (const [index, pc] of pcs.entries()) {
      if (!pc || pc.connectionState === 'closed') continue;
      let report;
      try {
        report = await pc.getStats();
      } catch {
        continue;
      }
      report.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' &&
            typeof s.currentRoundTripTime === 'number') {
          rtt = Math.max(rtt ?? 0, s.currentRoundTripTime);
        }
        if (s.type === 'remote-inbound-rtp' && typeof s.roundTripTime === 'number' && rtt === null) {
          rtt = s.roundTripTime;
        }
        let l = null;
        let r = null;
        if (s.type === 'inbound-rtp') {
          l = s.packetsLost ?? 0;
          r = s.packetsReceived ?? 0;
        } else if (s.type === 'remote-inbound-rtp') {
          l = s.packetsLost ?? 0;
          const local = report.get(s.localId);
          r = local && typeof local.packetsSent === 'number' ? Math.max(0, local.packetsSent - l) : null;
        }
        if (l === null || r === null) return;
        const key = `${index}/${s.id}`;
        seen.add(key);
        const before = this.prev.get(key) || { lost: 0, received: 0 };
        const dl = Math.max(0, l - before.lost);
        const dr = Math.max(0, r - before.received);
        this.prev.set(key, { lost: l, received: r });
        lost += dl;
        total += dl + dr;
      });
    }
    for (const key of [...this.prev.keys()]) if (!seen.has(key)) this.prev.delete(key);
    if (rtt === null && total === 0) return null;
    const rttMs = rtt === null ? null : Math.round(rtt * 1000);
    const lossPct = total > 0 ? (100 * lost) / total : 0;
    let level = 'good';
    if ((rttMs ?? 0) > 400 || lossPct > 8) level = 'poor';
    else if ((rttMs ?? 0) > 150 || lossPct > 2) level = 'fair';
    return { level, rttMs, lossPct };
  }
}

/**
 * What the subscribe connection receives, per publisher: {participantId: {audioPackets,
 * videoFrames, videoPackets}}. ownerOfMid(mid) names the participant a transceiver belongs to.
 */
export async function inboundByParticipant(pc, ownerOfMid) {
  const out = {};
  if (!pc) return out;
  for (const t of pc.getTransceivers()) {
    if (!t.mid || !t.receiver || t.currentDirection === 'inactive' || t.currentDirection === 'stopped') continue;
    const owner = ownerOfMid(t.mid);
    if (!owner) continue;
    const entry = out[owner] || (out[owner] = { audioPackets: 0, videoFrames: 0, videoPackets: 0 });
    const report = await t.receiver.getStats();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'audio') entry.audioPackets += s.packetsReceived || 0;
      if (s.kind === 'video') {
        entry.videoFrames += s.framesDecoded || 0;
        entry.videoPackets += s.packetsReceived || 0;
      }
    });
  }
  return out;
}
