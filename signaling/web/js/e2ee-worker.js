// End-to-end encryption of media frames (RTCRtpScriptTransform): every encoded frame is encrypted
// with AES-GCM before the browser packetizes it and decrypted after it reassembles one, with a key
// the relay never sees. The frame format is documented in docs/PROTOCOL.md ("End-to-end encrypted
// rooms"):
//
//   clear (N bytes) | ciphertext + 16-byte tag | IV (12 bytes) | N (1 byte)
//
// N bytes stay in clear so the relay and the receiving depacketizer still find what they need:
// VP8 key frames keep 10 (frame tag, start code, dimensions), delta frames 3 (frame tag), Opus 1
// (TOC byte). A frame that does not decrypt is dropped and counted, never passed to the decoder.
'use strict';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const TRAILER_BYTES = IV_BYTES + 1;
const REPORT_INTERVAL_MS = 500;

let key = null; // the AES-GCM CryptoKey, from the page ({type: 'key'})
const streams = new Map(); // id -> {side, kind, mid, ok, failed, dropped}
let reportTimer = null;

function clearBytes(kind, frame, mimeType) {
  if (kind === 'audio') return 1;
  if (mimeType && mimeType.toLowerCase() !== 'video/vp8') return -1; // unknown layout: never send
  return frame.type === 'key' ? 10 : 3;
}

function stream(id, side, kind, mid) {
  let s = streams.get(id);
  if (!s) {
    s = { id, side, kind, mid, ok: 0, failed: 0, dropped: 0 };
    streams.set(id, s);
  }
  return s;
}

async function encrypt(frame, s) {
  const meta = frame.getMetadata ? frame.getMetadata() : {};
  const data = new Uint8Array(frame.data);
  let n = clearBytes(s.kind, frame, meta.mimeType);
  if (n < 0 || !key) {
    s.dropped++; // no key yet, or a codec whose frames we cannot lay out: send nothing in clear
    return false;
  }
  n = Math.min(n, data.length);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const aad = new Uint8Array(n + 1);
  aad.set(data.subarray(0, n));
  aad[n] = n;
  const sealed = new Uint8Array(await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: aad, tagLength: TAG_BYTES * 8 }, key, data.subarray(n)));
  const out = new Uint8Array(n + sealed.length + TRAILER_BYTES);
  out.set(data.subarray(0, n));
  out.set(sealed, n);
  out.set(iv, n + sealed.length);
  out[out.length - 1] = n;
  frame.data = out.buffer;
  s.ok++;
  return true;
}

async function decrypt(frame, s) {
  const data = new Uint8Array(frame.data);
  if (data.length < TRAILER_BYTES + TAG_BYTES || !key) {
    s.failed++;
    return false;
  }
  const n = data[data.length - 1];
  const end = data.length - TRAILER_BYTES;
  if (n > 10 || n + TAG_BYTES > end) {
    s.failed++;
    return false;
  }
  const aad = new Uint8Array(n + 1);
  aad.set(data.subarray(0, n));
  aad[n] = n;
  let plain;
  try {
    plain = new Uint8Array(await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: data.subarray(end, end + IV_BYTES), additionalData: aad, tagLength: TAG_BYTES * 8 },
      key, data.subarray(n, end)));
  } catch {
    s.failed++; // wrong key, or not encrypted by a member of this meeting
    return false;
  }
  const out = new Uint8Array(n + plain.length);
  out.set(data.subarray(0, n));
  out.set(plain, n);
  frame.data = out.buffer;
  s.ok++;
  return true;
}

function report() {
  postMessage({ type: 'stats', streams: [...streams.values()].map((s) => ({ ...s })) });
}

onrtctransform = (event) => {
  const t = event.transformer;
  const { side, kind, id, mid } = t.options;
  const s = stream(id, side, kind, mid || '');
  const work = side === 'send' ? encrypt : decrypt;
  t.readable.pipeThrough(new TransformStream({
    async transform(frame, controller) {
      if (frame.data.byteLength === 0 || (await work(frame, s))) controller.enqueue(frame);
    },
  })).pipeTo(t.writable).catch(() => { /* the sender or receiver went away */ });
  if (!reportTimer) reportTimer = setInterval(report, REPORT_INTERVAL_MS);
};

onmessage = (event) => {
  const m = event.data;
  if (m && m.type === 'key') {
    key = m.key;
    for (const s of streams.values()) s.failed = 0; // a new key: judge it afresh
    report();
  }
};
