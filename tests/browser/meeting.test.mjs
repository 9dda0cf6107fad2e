// Real-browser tests of the web client against the real relay (started by tests/browser/run.sh).
// Each scenario uses its own room; the relay restart comes last because it affects every room.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join as pathJoin } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { join, openParticipant, poll, visibleText, waitMediaFrom, waitPhase } from './lib/browser.mjs';
import {
  expiredToken, forgedToken, joinLink, mintToken, relayLogTail, relayRecords, startRelay, stopRelay,
} from './lib/relay.mjs';

const ARTIFACTS = process.env.LEGATION_ARTIFACTS || pathJoin(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const SCENARIO_TIMEOUT_MS = 150000;

const open = new Set();
async function participant(name, url, opts) {
  const p = await openParticipant(name, url, opts);
  open.add(p);
  return p;
}
async function closeAll(list) {
  await Promise.all(list.map(async (p) => { open.delete(p); await p.close(); }));
}
after(async () => closeAll([...open]));

/** Runs body(); on failure adds the pages' state, their console and the relay log to the error. */
async function withDiagnostics(people, body) {
  try {
    await body();
    const errors = people.flatMap((p) => p.logs.filter((l) => l.includes('page error')));
    assert.deepEqual(errors, [], 'uncaught exceptions in the pages');
  } catch (err) {
    const pages = await Promise.all(people.map(async (p) => `${p.name}: ${await visibleText(p.page)}`));
    const consoleLines = people.flatMap((p) => p.logs.slice(-15));
    const extra = `\n--- pages ---\n${pages.join('\n')}\n--- browser console ---\n${consoleLines.join('\n')}` +
      `\n--- relay log (tail) ---\n${relayLogTail()}`;
    err.message += extra;
    if (err.stack) err.stack += extra; // the reporter prints the stack, written when err was made
    throw err;
  }
}

/** A full page load of url (not a same-document fragment change). */
async function reopen(p, url) {
  await p.page.goto('about:blank');
  await p.page.goto(url, { waitUntil: 'domcontentloaded' });
}

const selfId = (p) => p.page.evaluate(() => window.legation.selfId);
const endTitle = (p) => p.page.locator('#end-title');

async function expectMedia(p, others, what) {
  const snap = await waitMediaFrom(p, () => Promise.all(others.map(selfId)), 30000);
  assert.ok(snap.ok, `${p.name} ${what}: expected audio packets and decoded video frames from ` +
    `${others.map((o) => o.name).join(' and ')} (${snap.ids.join(', ')}); ${describeMedia(snap)}`);
}

function describeMedia(snap) {
  if (!snap) return 'no stats';
  if (snap.subscribeSeq < 0) {
    return `no subscribe_offer ever arrived (subscribe connection: ${snap.subscribeState}, publish: ${snap.publishState})`;
  }
  return `got ${JSON.stringify(snap.inbound)} after subscribe offer ${snap.subscribeSeq} ` +
    `(subscribe connection: ${snap.subscribeState}, publish: ${snap.publishState})`;
}

test('(a) three participants see and hear each other', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const room = 'a-three';
  const people = [];
  try {
    for (const [name, role] of [['Alice Martin', 'moderator'], ['Bernard Okafor', 'participant'], ['Chen Wei', 'participant']]) {
      people.push(await participant(name, joinLink(mintToken({ room, name, role }))));
    }
    await withDiagnostics(people, async () => {
      for (const p of people) await join(p);
      for (const p of people) {
        await expectMedia(p, people.filter((o) => o !== p), 'in a three-person meeting');
      }
      // Every page lists the other two by name.
      for (const p of people) {
        const names = (await p.page.evaluate(() => window.legation.participants())).map((x) => x.name).sort();
        assert.deepEqual(names, people.map((o) => o.name).sort(), `${p.name}'s participant list`);
      }
      const [alice, bernard, chen] = people;
      await alice.page.locator('#quality-text', { hasText: /Connection: (Good|Fair|Poor) \(\d+ ms round trip/ }).waitFor();

      // Bernard turns his camera off: the others see it on his tile.
      await bernard.page.getByRole('button', { name: 'Camera off' }).click();
      await alice.page.locator('#grid [aria-label="Bernard Okafor"]').getByText('Camera off').waitFor();
      await chen.page.locator('#grid [aria-label="Bernard Okafor"]').getByText('Camera off').waitFor();
      await bernard.page.getByRole('button', { name: 'Camera on' }).click();
      await alice.page.locator('#grid [aria-label="Bernard Okafor"]').getByText('Camera off').waitFor({ state: 'hidden' });

      // The moderator mutes Chen: Chen is told, and his button now offers to unmute.
      await alice.page.locator('#grid [aria-label="Chen Wei"]').getByRole('button', { name: 'Mute' }).click();
      await chen.page.locator('#banner-text', { hasText: 'A moderator turned off your microphone' }).waitFor();
      await chen.page.getByRole('button', { name: 'Unmute' }).waitFor();
      await bernard.page.locator('#grid [aria-label="Chen Wei"]').getByText('Microphone off').waitFor();
      assert.equal(await chen.page.evaluate(() => window.legation.publishPc.getSenders()
        .find((s) => s.track && s.track.kind === 'audio').track.enabled), false, "Chen's microphone track is off");

      // Low bandwidth: the relay accepts the preference.
      await chen.page.getByRole('switch', { name: 'Low bandwidth' }).check();
      await chen.page.locator('#banner-text', { hasText: 'Low bandwidth on' }).waitFor();

      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = pathJoin(ARTIFACTS, 'meeting.png');
      await people[0].page.waitForTimeout(1000); // let the tiles paint a few frames
      await people[0].page.screenshot({ path: shot, fullPage: true });
      console.log(`screenshot: ${shot}`);

      // Bernard leaves: his page says so, and the others' grids drop his tile.
      await bernard.page.getByRole('button', { name: 'Leave' }).click();
      await waitPhase(bernard, 'ended', 10000);
      assert.equal(await endTitle(bernard).textContent(), 'You left the meeting');
      await alice.page.locator('#grid [aria-label="Bernard Okafor"]').waitFor({ state: 'detached', timeout: 10000 });

      // Dana joins after him: Alice receives her video on the m-line Bernard's video left (rejected,
      // then recycled under a new mid; his audio's was Alice's first m-line, which carries the
      // BUNDLE transport and stays), so her subscribe connection grows by one m-line, not two.
      const mlines = (p) => p.page.evaluate(() => {
        const pc = window.legation.subscribePc;
        const sections = pc.remoteDescription.sdp.split('\r\nm=').slice(1);
        return { stable: pc.signalingState === 'stable', lines: sections.map((m, index) => ({
          index, port: m.split(' ')[1], mid: (m.match(/\r\na=mid:(\S+)/) || [])[1] })) };
      });
      const before = await poll(async () => {
        const d = await mlines(alice);
        return d.stable && d.lines.some((l) => l.port === '0') ? d : { ok: false, ...d };
      }, 10000);
      assert.ok(before.ok !== false, `Bernard's m-lines rejected at Alice: ${JSON.stringify(before)}`);
      const dana = await participant('Dana', joinLink(mintToken({ room, name: 'Dana Newcomer' })));
      people.push(dana);
      await join(dana);
      await expectMedia(alice, [chen, dana], 'after Dana took Bernard\'s place');
      const after = await mlines(alice);
      const desc = JSON.stringify(after.lines);
      assert.ok(after.lines.length < 6, `Alice's m-lines were recycled, not appended: ${desc}`);
      assert.ok(after.lines.some((l) => l.index < 4 && l.port !== '0' && Number(l.mid) >= 4),
        `an m-line of Bernard's carries Dana's media under a new mid: ${desc}`);
    });
  } finally {
    await closeAll(people);
  }
});

test('(b) bad input: missing, expired and forged tokens; no camera', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const room = 'b-tokens';
  const people = [];
  try {
    const p = await participant('Eve', joinLink(expiredToken({ room, name: 'Eve Expired' })));
    people.push(p);
    await withDiagnostics(people, async () => {
      await join(p, 'ended');
      assert.equal(await endTitle(p).textContent(), 'This join link has expired');
      assert.match(await p.page.locator('#end-next').textContent(), /new join link/);

      await reopen(p, joinLink(forgedToken({ room, name: 'Mallory' })));
      await join(p, 'ended');
      assert.equal(await endTitle(p).textContent(), 'This join link is not valid');

      // No token at all: the page asks for one, and refuses what is not a token.
      await p.page.evaluate(() => sessionStorage.clear());
      await reopen(p, joinLink('').replace('#token=', ''));
      await p.page.getByRole('heading', { name: 'Join a meeting' }).waitFor();
      await p.page.getByLabel('Join link or token').fill('hello');
      await p.page.getByRole('button', { name: 'Continue' }).click();
      assert.match(await p.page.locator('#token-error').textContent(), /not a join link/);
    });

    // A browser with no camera or microphone joins listen-only and says so.
    const quiet = await participant('Quinn', joinLink(mintToken({ room, name: 'Quinn Quiet' })), { devices: false });
    people.push(quiet);
    await withDiagnostics(people, async () => {
      await quiet.page.locator('#media-note', { hasText: 'listen-only' }).waitFor();
      await join(quiet);
      await quiet.page.locator('#banner-text', { hasText: 'listen-only' }).waitFor();
      assert.equal(await quiet.page.evaluate(() => window.legation.publishPc), null, 'no publish connection');
    });
  } finally {
    await closeAll(people);
  }
});

