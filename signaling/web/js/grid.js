// The participant grid: one tile per person (video or initials, name, role, mute state, speaking
// highlight, moderator actions) and one extra tile per screen share.

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (v === true) node.setAttribute(k, '');
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

const ROLE_LABEL = { moderator: 'Moderator', observer: 'Observer' };

export class Grid {
  /**
   * handlers: {muteAudio(pid), muteVideo(pid), kick(pid, name)} for moderator actions.
   */
  constructor(container, handlers) {
    this.container = container;
    this.handlers = handlers;
    this.tiles = new Map(); // key (pid or pid + ':screen') -> {root, video, audio, ...}
    this.moderator = false;
    this.speaker = null;
  }

  clear() {
    for (const key of [...this.tiles.keys()]) this.removeTile(key);
    this.speaker = null;
  }

  setModerator(on) {
    this.moderator = on;
    for (const tile of this.tiles.values()) if (tile.actions) tile.actions.hidden = !on;
  }

  /** Adds or updates a participant: {id, name, role, muted: {audio, video}, self}. */
  upsert(p) {
    let tile = this.tiles.get(p.id);
    if (!tile) tile = this.createTile(p.id, p, false);
    tile.person = p;
    const you = p.self ? ' (you)' : '';
    tile.name.textContent = `${p.name || 'Guest'}${you}`;
    tile.root.setAttribute('aria-label', `${p.name || 'Guest'}${you}`);
    tile.avatar.textContent = initials(p.name);
    tile.role.textContent = ROLE_LABEL[p.role] || '';
    tile.role.hidden = !ROLE_LABEL[p.role];
    tile.micState.hidden = !p.muted.audio;
    tile.camState.hidden = !p.muted.video;
    if (tile.muteAudioBtn) tile.muteAudioBtn.disabled = !!p.muted.audio;
    if (tile.muteVideoBtn) tile.muteVideoBtn.disabled = !!p.muted.video;
    this.refreshVideo(tile);
  }

  createTile(key, p, isScreen) {
    const video = el('video', { autoplay: true, playsinline: true, muted: true });
    video.muted = true; // audio plays from the separate <audio> element
    const avatar = el('div', { class: 'avatar', 'aria-hidden': 'true' });
    const name = el('span', { class: 'name' });
    const role = el('span', { class: 'badge', hidden: true });
    const micState = el('span', { class: 'state', text: 'Microphone off', hidden: true });
    const camState = el('span', { class: 'state', text: 'Camera off', hidden: true });
    const speaking = el('span', { class: 'state speaking', text: 'Speaking', hidden: true });
    const bar = el('div', { class: 'tile-bar' }, name, el('span', { class: 'badges' }, role, micState, camState, speaking));
    const root = el('article', {
      class: isScreen ? 'tile screen-tile' : 'tile', role: 'listitem', 'data-pid': p.id, 'data-self': p.self ? 'true' : null,
    },
      video, avatar, bar);
    const tile = { root, video, avatar, name, role, micState, camState, speaking, person: p, tracks: {} };
    if (!isScreen && !p.self) {
      tile.audio = el('audio', { autoplay: true });
      root.append(tile.audio);
      tile.muteAudioBtn = el('button', { type: 'button', class: 'small', text: 'Mute' });
      tile.muteVideoBtn = el('button', { type: 'button', class: 'small', text: 'Stop video' });
      const kickBtn = el('button', { type: 'button', class: 'small danger', text: 'Remove' });
      tile.muteAudioBtn.addEventListener('click', () => this.handlers.muteAudio(p.id));
      tile.muteVideoBtn.addEventListener('click', () => this.handlers.muteVideo(p.id));
      kickBtn.addEventListener('click', () => this.handlers.kick(p.id, tile.person.name));
      tile.actions = el('div', { class: 'tile-actions', role: 'group' }, tile.muteAudioBtn, tile.muteVideoBtn, kickBtn);
      tile.actions.hidden = !this.moderator;
      root.append(tile.actions);
    }
    if (isScreen) {
      tile.name.textContent = `${p.self ? 'Your' : `${p.name || 'Guest'}’s`} screen`;
      root.setAttribute('aria-label', tile.name.textContent);
      avatar.textContent = '';
    }
    this.container.append(root);
    this.tiles.set(key, tile);
    this.updateGridSize();
    return tile;
  }

  /** Video when a live, unmuted track is there; the initials otherwise. */
  refreshVideo(tile) {
    const track = tile.tracks.video;
    const live = track && track.readyState === 'live';
    const showVideo = live && !(tile.person.muted && tile.person.muted.video && !tile.root.classList.contains('screen-tile'));
    tile.video.hidden = !showVideo;
    tile.avatar.hidden = !!showVideo;
  }

  /** Shows a media track in pid's tile; kind: 'audio', 'video' or 'screen'. */
  attach(pid, kind, track, personIfNew) {
    let tile;
    if (kind === 'screen') {
      const key = `${pid}:screen`;
      tile = this.tiles.get(key) || this.createTile(key, personIfNew || { id: pid, muted: {} }, true);
      this.setTrack(tile, 'video', track);
      return;
    }
    tile = this.tiles.get(pid);
    if (!tile) return;
    this.setTrack(tile, kind, track);
  }

  setTrack(tile, kind, track) {
    tile.tracks[kind] = track;
    const media = kind === 'audio' ? tile.audio : tile.video;
    if (!media) return;
    media.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      media.play().catch(() => { /* autoplay policy: plays after the next user gesture */ });
      const refresh = () => this.refreshVideo(tile);
      track.addEventListener('ended', refresh);
      track.addEventListener('unmute', refresh);
    }
    this.refreshVideo(tile);
  }

  /** Removes a track (by identity) from wherever it is shown. */
  detachTrack(track) {
    for (const [key, tile] of this.tiles) {
      for (const kind of Object.keys(tile.tracks)) {
        if (tile.tracks[kind] === track) {
          if (tile.root.classList.contains('screen-tile')) this.removeTile(key);
          else this.setTrack(tile, kind, null);
        }
      }
    }
  }

  removeScreen(pid) {
    this.removeTile(`${pid}:screen`);
  }

  remove(pid) {
    this.removeTile(pid);
    this.removeTile(`${pid}:screen`);
  }

  removeTile(key) {
    const tile = this.tiles.get(key);
    if (!tile) return;
    tile.video.srcObject = null;
    if (tile.audio) tile.audio.srcObject = null;
    tile.root.remove();
    this.tiles.delete(key);
    this.updateGridSize();
  }

  setSpeaker(pid) {
    this.speaker = pid;
    for (const [key, tile] of this.tiles) {
      const on = key === pid;
      tile.root.classList.toggle('speaking', on);
      tile.speaking.hidden = !on;
    }
  }

  setStale(stale) {
    this.container.classList.toggle('stale', stale);
  }

  updateGridSize() {
    this.container.dataset.count = String(Math.min(this.tiles.size, 9));
  }
}
