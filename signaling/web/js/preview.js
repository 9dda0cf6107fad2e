// Before joining: the camera preview, the device choice, and what to say when the camera or the
// microphone cannot be used (the page then joins listen-only).
import { getLocalMedia, listDevices } from './media.js';

const $ = (id) => document.getElementById(id);
const NO_MEDIA = () => ({ stream: new MediaStream(), audio: false, video: false, problem: null });

export class DevicePreview {
  constructor() {
    this.local = null; // {stream, audio, video, problem}
    this.ready = Promise.resolve();
    this.observer = false;
    this.attempt = 0;
    $('camera-select').addEventListener('change', () => this.refresh());
    $('mic-select').addEventListener('change', () => this.refresh());
    $('retry-media').addEventListener('click', () => this.refresh());
  }

  /** Opens the devices (none for an observer); `ready` resolves once they are open. */
  start(observer) {
    this.observer = observer;
    return this.refresh();
  }

  refresh() {
    this.ready = this.acquire();
    return this.ready;
  }

  async acquire() {
    const attempt = ++this.attempt;
    const audioDeviceId = $('mic-select').value || undefined;
    const videoDeviceId = $('camera-select').value || undefined;
    this.stop();
    const note = $('media-note');
    note.hidden = false;
    note.className = 'notice';
    note.textContent = 'Starting your camera and microphone…';
    const local = this.observer ? NO_MEDIA() : await getLocalMedia({ audioDeviceId, videoDeviceId });
    if (attempt !== this.attempt) { // a newer choice superseded this one: release it
      for (const t of local.stream.getTracks()) t.stop();
      return;
    }
    this.local = local;
    this.render(local, note);
    await this.fillDeviceLists();
  }

  render(local, note) {
    $('preview-video').srcObject = local.video ? local.stream : null;
    $('preview-video').hidden = !local.video;
    $('preview-placeholder').hidden = local.video;
    $('preview-placeholder').textContent = local.audio ? 'Camera off: microphone only' : 'No camera or microphone';
    $('retry-media').hidden = !local.problem;
    if (this.observer) {
      note.textContent = 'You are joining as an observer: you will see and hear the meeting, and nobody will see or hear you.';
    } else if (local.problem && local.problem.both) {
      note.className = 'notice warn';
      note.textContent = `Your ${local.problem.text}. You can still join listen-only: you will see and hear the others, and they will not see or hear you. To fix it, allow camera and microphone access in the browser's site settings, then press “Try camera again”.`;
    } else if (local.problem) {
      note.className = 'notice warn';
      note.textContent = `Only part of your devices work: ${local.problem.text}. You can join like this, or fix it and press “Try camera again”.`;
    } else {
      note.hidden = true;
    }
  }

  async fillDeviceLists() {
    const { cameras, microphones } = await listDevices().catch(() => ({ cameras: [], microphones: [] }));
    const inUse = (kind) => {
      const t = this.local && this.local.stream.getTracks().find((x) => x.kind === kind);
      return t && t.getSettings ? t.getSettings().deviceId : '';
    };
    fill($('camera-select'), cameras, inUse('video'), 'camera');
    fill($('mic-select'), microphones, inUse('audio'), 'microphone');
  }

  /** Stops the devices (the camera light goes off). */
  stop() {
    if (this.local) for (const t of this.local.stream.getTracks()) t.stop();
    this.local = null;
    $('preview-video').srcObject = null;
  }
}

function fill(select, devices, current, noun) {
  const keep = select.value;
  select.replaceChildren();
  if (!devices.length) select.append(new Option(`No ${noun} available`, ''));
  devices.forEach((d, i) => select.append(new Option(d.label || `${noun} ${i + 1}`, d.deviceId)));
  const want = current || keep;
  if (want && devices.some((d) => d.deviceId === want)) select.value = want;
  select.disabled = devices.length === 0;
}