test('(c) the lobby holds a participant until the moderator admits them', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const room = 'c-lobby';
  const people = [];
  try {
    const mod = await participant('Mona', joinLink(mintToken({ room, name: 'Mona Moderator', role: 'moderator' })));
    people.push(mod);
    await withDiagnostics(people, async () => {
      await join(mod);
      const lobbySwitch = mod.page.getByRole('switch', { name: /Lobby/ });
      await lobbySwitch.check();
      await poll(() => mod.page.evaluate(() => document.getElementById('lobby-switch').checked), 5000);
    });
    const pat = await participant('Pat', joinLink(mintToken({ room, name: 'Pat Guest' })));
    people.push(pat);
    await withDiagnostics(people, async () => {
      await join(pat, 'lobby');
      await pat.page.getByRole('heading', { name: 'Waiting in the lobby' }).waitFor();
      const admit = mod.page.getByRole('button', { name: 'Admit Pat Guest' });
      await admit.waitFor({ timeout: 10000 });
      await pat.page.waitForTimeout(2000);
      assert.equal(await pat.page.evaluate(() => window.legation.phase), 'lobby', 'still waiting before admission');
      await admit.click();
      await waitPhase(pat, 'meeting', 10000);
      await mod.page.locator('#grid [aria-label="Pat Guest"]').waitFor({ timeout: 10000 });
      await pat.page.locator('#grid [aria-label="Mona Moderator"]').waitFor({ timeout: 10000 });

      await expectMedia(mod, [pat], 'after admitting Pat');
      // At phone width the page still fits: no sideways scrolling.
      await mod.page.setViewportSize({ width: 390, height: 844 });
      assert.ok(await mod.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1),
        'no horizontal scrolling at 390 px');
      mkdirSync(ARTIFACTS, { recursive: true });
      await mod.page.screenshot({ path: pathJoin(ARTIFACTS, 'meeting-phone.png'), fullPage: true });

      // Lock the room: the others are told.
      await mod.page.getByRole('switch', { name: /Lock the room/ }).check();
      await pat.page.locator('#banner-text', { hasText: 'locked the meeting' }).waitFor();

      // End the meeting (after confirming): everyone gets a clear end screen, nobody reconnects.
      await mod.page.getByRole('button', { name: 'End meeting for everyone' }).click();
      await mod.page.getByRole('dialog').getByRole('button', { name: 'End meeting' }).click();
      for (const p of [mod, pat]) {
        await waitPhase(p, 'ended', 10000);
        assert.equal(await endTitle(p).textContent(), 'The meeting has ended');
      }
    });
  } finally {
    await closeAll(people);
  }
});

