// Camera and microphone, and the two peer connections of docs/PROTOCOL.md: "publish" (the browser
// offers its tracks, VP8 simulcast h/m/l) and "subscribe" (the relay offers everyone else's).

const ICE_GATHER_TIMEOUT_MS = 3000;
const SIMULCAST = [
  { rid: 'h' },
  { rid: 'm', scaleResolutionDownBy: 2 },
  { rid: 'l', scaleResolutionDownBy: 4 },
];
// The relay is ICE-lite with its candidates in its SDP: no STUN/TURN servers are needed.
const PC_CONFIG = { iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };

/** Why a device could not be used, in plain words. */
export function describeMediaError(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'the browser was not allowed to use them';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'none were found';
    case 'NotReadableError':
    case 'AbortError':
      return 'they are in use by another program or not working';
    default:
      return err && err.message ? err.message : 'an unknown problem';
  }
}

/**
 * Asks for a microphone and camera. Falls back to the microphone alone, then to nothing
 * (listen-only). Resolves with {stream, audio, video, problem} and never rejects.
 */
export async function getLocalMedia({ audioDeviceId, videoDeviceId } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return {
      stream: new MediaStream(), audio: false, video: false,
      problem: { both: true, text: 'this page is not in a secure context, so the browser offers no camera or microphone' },
    };
  }
  const audio = audioDeviceId ? { deviceId: { exact: audioDeviceId } } : true;
  const video = {
    width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 },
    ...(videoDeviceId ? { deviceId: { exact: videoDeviceId } } : {}),
  };
  let firstError = null;
  for (const constraints of [{ audio, video }, { audio }, { video }]) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      const hasAudio = stream.getAudioTracks().length > 0;
      const hasVideo = stream.getVideoTracks().length > 0;
      let problem = null;
      if (firstError) {
        problem = {
          both: false,
          name: firstError.name,
          text: `${hasVideo ? 'the microphone' : 'the camera'} could not be used: ${describeMediaError(firstError)}`,
        };
      }
      return { stream, audio: hasAudio, video: hasVideo, problem };
    } catch (err) {
      firstError = firstError || err;
      if (err.name === 'NotAllowedError' && !('video' in constraints && 'audio' in constraints)) {
        break; // permission refused: asking again for less will not change the answer
      }
    }
  }
  return {
    stream: new MediaStream(), audio: false, video: false,
    problem: { both: true, name: firstError && firstError.name, text: `camera and microphone could not be used: ${describeMediaError(firstError)}` },
  };
}

/** {cameras, microphones}: device lists (labels appear once permission was given). */
export async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) {
    return { cameras: [], microphones: [] };
  }
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
    microphones: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
  };
}

