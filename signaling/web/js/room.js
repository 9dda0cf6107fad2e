// Who is in the room and which received track is whose. A track of the subscribe connection is
// matched to its publisher by its mid (from track_added / joined) or, failing that, by the msid
// stream id, which the relay sets to the publisher's participant id.

export class RoomView {
  /** grid: the Grid that shows the people. */
  constructor(grid) {
    this.grid = grid;
    this.people = new Map(); // pid -> {id, name, role, self, muted: {audio, video, screen}}
    this.midOwner = new Map(); // subscribe mid -> {pid, kind, trackId}
    this.midTrack = new Map(); // subscribe mid -> {track, streamId}
    this.selfId = null;
  }

  clear() {
    this.people.clear();
    this.midOwner.clear();
    this.midTrack.clear();
    this.grid.clear();
    this.selfId = null;
  }

  /** Adds (or replaces) a participant object of the protocol. */
  add(p, self = false) {
    const person = {
      id: p.participant_id,
      name: p.name,
      role: p.role,
      self,
      muted: { audio: !!(p.muted && p.muted.audio), video: !!(p.muted && p.muted.video), screen: false },
    };
    if (self) this.selfId = person.id;
    this.people.set(person.id, person);
    this.grid.upsert(person);
    for (const t of p.tracks || []) this.addTrack(person.id, t);
    return person;
  }

  /** Removes a participant; returns who it was (or undefined). */
  remove(pid) {
    const person = this.people.get(pid);
    this.people.delete(pid);
    for (const [mid, owner] of this.midOwner) if (owner.pid === pid) this.midOwner.delete(mid);
    this.grid.remove(pid);
    return person;
  }

  get(pid) {
    return this.people.get(pid);
  }

  get self() {
    return this.people.get(this.selfId);
  }

  list() {
    return [...this.people.values()].map((p) => ({ ...p, muted: { ...p.muted } }));
  }

  /** track_added (or a track listed in joined): {track_id, kind, mid}. */
  addTrack(pid, track) {
    if (!track || track.mid === undefined || track.mid === null) return;
    const mid = String(track.mid);
    this.midOwner.set(mid, { pid, kind: track.kind, trackId: track.track_id });
    const arrived = this.midTrack.get(mid);
    if (arrived) this.show(mid, arrived.track);
  }

  removeTrack(pid, trackId) {
    for (const [mid, owner] of this.midOwner) {
      if (owner.pid !== pid || owner.trackId !== trackId) continue;
      const arrived = this.midTrack.get(mid);
      if (owner.kind === 'screen') this.grid.removeScreen(pid);
      else if (arrived) this.grid.detachTrack(arrived.track);
      this.midOwner.delete(mid);
      this.midTrack.delete(mid); // the relay never gives this mid to another track
    }
  }

  /** A track arrived on the subscribe connection (RTCPeerConnection 'track'). */
  onRemoteTrack({ track, mid, streamId }) {
    const key = String(mid);
    this.midTrack.set(key, { track, streamId });
    if (!this.midOwner.has(key) && this.people.has(streamId)) {
      this.midOwner.set(key, { pid: streamId, kind: track.kind, trackId: track.id });
    }
    this.show(key, track);
  }

  show(mid, track) {
    const owner = this.midOwner.get(mid);
    const person = owner && this.people.get(owner.pid);
    if (!person) return; // track_added (or the participant) is still on its way
    this.grid.attach(owner.pid, owner.kind === 'screen' ? 'screen' : track.kind, track, person);
  }

  /** Records a mute state; returns the person (or undefined). */
  setMuted(pid, kind, muted) {
    const person = this.people.get(pid);
    if (!person) return undefined;
    person.muted[kind] = !!muted;
    this.grid.upsert(person);
    return person;
  }

  /** The participant id a subscribe mid belongs to, or null. */
  ownerOfMid(mid) {
    const owner = this.midOwner.get(String(mid));
    if (owner) return owner.pid;
    const arrived = this.midTrack.get(String(mid));
    return arrived && this.people.has(arrived.streamId) ? arrived.streamId : null;
  }
}