test('(d) a kicked participant is told so and cannot rejoin with the same link', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const room = 'd-kick';
  const people = [];
  try {
    const mod = await participant('Mona', joinLink(mintToken({ room, name: 'Mona Moderator', role: 'moderator' })));
    const kimLink = joinLink(mintToken({ room, name: 'Kim Kicked' }));
    const kim = await participant('Kim', kimLink);
    people.push(mod, kim);
    await withDiagnostics(people, async () => {
      await join(mod);
      await join(kim);
      const tile = mod.page.locator('#grid [aria-label="Kim Kicked"]');
      await tile.getByRole('button', { name: 'Remove' }).click();
      await mod.page.getByLabel('Reason shown to them (optional)').fill('testing removal');
      await mod.page.getByRole('button', { name: 'Remove', exact: true }).last().click();
      await waitPhase(kim, 'ended', 10000);
      assert.equal(await endTitle(kim).textContent(), 'You were removed from the meeting');
      assert.match(await kim.page.locator('#end-text').textContent(), /testing removal/);
      // No automatic reconnection after a kick.
      await kim.page.waitForTimeout(4000);
      assert.equal(await kim.page.evaluate(() => window.legation.phase), 'ended');
      assert.equal(await kim.page.evaluate(() => window.legation.reconnects), 0);
      assert.equal(await kim.page.locator('#end-rejoin').isVisible(), false, 'no "join again" after a kick');
      await tile.waitFor({ state: 'detached', timeout: 10000 });

      // The same link again, in a fresh page: refused with a clear message.
      await reopen(kim, kimLink);
      await join(kim, 'ended');
      assert.equal(await endTitle(kim).textContent(), 'You cannot rejoin this meeting');
    });
  } finally {
    await closeAll(people);
  }
});

