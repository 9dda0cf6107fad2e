// The meeting page: token -> preview -> join -> meeting, reconnecting by itself when the link
// drops, and saying in plain words what happened when something fails. Protocol: docs/PROTOCOL.md.
import { SignalingConnection, RelayError, PROTOCOL_VERSION } from './signaling.js';
import { Publisher, Subscriber } from './media.js';
import { QualityMeter, inboundByParticipant } from './stats.js';
import { tokenFromFragment, tokenFromInput, readClaims } from './token.js';
import { joinErrorText, isFatalJoinError, endText } from './messages.js';
import { Grid } from './grid.js';
import { RoomView } from './room.js';
import { DevicePreview } from './preview.js';
import { ModerationPanel } from './moderation.js';
import { FrameCrypto, deriveKey, e2eeSupported, keyFromFragment } from './e2ee.js';

const $ = (id) => document.getElementById(id);
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const JOIN_REPLY_TIMEOUT_MS = 15000;
const QUALITY_INTERVAL_MS = 2000;
const TOKEN_KEY = 'legation.token';
const E2EE_NO_MIX = 'Not available: this meeting is end-to-end encrypted, so the server cannot decode its audio to mix it.';

const state = {
  token: '',
  claims: null,
  local: null, // the devices in use: {stream, audio, video, problem}
  lowBandwidth: false,
  phase: 'start', // token | prejoin | connecting | lobby | meeting | reconnecting | ended
  conn: null,
  generation: 0, // bumps with every connection: events of older ones are ignored
  self: null, // {id, name, role}
  micMuted: false,
  camOff: false,
  screenStream: null,
  publisher: null,
  subscriber: null,
  ending: null, // 'kicked' | 'denied' | 'meeting_ended' | 'left' once that is known
  endDetail: {},
  everJoined: false, // this session has been in the meeting: a drop means "reconnect"
  reconnectAttempt: 0,
  reconnectTimer: null,
  countdown: null,
  reconnects: 0,
  qualityTimer: null,
  e2ee: false, // the meeting is end-to-end encrypted (the token says so; joined confirms it)
  meetingKey: '', // the passphrase: from "#key=" or typed; never sent to the relay
  frameCrypto: null, // FrameCrypto for the room it was derived for
};

const meter = new QualityMeter();
const preview = new DevicePreview();
const moderation = new ModerationPanel(request, notice, clearNotice);
const grid = new Grid($('grid'), {
  muteAudio: (pid) => request({ type: 'mute_participant', participant_id: pid, kind: 'audio' }),
  muteVideo: (pid) => request({ type: 'mute_participant', participant_id: pid, kind: 'video' }),
  kick: (pid, name) => moderation.kick(pid, name),
});
const room = new RoomView(grid);

/** Sends a request on the current link; true on success, else tells the user and returns false. */
async function request(msg) {
  if (!state.conn) {
    notice('Not connected to the meeting server right now; try again in a moment.', 'warn');
    return false;
  }
  try {
    await state.conn.request(msg);
    return true;
  } catch (err) {
    notice(`That did not work: ${err.message}`, 'warn');
    return false;
  }
}

// --- screens, banner, notices -----------------------------------------------------------------

const SCREENS = ['token', 'prejoin', 'wait', 'meeting', 'end'];

function showScreen(name) {
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== name;
  const heading = $(`screen-${name}`).querySelector('h1');
  if (heading) heading.focus({ preventScroll: true });
  document.body.dataset.screen = name;
}

let bannerTimer = null;

/**
 * The status line at the top. opts: {retry: fn, retryLabel, dismiss, autoHideMs, kind, tag}.
 * With opts.onlyTag, an empty text hides the banner only if it still shows that tag's message.
 */