/** Resolves once ICE gathering completed, or after a timeout with what was gathered so far. */
export function waitForIceGathering(pc, timeoutMs = ICE_GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * The publish connection. signal(msg) sends a request and resolves with the reply
 * (publish_answer). Tracks: one audio, one camera (simulcast), optionally one screen share.
 */
export class Publisher {
  /** frameCrypto: a FrameCrypto (e2ee.js) in an end-to-end encrypted room, else null. */
  constructor(signal, onStateChange, frameCrypto = null) {
    this.signal = signal;
    this.onStateChange = onStateChange;
    this.frameCrypto = frameCrypto;
    this.pc = null;
    this.audio = null;
    this.camera = null;
    this.screen = null;
    this.negotiating = Promise.resolve();
  }

  /** Creates the connection for these tracks and negotiates it. */
  async start(stream) {
    this.close();
    const pc = new RTCPeerConnection(PC_CONFIG);
    this.pc = pc;
    pc.addEventListener('connectionstatechange', () => this.onStateChange(pc.connectionState, pc));
    const audioTrack = stream.getAudioTracks()[0];
    const videoTrack = stream.getVideoTracks()[0];
    if (audioTrack) {
      this.audio = pc.addTransceiver(audioTrack, { direction: 'sendonly', streams: [stream] });
      this.encrypt(this.audio);
    }
    if (videoTrack) {
      this.camera = pc.addTransceiver(videoTrack, {
        direction: 'sendonly', streams: [stream], sendEncodings: SIMULCAST,
      });
      preferCodec(this.camera, 'video/VP8', !!this.frameCrypto);
      this.encrypt(this.camera);
    }
    await this.negotiate();
  }

  /** Offers, waits for the candidates, sends publish and applies the relay's answer. */
  negotiate() {
    const run = async () => {
      const pc = this.pc;
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIceGathering(pc);
      const msg = { type: 'publish', sdp: pc.localDescription.sdp };
      const screenMid = this.screen && this.screen.mid;
      if (screenMid) msg.screen_mid = screenMid; // an extension: tells the relay which m-line is the screen
      let reply;
      try {
        reply = await this.signal(msg);
      } catch (err) {
        if (pc.signalingState === 'have-local-offer') {
          await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        }
        throw err;
      }
      if (pc !== this.pc) return; // replaced meanwhile
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    };
    const next = this.negotiating.then(run, run);
    this.negotiating = next.catch(() => {});
    return next;
  }

  /** Adds a screen-share track as one more sendonly m-line and renegotiates. */
  async startScreen(track, stream) {
    this.screen = this.pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    preferCodec(this.screen, 'video/VP8', !!this.frameCrypto);
    this.encrypt(this.screen);
    try {
      await this.negotiate();
    } catch (err) {
      this.dropScreen();
      throw err;
    }
  }

  /** Stops sending the screen share and renegotiates (the m-line is rejected). */
  async stopScreen() {
    if (!this.screen) return;
    this.dropScreen();
    await this.negotiate();
  }

  /** In an E2EE room, every frame this transceiver sends is encrypted first. */
  encrypt(transceiver) {
    if (this.frameCrypto) this.frameCrypto.attachSender(transceiver.sender, transceiver.sender.track.kind);
  }

  dropScreen() {
    const t = this.screen;
    this.screen = null;
    if (!t) return;
    if (t.sender.track) t.sender.track.stop();
    try { t.stop(); } catch { /* already stopped */ }
  }

  close() {
    if (this.pc) this.pc.close();
    this.pc = null;
    this.audio = this.camera = this.screen = null;
  }
}

/**
 * Puts mimeType first. only: offer nothing else (but retransmissions): end-to-end encryption
 * knows how much of a VP8 frame to leave in clear, not of other codecs.
 */
function preferCodec(transceiver, mimeType, only = false) {
  if (!transceiver.setCodecPreferences || !RTCRtpSender.getCapabilities) return;
  const caps = RTCRtpSender.getCapabilities(transceiver.sender.track.kind);
  if (!caps) return;
  const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === mimeType.toLowerCase());
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== mimeType.toLowerCase() &&
    (!only || c.mimeType.toLowerCase() === 'video/rtx'));
  if (first.length) transceiver.setCodecPreferences([...first, ...rest]);
}

/**
 * The subscribe connection: answers every subscribe_offer (latest first; older ones are
 * skipped), reports tracks as they arrive: onTrack({track, mid, streamId, transceiver}).
 */
export class Subscriber {
  /** frameCrypto: a FrameCrypto (e2ee.js) in an end-to-end encrypted room, else null. */
  constructor(signal, onTrack, onStateChange, frameCrypto = null) {
    this.signal = signal;
    this.onTrack = onTrack;
    this.onStateChange = onStateChange;
    this.frameCrypto = frameCrypto;
    this.pc = null;
    this.latestSeq = -1;
    this.chain = Promise.resolve();
  }

  ensurePc() {
    if (this.pc) return this.pc;
    const pc = new RTCPeerConnection(PC_CONFIG);
    this.pc = pc;
    pc.addEventListener('track', (ev) => {
      if (this.frameCrypto) {
        this.frameCrypto.attachReceiver(ev.receiver, ev.track.kind, ev.transceiver && ev.transceiver.mid);
      }
      this.onTrack({
        track: ev.track,
        mid: ev.transceiver && ev.transceiver.mid,
        streamId: ev.streams && ev.streams[0] ? ev.streams[0].id : '',
        transceiver: ev.transceiver,
      });
    });
    pc.addEventListener('connectionstatechange', () => this.onStateChange(pc.connectionState, pc));
    return pc;
  }

  /** Handles one subscribe_offer {sdp, seq}; resolves when answered (or skipped as stale). */
  handleOffer(offer) {
    if (typeof offer.seq === 'number' && offer.seq > this.latestSeq) this.latestSeq = offer.seq;
    const run = async () => {
      if (offer.seq !== this.latestSeq) return; // a newer offer is queued: answer that one
      const pc = this.ensurePc();
      await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await waitForIceGathering(pc);
      try {
        await this.signal({ type: 'subscribe_answer', seq: offer.seq, sdp: pc.localDescription.sdp });
      } catch (err) {
        // bad_sdp for an answer to an old offer is expected when a newer one is on its way.
        if (!(err.code === 'bad_sdp' && offer.seq !== this.latestSeq)) throw err;
      }
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => {});
    return next;
  }

  /** The transceiver whose mid is `mid`, if any. */
  transceiverByMid(mid) {
    return this.pc ? this.pc.getTransceivers().find((t) => t.mid === mid) : undefined;
  }

  close() {
    if (this.pc) this.pc.close();
    this.pc = null;
    this.latestSeq = -1;
  }
}