test('(f) an end-to-end encrypted room: the same key decodes, a wrong key does not, no mixing', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const room = 'f-e2ee';
  const KEY = 'correct horse battery staple';
  const people = [];
  const e2ee = (p) => p.page.evaluate(() => window.legation.e2ee());
  try {
    const alice = await participant('Alice', joinLink(mintToken({ room, name: 'Alice Martin', role: 'moderator', e2ee: true }), KEY));
    const bernard = await participant('Bernard', joinLink(mintToken({ room, name: 'Bernard Okafor', e2ee: true }), KEY));
    people.push(alice, bernard);
    await withDiagnostics(people, async () => {
      // Before joining: the key field holds the fragment's key, low bandwidth is off and says why.
      assert.equal(await alice.page.locator('#e2ee-key').inputValue(), KEY);
      assert.equal(await alice.page.locator('#prejoin-lowbw').isDisabled(), true, 'low bandwidth disabled before joining');
      assert.match(await alice.page.locator('#prejoin-lowbw-note').textContent(), /end-to-end encrypted/);
      for (const p of people) await join(p);
      await expectMedia(alice, [bernard], 'in an E2EE room');
      await expectMedia(bernard, [alice], 'in an E2EE room');
      // What arrived was decrypted by the page (audio and video), and nothing failed.
      for (const [p, other] of [[alice, bernard], [bernard, alice]]) {
        const id = await selfId(other);
        const st = await poll(async () => {
          const s = await e2ee(p);
          const r = s.received[id];
          return { ok: !!(r && r.audio > 0 && r.video > 0), s };
        }, 15000);
        assert.ok(st.ok, `${p.name} decrypted audio and video from ${other.name}: ${JSON.stringify(st.s)}`);
        assert.equal(st.s.enabled, true);
        assert.equal(st.s.received[id].failed, 0, `${p.name}: no frame from ${other.name} failed to decrypt`);
        assert.ok(st.s.sent.audio > 0 && st.s.sent.video > 0, `${p.name} encrypted what it sent: ${JSON.stringify(st.s.sent)}`);
      }
      // In the meeting: the badge, and the low-bandwidth (mixed audio) switch is off with the reason.
      await alice.page.locator('#e2ee-badge', { hasText: 'End-to-end encrypted' }).waitFor();
      assert.equal(await alice.page.getByRole('switch', { name: 'Low bandwidth' }).isDisabled(), true, 'low bandwidth disabled in the meeting');
      assert.match(await alice.page.locator('#lowbw-note').textContent(), /end-to-end encrypted.*cannot decode its audio/);
      mkdirSync(ARTIFACTS, { recursive: true });
      await alice.page.screenshot({ path: pathJoin(ARTIFACTS, 'meeting-e2ee.png'), fullPage: true });

      // Chen types a wrong key: packets arrive, but nothing of Alice's decrypts or decodes.
      const chen = await participant('Chen', joinLink(mintToken({ room, name: 'Chen Wei', e2ee: true })));
      people.push(chen);
      await chen.page.locator('#e2ee-key').fill('incorrect horse');
      await join(chen);
      const aliceId = await selfId(alice);
      const seen = await poll(async () => {
        const s = await e2ee(chen);
        const inb = await chen.page.evaluate(() => window.legation.inbound());
        const r = s.received[aliceId];
        const i = inb[aliceId];
        return { ok: !!(r && r.failed > 20 && i && i.videoPackets > 50), s, inb };
      }, 30000);
      assert.ok(seen.ok, `Chen received Alice's media but could not decrypt it: ${JSON.stringify(seen)}`);
      assert.equal(seen.s.received[aliceId].audio + seen.s.received[aliceId].video, 0, 'Chen decrypted nothing');
      assert.equal(seen.inb[aliceId].videoFrames, 0, 'Chen decoded no video frame of Alice');
      await chen.page.locator('#banner-text', { hasText: 'wrong key?' }).waitFor({ timeout: 15000 });

      // A link without e2ee for this room is refused with the reason.
      const dana = await participant('Dana', joinLink(mintToken({ room, name: 'Dana Plain' })));
      people.push(dana);
      await join(dana, 'ended');
      assert.equal(await endTitle(dana).textContent(), 'This join link does not match the meeting’s encryption');

      // The key never reached the relay: not in its log, not in its audit trail.
      assert.equal(relayRecords().includes(KEY), false, 'the relay saw the meeting key');
      assert.equal(relayRecords().includes('incorrect horse'), false, 'the relay saw the wrong key');
    });
  } finally {
    await closeAll(people);
  }
});