function banner(text, opts = {}) {
  const b = $('banner');
  if (!text && opts.onlyTag && b.dataset.tag !== opts.onlyTag) return;
  clearTimeout(bannerTimer);
  b.hidden = !text;
  b.dataset.kind = opts.kind || 'info';
  b.dataset.tag = opts.tag || '';
  $('banner-text').textContent = text || '';
  const retry = $('banner-retry');
  retry.hidden = !opts.retry;
  retry.textContent = opts.retryLabel || 'Reconnect now';
  retry.onclick = opts.retry || null;
  const dismiss = $('banner-dismiss');
  dismiss.hidden = !opts.dismiss;
  dismiss.onclick = () => banner('');
  if (opts.autoHideMs) bannerTimer = setTimeout(() => banner(''), opts.autoHideMs);
}

/** A passing notice; tag names its kind so that clearNotice(tag) removes only that one. */
function notice(text, kind = 'info', tag = '') {
  banner(text, { dismiss: true, autoHideMs: 8000, kind, tag });
}

function clearNotice(tag) {
  banner('', { onlyTag: tag });
}

function showEnd({ title, text, next }, { rejoin = false, rejoinLabel = 'Join again', other = false } = {}) {
  state.phase = 'ended';
  $('end-title').textContent = title;
  $('end-text').textContent = text;
  $('end-next').textContent = next || '';
  $('end-rejoin').hidden = !rejoin;
  $('end-rejoin').textContent = rejoinLabel;
  $('end-other').hidden = !other;
  showScreen('end');
}

function capitalize(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

// --- the token --------------------------------------------------------------------------------

function setToken(token) {
  state.token = token;
  state.claims = readClaims(token);
  state.e2ee = !!(state.claims && state.claims.e2ee === true);
  if (state.frameCrypto) state.frameCrypto.close();
  state.frameCrypto = null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lives in memory only */ }
}

function showTokenScreen() {
  state.phase = 'token';
  releaseDevices();
  $('token-error').textContent = '';
  $('room-label').textContent = '';
  showScreen('token');
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = tokenFromInput($('token-input').value);
  if (!token) {
    $('token-error').textContent = 'That is not a join link or token. Paste the whole link you received.';
    $('token-input').focus();
    return;
  }
  setToken(token);
  showPrejoin();
});

// --- before joining ---------------------------------------------------------------------------

function describeClaims(c) {
  if (!c) return 'Your join link could not be read here; the meeting server will check it.';
  const role = c.role === 'moderator' ? ' as a moderator' : c.role === 'observer' ? ' as an observer' : '';
  return `You are joining ${c.room ? `“${c.room}”` : 'the meeting'} as ${c.name || c.sub || 'a guest'}${role}.`;
}

function showPrejoin() {
  state.phase = 'prejoin';
  state.ending = null;
  state.endDetail = {};
  const c = state.claims;
  $('room-label').textContent = c && c.room ? `Room: ${c.room}` : '';
  $('prejoin-who').textContent = describeClaims(c);
  const expired = c && typeof c.exp === 'number' && c.exp * 1000 < Date.now();
  $('prejoin-token-note').hidden = !expired;
  $('prejoin-token-note').textContent = expired
    ? 'This join link seems to have expired (judging by this device’s clock). The meeting server will check it when you join.'
    : '';
  showE2eePrejoin();
  $('prejoin-lowbw').checked = state.lowBandwidth;
  $('join-button').disabled = state.e2ee && !e2eeSupported();
  showScreen('prejoin');
  preview.start(!!(c && c.role === 'observer'));
}

/** In an E2EE meeting: the key field, and low bandwidth off (the relay cannot mix it). */
function showE2eePrejoin() {
  const on = state.e2ee;
  $('e2ee-row').hidden = !on;
  $('e2ee-badge').hidden = !on;
  $('e2ee-key').value = state.meetingKey;
  $('e2ee-error').textContent = on && !e2eeSupported()
    ? 'This browser cannot encrypt audio and video end to end (it lacks RTCRtpScriptTransform). Use a current Chromium, Firefox or Safari.'
    : '';
  if (on) state.lowBandwidth = false;
  $('prejoin-lowbw').disabled = on;
  $('prejoin-lowbw-note').hidden = !on;
  $('prejoin-lowbw-note').textContent = on ? `Low bandwidth: ${E2EE_NO_MIX}` : '';
}

