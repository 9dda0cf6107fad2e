// End-to-end encrypted rooms on the page side: the meeting key (from the URL fragment "#key=..." or
// typed by the user; never sent to the relay), derived per room, and the encoded transforms that
// run e2ee-worker.js on every sender and receiver. docs/PROTOCOL.md describes the frame format.

const KDF_ITERATIONS = 200000;
const KDF_SALT_PREFIX = 'legation-e2ee/v1/';
const FAILURE_HINT_AFTER = 5; // frames that failed to decrypt before the page says "wrong key?"

/** True when this browser can transform encoded frames in a worker (RTCRtpScriptTransform). */
export function e2eeSupported() {
  return typeof RTCRtpScriptTransform === 'function' && !!(globalThis.crypto && crypto.subtle);
}

/** The meeting key in a fragment like "#token=...&key=...", or "". */
export function keyFromFragment(hash) {
  const params = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  return (params.get('key') || '').trim();
}

/** AES-256-GCM key from the passphrase, salted with the room id (non-extractable). */
export async function deriveKey(passphrase, roomId) {
  const enc = new TextEncoder();
  const base = await crypto.subtle.importKey('raw', enc.encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: enc.encode(KDF_SALT_PREFIX + roomId), iterations: KDF_ITERATIONS },
    base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/**
 * One meeting's encryption: a worker holding the key, transforms on senders and receivers, and
 * what they counted. onFailure(mid, failed) is called once a received stream keeps failing.
 */
export class FrameCrypto {
  constructor(key, onFailure) {
    this.worker = new Worker(new URL('./e2ee-worker.js', import.meta.url));
    this.worker.postMessage({ type: 'key', key });
    this.worker.onmessage = (ev) => this.onStats(ev.data);
    this.onFailure = onFailure;
    this.nextId = 1;
    this.streams = new Map(); // id -> {side, kind, mid, ok, failed, dropped}
    this.warned = new Set(); // ids already reported to onFailure
    this.attached = new WeakSet(); // senders and receivers that have a transform
  }

  /** Encrypts what this sender sends. */
  attachSender(sender, kind) {
    if (!sender || this.attached.has(sender)) return;
    this.attached.add(sender);
    sender.transform = new RTCRtpScriptTransform(this.worker, { side: 'send', kind, id: `s${this.nextId++}` });
  }

  /** Decrypts what this receiver receives (mid: its m-line, to name whose stream it is). */
  attachReceiver(receiver, kind, mid) {
    if (!receiver || this.attached.has(receiver)) return;
    this.attached.add(receiver);
    receiver.transform = new RTCRtpScriptTransform(this.worker, { side: 'recv', kind, mid, id: `r${this.nextId++}` });
  }

  onStats(msg) {
    if (!msg || msg.type !== 'stats') return;
    for (const s of msg.streams) {
      this.streams.set(s.id, s);
      if (s.side === 'recv' && s.failed >= FAILURE_HINT_AFTER && s.ok === 0 && !this.warned.has(s.id)) {
        this.warned.add(s.id);
        this.onFailure(s.mid, s.failed);
      }
    }
  }

  /** {sent: {audio, video, dropped}, received: [{mid, kind, ok, failed}]} for tests and display. */
  summary() {
    const sent = { audio: 0, video: 0, dropped: 0 };
    const received = [];
    for (const s of this.streams.values()) {
      if (s.side === 'send') {
        sent[s.kind] += s.ok;
        sent.dropped += s.dropped;
      } else {
        received.push({ mid: s.mid, kind: s.kind, ok: s.ok, failed: s.failed });
      }
    }
    return { sent, received };
  }

  close() {
    this.worker.terminate();
  }
}