test('(e) after a relay restart the pages reconnect by themselves and media flows again', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const room = 'e-restart';
  const people = [];
  try {
    for (const [name, role] of [['Rita Restart', 'moderator'], ['Sam Steady', 'participant']]) {
      people.push(await participant(name, joinLink(mintToken({ room, name, role }))));
    }
    await withDiagnostics(people, async () => {
      for (const p of people) await join(p);
      for (const p of people) await expectMedia(p, people.filter((o) => o !== p), 'before the restart');

      // Lee has the page open but presses Join only while the relay is down.
      const lee = await participant('Lee', joinLink(mintToken({ room, name: 'Lee Late' })));
      people.push(lee);
      await lee.page.getByRole('button', { name: 'Join meeting' }).waitFor();

      await stopRelay('SIGTERM');
      for (const p of people.slice(0, 2)) {
        await p.page.locator('#banner-text', { hasText: 'Reconnecting in' }).waitFor({ timeout: 20000 });
      }
      await lee.page.getByRole('button', { name: 'Join meeting' }).click();
      await lee.page.getByRole('heading', { name: 'Cannot reach the meeting server' }).waitFor();
      await lee.page.locator('#wait-text', { hasText: /cannot be reached.*Trying again in \d+ s/ }).waitFor();

      await startRelay();
      for (const p of people.slice(0, 2)) {
        await p.page.waitForFunction(() => window.legation.reconnects >= 1 && window.legation.phase === 'meeting',
          null, { timeout: 45000, polling: 200 });
      }
      await waitPhase(lee, 'meeting', 45000);
      for (const p of people) await expectMedia(p, people.filter((o) => o !== p), 'after the restart');
    });
  } finally {
    await closeAll(people);
  }
});