/** The FrameCrypto for this meeting (derived once per key and room), or null when not E2EE. */
async function meetingCrypto() {
  if (!state.e2ee) return null;
  const room = state.claims && state.claims.room;
  if (state.frameCrypto && state.frameCrypto.keyFor === `${room}\n${state.meetingKey}`) return state.frameCrypto;
  if (state.frameCrypto) state.frameCrypto.close();
  const key = await deriveKey(state.meetingKey, String(room || ''));
  state.frameCrypto = new FrameCrypto(key, onDecryptFailure);
  state.frameCrypto.keyFor = `${room}\n${state.meetingKey}`;
  return state.frameCrypto;
}

/** A received stream keeps failing to decrypt: most likely someone has another meeting key. */
function onDecryptFailure(mid) {
  const pid = room.ownerOfMid(mid);
  const person = pid && room.get(pid);
  const who = person ? `${person.name}'s` : 'Some';
  banner(`${who} audio or video cannot be decrypted here: wrong key? Everyone in this meeting must enter the same meeting key.`, {
    dismiss: true, kind: 'warn', tag: 'e2ee',
  });
}

function releaseDevices() {
  preview.stop();
  state.local = null;
}

$('change-token').addEventListener('click', () => {
  setToken('');
  showTokenScreen();
});
$('prejoin-lowbw').addEventListener('change', (ev) => { state.lowBandwidth = ev.target.checked; });
$('e2ee-key').addEventListener('input', (ev) => {
  state.meetingKey = ev.target.value;
  $('e2ee-error').textContent = '';
});
$('join-button').addEventListener('click', async () => {
  if (state.e2ee && !state.meetingKey) {
    $('e2ee-error').textContent = 'Enter the meeting key first: this meeting is end-to-end encrypted.';
    $('e2ee-key').focus();
    return;
  }
  $('join-button').disabled = true;
  await preview.ready; // the devices the preview is still opening
  state.local = preview.local;
  state.everJoined = false;
  state.reconnectAttempt = 0;
  state.micMuted = false;
  state.camOff = false;
  connect();
});

// --- connecting and joining -------------------------------------------------------------------

function wsUrl() {
  return `${location.protocol === 'http:' ? 'ws' : 'wss'}://${location.host}/ws`;
}

function showWait(title, text) {
  $('wait-title').textContent = title;
  $('wait-text').textContent = text;
  if ($('screen-wait').hidden) showScreen('wait');
}

$('wait-cancel').addEventListener('click', () => {
  cancelReconnect();
  dropConnection();
  banner('');
  showPrejoin();
});

async function connect() {
  cancelReconnect();
  const gen = ++state.generation;
  try {
    await meetingCrypto(); // before joining: media may follow the joined reply at once
  } catch (err) {
    showEnd({ title: 'Encryption could not start', text: `The meeting key could not be used (${err.message}).`, next: 'Reload the page and try again.' }, { rejoin: true });
    return;
  }
  if (gen !== state.generation) return;
  const conn = new SignalingConnection(wsUrl());
  state.conn = conn;
  if (!state.everJoined) {
    state.phase = 'connecting';
    showWait('Connecting…', 'Contacting the meeting server.');
  }
  conn.addEventListener('message', (ev) => { if (gen === state.generation) onPush(ev.detail); });
  conn.addEventListener('close', (ev) => { if (gen === state.generation) onLinkClosed(ev.detail); });
  try {
    await conn.open();
  } catch (err) {
    if (gen === state.generation) scheduleReconnect(`${capitalize(err.message)}.`); // e.g. "The meeting server cannot be reached."
    return;
  }
  if (gen !== state.generation) return;
  const firstReply = setTimeout(() => conn.abort('no reply to join'), JOIN_REPLY_TIMEOUT_MS);
  let joined;
  try {
    joined = await conn.request({
      type: 'join',
      protocol: PROTOCOL_VERSION,
      token: state.token,
      options: { low_bandwidth: state.lowBandwidth && !state.e2ee, mixed_audio: false },
    }, {
      timeoutMs: 0, // a lobby wait has no time limit
      onInterim: (waiting) => {
        clearTimeout(firstReply);
        if (gen !== state.generation) return;
        state.phase = 'lobby';
        banner('');
        showWait('Waiting in the lobby', `${capitalize(waiting.message || 'waiting for a moderator to admit you')}. You will enter the meeting as soon as a moderator lets you in; keep this page open.`);
      },
    });
  } catch (err) {
    clearTimeout(firstReply);
    if (gen !== state.generation) return;
    if (err instanceof RelayError) onJoinRefused(err);
    else if (!state.ending) scheduleReconnect(`The connection to the meeting server was lost (${err.message}).`);
    return;
  }
  clearTimeout(firstReply);
  if (gen === state.generation) onJoined(joined);
}

