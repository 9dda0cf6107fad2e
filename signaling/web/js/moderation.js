// The moderator's panel: lobby queue (admit, deny), lobby and lock switches, end of meeting, and
// the confirmation before removing someone. Every action is one protocol request.
import { confirmDialog } from './dialog.js';

const $ = (id) => document.getElementById(id);

export class ModerationPanel {
  /**
   * request(msg) resolves true when the relay said ok (and has told the user otherwise);
   * notice(text, kind, tag) and clearNotice(tag) show and withdraw a passing message.
   */
  constructor(request, notice, clearNotice) {
    this.request = request;
    this.notice = notice;
    this.clearNotice = clearNotice;
    this.room = { lobby: false, locked: false };
    this.isModerator = false;
    this.bindSwitch('lobby-switch', (on) => ({ type: 'set_lobby', enabled: on }), 'lobby');
    this.bindSwitch('lock-switch', (on) => ({ type: 'lock', locked: on }), 'locked');
    $('end-meeting').addEventListener('click', () => this.endMeeting());
  }

  bindSwitch(id, message, field) {
    $(id).addEventListener('change', async (ev) => {
      const want = ev.target.checked;
      if (await this.request(message(want))) this.room[field] = want;
      else ev.target.checked = !want;
    });
  }

  /** room: {lobby, locked} as the relay reports it. */
  setRoom(room, isModerator) {
    this.room = { lobby: !!room.lobby, locked: !!room.locked };
    this.isModerator = isModerator;
    $('moderator-panel').hidden = !isModerator;
    $('lobby-switch').checked = this.room.lobby;
    $('lock-switch').checked = this.room.locked;
  }

  renderLobby(waiting) {
    const list = $('lobby-list');
    list.replaceChildren();
    for (const w of waiting) {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = w.name || w.participant_id;
      li.append(name,
        this.button('Admit', `Admit ${w.name}`, 'small', { type: 'admit', participant_id: w.participant_id }),
        this.button('Deny', `Deny ${w.name}`, 'small secondary', { type: 'deny', participant_id: w.participant_id }));
      list.append(li);
    }
    $('lobby-count').textContent = String(waiting.length);
    $('lobby-empty').hidden = waiting.length > 0;
    if (waiting.length && this.isModerator) {
      this.notice(`Waiting in the lobby: ${waiting.map((w) => w.name).join(', ')}.`, 'info', 'lobby');
    } else {
      this.clearNotice('lobby');
    }
  }

  button(text, label, className, msg) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = className;
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', () => this.request(msg));
    return b;
  }

  async endMeeting() {
    const ok = await confirmDialog({
      title: 'End the meeting for everyone?',
      text: 'Everyone will be disconnected, and the meeting cannot be resumed.',
      ok: 'End meeting',
    });
    if (ok) await this.request({ type: 'end_meeting' });
  }

  async kick(pid, name) {
    const reason = await confirmDialog({
      title: `Remove ${name} from the meeting?`,
      text: 'They will be disconnected and cannot rejoin with the same join link.',
      ok: 'Remove',
      reason: true,
    });
    if (reason === false) return;
    const msg = { type: 'kick', participant_id: pid };
    if (reason.trim()) msg.reason = reason.trim();
    await this.request(msg);
  }
}
