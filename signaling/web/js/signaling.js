// One WebSocket to the relay (docs/PROTOCOL.md): requests with ids and their replies, pushes as
// events, a keep-alive ping that notices a dead link, and a close event that says why.

export const PROTOCOL_VERSION = 1;
const HELLO_TIMEOUT_MS = 10000;
const REQUEST_TIMEOUT_MS = 15000;
const PING_INTERVAL_MS = 10000;
const PONG_TIMEOUT_MS = 8000;

/** An error reply from the relay ({"type":"error","code":...,"message":...}). */
export class RelayError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'RelayError';
    this.code = code;
  }
}

/** The link failed: could not connect, timed out, or closed while a request was pending. */
export class LinkError extends Error {
  constructor(message) {
    super(message);
    this.name = 'LinkError';
  }
}

const REPLY_TYPES = new Set(['joined', 'lobby_waiting', 'publish_answer', 'pong', 'ok', 'error']);

/**
 * Events: 'message' (detail: a push or a reply nobody waits for), 'close' (detail: {code, reason,
 * byUs}). The connection is single-use: after 'close', make a new one.
 */
export class SignalingConnection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.hello = null;
    this.nextId = 1;
    this.pending = new Map();
    this.closed = false;
    this.closingByUs = false;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  /** Opens the WebSocket and resolves with the relay's hello. */
  open() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (msg) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new LinkError(msg));
        this.close(1000, 'hello failed');
      };
      const timer = setTimeout(() => fail('the meeting server did not answer in time'),
        HELLO_TIMEOUT_MS);
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (e) {
        fail(`cannot open ${this.url}: ${e.message}`);
        return;
      }
      this.ws = ws;
      ws.addEventListener('message', (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return; // the relay only sends JSON; ignore anything else
        }
        if (!msg || typeof msg.type !== 'string') return;
        if (msg.type === 'hello' && !settled) {
          settled = true;
          clearTimeout(timer);
          this.hello = msg;
          this.startKeepAlive();
          resolve(msg);
          return;
        }
        this.onMessage(msg);
      });
      ws.addEventListener('close', (ev) => {
        fail(ev.code === 1006 ? 'the meeting server cannot be reached'
          : `the connection closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''})`);
        this.onClose(ev.code, ev.reason);
      });
      ws.addEventListener('error', () => { /* a close event follows with the details */ });
    });
  }

  onMessage(msg) {
    if (this.pongTimer && msg.type === 'pong') {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
    if (REPLY_TYPES.has(msg.type) && msg.id !== undefined && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      // join is answered twice when it waits in the lobby: lobby_waiting, then joined.
      if (!(p.keepOpen && msg.type === 'lobby_waiting')) {
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
      }
      if (msg.type === 'error') p.reject(new RelayError(msg.code, msg.message));
      else p.resolve(msg);
      if (!p.alsoDispatch) return;
    }
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
  }

  onClose(code, reason) {
    if (this.closed) return;
    this.closed = true;
    this.stopKeepAlive();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new LinkError('the connection to the meeting server closed'));
    }
    this.pending.clear();
    this.dispatchEvent(new CustomEvent('close', {
      detail: { code, reason: reason || '', byUs: this.closingByUs },
    }));
  }

  /** Sends a message without waiting for a reply. Returns false if the link is not open. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Sends a request and resolves with its reply (rejects with RelayError for an error reply,
   * LinkError when the link drops or nothing comes back in time).
   * opts.timeoutMs: 0 means wait as long as the link lives (a lobby wait has no time limit).
   * opts.onInterim: called with a lobby_waiting reply (join only).
   */
  request(msg, opts = {}) {
    const id = `c${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const entry = {
        resolve: (reply) => {
          if (reply.type === 'lobby_waiting' && opts.onInterim) opts.onInterim(reply);
          else resolve(reply);
        },
        reject,
        keepOpen: !!opts.onInterim,
        alsoDispatch: false,
        timer: null,
      };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new LinkError(`no reply to ${msg.type} within ${timeoutMs / 1000} s`));
        }, timeoutMs);
      }
      this.pending.set(id, entry);
      if (!this.send({ ...msg, id })) {
        this.pending.delete(id);
        clearTimeout(entry.timer);
        reject(new LinkError('not connected to the meeting server'));
      }
    });
  }

  startKeepAlive() {
    this.pingTimer = setInterval(() => {
      if (this.pongTimer) return;
      this.pongTimer = setTimeout(() => {
        // No pong: the link is dead even if TCP has not noticed. Drop it so we reconnect.
        this.pongTimer = null;
        this.abort('no answer to ping');
      }, PONG_TIMEOUT_MS);
      this.send({ type: 'ping', id: `ping${this.nextId++}` });
    }, PING_INTERVAL_MS);
  }

  stopKeepAlive() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = null;
  }

  /** Closes the link on purpose (leave, cancel): the close event has byUs = true. */
  close(code = 1000, reason = '') {
    this.closingByUs = true;
    this.abort(reason, code);
  }

  /** Closes the link because it is broken: the close event reports it as a drop. */
  abort(reason, code = 4000) {
    const ws = this.ws;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try { ws.close(code, reason.slice(0, 100)); } catch { /* already closing */ }
    }
    // Do not wait for the closing handshake of a dead link.
    this.onClose(code === 1000 ? 1000 : 1006, reason);
  }
}