function onJoinRefused(err) {
  dropConnection();
  const info = joinErrorText(err.code, err.message);
  if (err.code === 'rate_limited' || err.code === 'internal') {
    scheduleReconnect(info.text);
    return;
  }
  teardownMeeting();
  releaseDevices();
  showEnd(info, { rejoin: !isFatalJoinError(err.code), rejoinLabel: 'Try again', other: true });
}

function onJoined(msg) {
  const wasReconnect = state.everJoined;
  if (!!msg.room.e2ee !== !!state.frameCrypto) {
    // The relay refuses a token that disagrees with the room, so this is never expected; but
    // never send unencrypted media into an encrypted room.
    dropConnection();
    teardownMeeting();
    showEnd({
      title: 'The meeting’s encryption does not match this link',
      text: msg.room.e2ee ? 'The meeting is end-to-end encrypted, but this join link is not marked for it.'
        : 'This join link asks for end-to-end encryption, but the meeting is not encrypted.',
      next: 'Ask the meeting organiser for a new join link.',
    }, { other: true });
    return;
  }
  const frameCrypto = state.frameCrypto;
  console.info(`[legation] joined room ${msg.room.id} as ${msg.participant_id}${wasReconnect ? ' (again)' : ''}`);
  state.everJoined = true;
  state.reconnectAttempt = 0;
  state.phase = 'meeting';
  state.self = { id: msg.participant_id, name: msg.name, role: msg.role };
  resetPeers(frameCrypto);
  room.clear();
  grid.setModerator(msg.role === 'moderator');
  room.add({
    participant_id: msg.participant_id, name: msg.name, role: msg.role,
    muted: { audio: state.micMuted, video: state.camOff }, tracks: [],
  }, true);
  for (const p of msg.room.participants || []) room.add(p);
  if (state.local && state.local.video) grid.attach(state.self.id, 'video', state.local.stream.getVideoTracks()[0]);
  moderation.setRoom({ lobby: msg.room.lobby_enabled, locked: msg.room.locked }, msg.role === 'moderator');
  moderation.renderLobby([]);
  $('room-label').textContent = `Room: ${msg.room.id}`;
  if ($('screen-meeting').hidden) showScreen('meeting');
  grid.setStale(false);
  updateControls();
  startQuality();
  if (wasReconnect) {
    state.reconnects++;
    banner('Reconnected to the meeting.', { autoHideMs: 4000 });
  } else if (state.local && state.local.problem && state.local.problem.both && msg.role !== 'observer') {
    banner('You joined listen-only: your camera and microphone could not be used, so nobody can see or hear you.', { dismiss: true, kind: 'warn' });
  } else {
    banner('');
  }
  publish();
}

async function publish() {
  const local = state.local;
  if (!local || state.self.role === 'observer' || (!local.audio && !local.video)) return;
  const gen = state.generation;
  try {
    await state.publisher.start(local.stream);
    if (gen !== state.generation) return;
    const audio = local.stream.getAudioTracks()[0];
    const video = local.stream.getVideoTracks()[0];
    if (audio) audio.enabled = !state.micMuted;
    if (video) video.enabled = !state.camOff;
    // A rejoin is a new participant for the relay: tell it again what we keep muted.
    if (state.micMuted && audio) state.conn.send({ type: 'mute', kind: 'audio', muted: true });
    if (state.camOff && video) state.conn.send({ type: 'mute', kind: 'video', muted: true });
  } catch (err) {
    if (gen !== state.generation) return;
    banner(`Your camera and microphone could not be connected to the meeting (${err.message}). The others cannot see or hear you.`, {
      retry: () => { banner(''); publish(); }, retryLabel: 'Try again', kind: 'warn',
    });
  }
  updateControls();
}

function resetPeers(frameCrypto) {
  if (state.publisher) state.publisher.close();
  if (state.subscriber) state.subscriber.close();
  const signal = (msg) => (state.conn ? state.conn.request(msg)
    : Promise.reject(new Error('not connected to the meeting server')));
  state.publisher = new Publisher(signal, (s) => onMediaState('publish', s), frameCrypto);
  state.subscriber = new Subscriber(signal, (t) => room.onRemoteTrack(t), (s) => onMediaState('subscribe', s), frameCrypto);
}

function onMediaState(which, connectionState) {
  console.info(`[legation] ${which} connection: ${connectionState}`);
  if (connectionState === 'failed' && state.phase === 'meeting') {
    rejoin(`The ${which === 'publish' ? 'sending' : 'receiving'} audio/video connection failed.`);
  }
}

/** Media is stuck although signaling works: rejoining rebuilds both connections. */
function rejoin(why) {
  if (state.phase === 'meeting') scheduleReconnect(why);
}

let lastSubscribeRejoin = 0;
const SUBSCRIBE_REJOIN_MIN_INTERVAL_MS = 60000;

/** The relay refused our answer to its latest offer: no newer offer will come by itself. */
function onSubscribeFailed(err) {
  console.warn(`[legation] subscribe offer not answered: ${err.message}`);
  if (Date.now() - lastSubscribeRejoin > SUBSCRIBE_REJOIN_MIN_INTERVAL_MS) {
    lastSubscribeRejoin = Date.now();
    rejoin(`Receiving the others' audio and video failed (${err.message}).`);
    return;
  }
  banner(`Receiving the others' audio and video failed again (${err.message}).`, {
    retry: () => rejoin('You asked to reconnect.'), retryLabel: 'Reconnect', kind: 'warn',
  });
}

// --- losing the link and getting it back ------------------------------------------------------

function onLinkClosed({ code, byUs }) {
  if (byUs) return; // we closed it (leave, cancel, a failed hello that connect() reports itself)
  if (code === 4001 && !state.ending) state.ending = 'kicked';
  if (code === 4003 && !state.ending) state.ending = 'denied';
  if (state.ending) {
    finish(state.ending, state.endDetail);
    return;
  }
  if (state.phase === 'ended' || state.phase === 'prejoin' || state.phase === 'token') return;
  scheduleReconnect('The connection to the meeting server was lost.');
}

function scheduleReconnect(why) {
  console.info(`[legation] reconnecting: ${why}`);
  closePeers();
  dropConnection();
  const attempt = state.reconnectAttempt++;
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  const due = Date.now() + delay;
  if (state.everJoined) {
    state.phase = 'reconnecting';
    grid.setStale(true);
    setQuality('reconnecting');
  }
  const tick = () => {
    const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    if (state.everJoined) {
      banner(`${why} Reconnecting in ${left} s (attempt ${attempt + 1})…`, {
        retry: () => connect(), retryLabel: 'Reconnect now', kind: 'warn',
      });
    } else {
      showWait('Cannot reach the meeting server', `${why} Trying again in ${left} s (attempt ${attempt + 1}). Check your internet connection, or cancel and try later.`);
    }
  };
  tick();
  clearInterval(state.countdown);
  state.countdown = setInterval(tick, 1000);
  state.reconnectTimer = setTimeout(() => connect(), delay);
}

function cancelReconnect() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdown);
  state.reconnectTimer = null;
}

window.addEventListener('online', () => {
  if (state.reconnectTimer) connect();
});

/** Forgets the current link (closing it if open): its late events are ignored. */
function dropConnection() {
  const conn = state.conn;
  state.conn = null;
  state.generation++;
  if (conn) conn.close(1000, 'client closed');
}

function closePeers() {
  if (state.publisher) state.publisher.close();
  if (state.subscriber) state.subscriber.close();
}

function teardownMeeting() {
  cancelReconnect();
  stopQuality();
  closePeers();
  stopScreenShare(false);
  room.clear();
}

/** The session is over (kicked, denied, ended, left): no reconnecting. */
function finish(kind, detail) {
  dropConnection();
  teardownMeeting();
  releaseDevices();
  banner('');
  const info = endText(kind, detail);
  showEnd(info, { rejoin: info.rejoin, other: kind !== 'left' && kind !== 'meeting_ended' });
}

$('end-rejoin').addEventListener('click', () => showPrejoin());
$('end-other').addEventListener('click', () => {
  setToken('');
  showTokenScreen();
});

// --- pushes from the relay: one handler per type; unknown types are ignored -------------------

const PUSH_HANDLERS = {
  participant_joined: (m) => room.add(m.participant),
  participant_left: (m) => {
    const person = room.remove(m.participant_id);
    if (person && m.reason === 'kicked') notice(`${person.name} was removed from the meeting.`);
  },
  track_added: (m) => room.addTrack(m.participant_id, m.track),
  track_removed: (m) => room.removeTrack(m.participant_id, m.track_id),
  subscribe_offer: (m) => state.subscriber.handleOffer(m).catch(onSubscribeFailed),
  mute_changed: onMuteChanged,
  active_speaker: (m) => grid.setSpeaker(m.participant_id),
  lobby_update: (m) => moderation.renderLobby(m.waiting || []),
  room_locked: (m) => {
    moderation.setRoom({ ...moderation.room, locked: m.locked }, state.self.role === 'moderator');
    if (m.by !== state.self.id) notice(m.locked ? 'A moderator locked the meeting: nobody new can join.' : 'A moderator unlocked the meeting.');
  },
  room_lobby: (m) => {
    moderation.setRoom({ ...moderation.room, lobby: m.enabled }, state.self.role === 'moderator');
    if (m.by !== state.self.id) notice(m.enabled ? 'A moderator switched the lobby on: newcomers wait to be admitted.' : 'A moderator switched the lobby off.');
  },
  media_state: (m) => {
    console.info(`[legation] media ${m.transport}: ${m.state}${m.detail ? ` (${m.detail})` : ''}`);
    if (m.state !== 'closed' || state.phase !== 'meeting') return;
    if (m.transport === 'publish') publish(); // consent expired, DTLS failed...: publish again
    else rejoin(`Receiving audio and video stopped (${m.detail || 'closed by the server'}).`); // only a rejoin brings a new offer
  },
  kicked: (m) => { state.ending = 'kicked'; state.endDetail = { reason: m.reason }; },
  denied: () => { state.ending = 'denied'; },
  meeting_ended: () => { state.ending = 'meeting_ended'; },
  error: (m) => { if (m.code === 'rate_limited') notice('Too many requests too fast; slow down.', 'warn'); },
};

function onPush(msg) {
  const handler = Object.hasOwn(PUSH_HANDLERS, msg.type) ? PUSH_HANDLERS[msg.type] : null;
  if (handler && (state.self || ['kicked', 'denied', 'meeting_ended', 'error'].includes(msg.type))) handler(msg);
}

function onMuteChanged(m) {
  const person = room.setMuted(m.participant_id, m.kind, m.muted);
  if (!person || !person.self || !m.by || !m.muted) return;
  // A moderator turned something of ours off: stop sending it, and say so.
  if (m.kind === 'audio') setMic(true, false);
  if (m.kind === 'video') setCamera(true, false);
  if (m.kind === 'screen') stopScreenShare(true);
  const what = { audio: 'microphone', video: 'camera', screen: 'screen share' }[m.kind];
  notice(`A moderator turned off your ${what}. You can turn it back on yourself.`, 'warn');
}

// --- your own controls ------------------------------------------------------------------------

function setMic(muted, tell = true) {
  state.micMuted = muted;
  const t = state.local && state.local.stream.getAudioTracks()[0];
  if (t) t.enabled = !muted;
  if (tell && state.conn) state.conn.send({ type: 'mute', kind: 'audio', muted });
  if (room.self) room.setMuted(room.selfId, 'audio', muted);
  updateControls();
}

function setCamera(off, tell = true) {
  state.camOff = off;
  const t = state.local && state.local.stream.getVideoTracks()[0];
  if (t) t.enabled = !off;
  if (tell && state.conn) state.conn.send({ type: 'mute', kind: 'video', muted: off });
  if (room.self) room.setMuted(room.selfId, 'video', off);
  updateControls();
}

async function toggleScreenShare() {
  if (state.screenStream) {
    await stopScreenShare(true);
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
    notice('This browser cannot share its screen.', 'warn');
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    notice(err.name === 'NotAllowedError' ? 'Screen sharing was cancelled.' : `Screen sharing could not start (${err.message}).`, 'warn');
    return;
  }
  const track = stream.getVideoTracks()[0];
  state.screenStream = stream;
  track.addEventListener('ended', () => stopScreenShare(true));
  grid.attach(state.self.id, 'screen', track, room.self);
  updateControls();
  try {
    await state.publisher.startScreen(track, stream);
  } catch (err) {
    for (const t of stream.getTracks()) t.stop();
    state.screenStream = null;
    grid.removeScreen(state.self.id);
    updateControls();
    notice(`The meeting server could not add your screen share (${err.message}).`, 'warn');
  }
}

async function stopScreenShare(renegotiate) {
  const stream = state.screenStream;
  if (!stream) return;
  state.screenStream = null;
  for (const t of stream.getTracks()) t.stop();
  if (state.self) grid.removeScreen(state.self.id);
  updateControls();
  if (renegotiate && state.publisher && state.publisher.pc) {
    await state.publisher.stopScreen().catch((err) => notice(`Stopping the screen share failed (${err.message}).`, 'warn'));
  }
}

function updateControls() {
  const hasAudio = !!(state.local && state.local.audio);
  const hasVideo = !!(state.local && state.local.video);
  const observer = !!(state.self && state.self.role === 'observer');
  const toggle = (id, on, usable, onText, offText, missing) => {
    const b = $(id);
    b.disabled = !usable;
    b.setAttribute('aria-pressed', String(on));
    b.textContent = on ? onText : offText;
    b.title = usable ? '' : missing;
  };
  toggle('btn-mic', state.micMuted, hasAudio && !observer, 'Unmute', 'Mute', 'No microphone');
  toggle('btn-camera', state.camOff, hasVideo && !observer, 'Camera on', 'Camera off', 'No camera');
  toggle('btn-screen', !!state.screenStream, !observer && !!(state.publisher && state.publisher.pc),
    'Stop sharing', 'Share screen', 'Screen sharing needs a camera or microphone connection');
  $('lowbw-switch').checked = state.lowBandwidth;
  $('lowbw-switch').disabled = state.e2ee;
  $('lowbw-note').hidden = !state.e2ee;
  $('lowbw-note').textContent = state.e2ee ? E2EE_NO_MIX : '';
  $('e2ee-badge').hidden = !state.e2ee;
}

$('btn-mic').addEventListener('click', () => setMic(!state.micMuted));
$('btn-camera').addEventListener('click', () => setCamera(!state.camOff));
$('btn-screen').addEventListener('click', () => toggleScreenShare());
$('lowbw-switch').addEventListener('change', async (ev) => {
  const want = ev.target.checked;
  if (await request({ type: 'set_preference', low_bandwidth: want })) {
    state.lowBandwidth = want;
    notice(want ? 'Low bandwidth on: you receive the smallest video.' : 'Low bandwidth off.');
  } else {
    ev.target.checked = !want;
  }
});
$('btn-leave').addEventListener('click', async () => {
  const conn = state.conn;
  state.ending = 'left';
  if (conn) await conn.request({ type: 'leave' }, { timeoutMs: 2000 }).catch(() => {});
  if (state.phase !== 'ended') finish('left'); // the relay's close may have finished it already
});

// --- connection quality -----------------------------------------------------------------------

const QUALITY_WORDS = { good: 'Good', fair: 'Fair', poor: 'Poor', reconnecting: 'Reconnecting', none: 'No media yet' };

function setQuality(level, detail = '') {
  $('quality').hidden = !level;
  $('quality').dataset.level = level || '';
  $('quality-text').textContent = level ? `Connection: ${QUALITY_WORDS[level]}${detail ? ` (${detail})` : ''}` : '';
}

function startQuality() {
  stopQuality();
  const sample = async () => {
    if (state.phase !== 'meeting') return;
    const q = await meter.sample([state.publisher && state.publisher.pc, state.subscriber && state.subscriber.pc]);
    if (state.phase !== 'meeting') return;
    if (!q) {
      setQuality('none');
      return;
    }
    const parts = q.rttMs !== null ? [`${q.rttMs} ms round trip`] : [];
    parts.push(`${q.lossPct.toFixed(1)}% loss`);
    setQuality(q.level, parts.join(', '));
  };
  state.qualityTimer = setInterval(sample, QUALITY_INTERVAL_MS);
  sample();
}

function stopQuality() {
  clearInterval(state.qualityTimer);
  state.qualityTimer = null;
  setQuality('');
}

// --- for tests and debugging ------------------------------------------------------------------

window.legation = {
  get phase() { return state.phase; },
  get selfId() { return state.self ? state.self.id : null; },
  get role() { return state.self ? state.self.role : null; },
  get publishPc() { return state.publisher ? state.publisher.pc : null; },
  get subscribePc() { return state.subscriber ? state.subscriber.pc : null; },
  get reconnects() { return state.reconnects; },
  get subscribeSeq() { return state.subscriber ? state.subscriber.latestSeq : -1; },
  participants: () => room.list(),
  /** {participantId: {audioPackets, videoFrames, videoPackets}} received on the subscribe connection. */
  inbound: () => inboundByParticipant(state.subscriber && state.subscriber.pc, (mid) => room.ownerOfMid(mid)),
  /** End-to-end encryption: {enabled, sent: {audio, video, dropped}, received: {pid: {audio, video, failed}}}. */
  e2ee: () => {
    const out = { enabled: state.e2ee, sent: { audio: 0, video: 0, dropped: 0 }, received: {} };
    if (!state.frameCrypto) return out;
    const sum = state.frameCrypto.summary();
    out.sent = sum.sent;
    for (const r of sum.received) {
      const pid = room.ownerOfMid(r.mid) || `mid:${r.mid}`;
      const e = out.received[pid] || (out.received[pid] = { audio: 0, video: 0, failed: 0 });
      e[r.kind] += r.ok;
      e.failed += r.failed;
    }
    return out;
  },
};

// --- start ------------------------------------------------------------------------------------

function takeTokenFromFragment() {
  const token = tokenFromFragment(location.hash);
  const key = keyFromFragment(location.hash);
  if (key) state.meetingKey = key; // kept in memory only: a reload asks for it again
  if (token || key) {
    // Keep the token out of the address bar (screen shares, shoulder surfing); this tab's
    // session storage keeps it so that a reload still works.
    history.replaceState(null, '', location.pathname + location.search);
  }
  return token;
}

function start() {
  let token = takeTokenFromFragment();
  if (!token) {
    try { token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch { token = ''; }
  }
  if (!token) {
    showTokenScreen();
    return;
  }
  setToken(token);
  showPrejoin();
}

window.addEventListener('hashchange', () => {
  if (['meeting', 'reconnecting', 'lobby', 'connecting'].includes(state.phase)) return;
  const token = takeTokenFromFragment();
  if (!token) return;
  setToken(token);
  showPrejoin();
});

start();
