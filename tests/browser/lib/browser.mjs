// Debian's Chromium driven by playwright-core (see /work/shared/BROWSER.md): one browser per
// participant, each with its own fresh profile, fake camera and microphone, loopback ICE.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.LEGATION_CHROMIUM || '/usr/bin/chromium';

const BASE_ARGS = [
  '--allow-loopback-in-peer-connection', // else no loopback candidate: ICE never starts with only lo
  // Nothing but the relay: no update checks, sync, safe-browsing or other background traffic.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-sync',
  '--no-default-browser-check',
  '--no-first-run',
  '--metrics-recording-only',
];
const FAKE_MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

/**
 * Launches a participant's browser and opens `url`. opts.devices = false launches without the fake
 * camera and microphone (getUserMedia then fails: the page must fall back to listen-only).
 * Returns {name, page, context, logs, close()}.
 */
export async function openParticipant(name, url, { devices = true, viewport } = {}) {
  const profile = mkdtempSync(pathJoin(tmpdir(), 'legation-chromium-'));
  const args = devices ? [...FAKE_MEDIA_ARGS, ...BASE_ARGS] : ['--use-fake-ui-for-media-stream', ...BASE_ARGS];
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args,
      ignoreHTTPSErrors: true, // the relay's self-signed development certificate
      viewport: viewport || { width: 1280, height: 800 },
      timeout: 30000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  const logs = [];
  page.on('console', (m) => logs.push(`[${name} console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[${name} page error] ${e.message}`));
  const participant = {
    name,
    page,
    context,
    logs,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
  if (url) {
    try {
      await page.goto(url, { waitUntil: 'domcontentloaded' });
    } catch (err) {
      await participant.close();
      throw err;
    }
  }
  return participant;
}

/** Clicks "Join meeting" once the preview is up, then waits for the phase (default: meeting). */
export async function join(p, phase = 'meeting', timeoutMs = 20000) {
  await p.page.getByRole('button', { name: 'Join meeting' }).click();
  await waitPhase(p, phase, timeoutMs);
}

export async function waitPhase(p, phase, timeoutMs = 20000) {
  try {
    await p.page.waitForFunction((want) => window.legation && window.legation.phase === want, phase,
      { timeout: timeoutMs, polling: 100 });
  } catch (err) {
    const now = await p.page.evaluate(() => window.legation && window.legation.phase).catch(() => '?');
    const text = await visibleText(p.page);
    throw new Error(`${p.name}: phase is '${now}', not '${phase}', after ${timeoutMs / 1000} s.\nPage says: ${text}`);
  }
}

/** What the page shows in its banner and end/wait screens: for failure messages. */
export async function visibleText(page) {
  return page.evaluate(() => {
    const parts = [];
    for (const id of ['banner-text', 'wait-title', 'wait-text', 'end-title', 'end-text', 'media-note']) {
      const el = document.getElementById(id);
      if (el && el.offsetParent !== null && el.textContent.trim()) parts.push(`${id}: ${el.textContent.trim()}`);
    }
    return parts.join(' | ') || '(nothing)';
  }).catch((e) => `(page unavailable: ${e.message})`);
}

/** Polls fn() until it returns a truthy value or timeoutMs passes; returns the last value. */
export async function poll(fn, timeoutMs, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok !== false) return last;
    if (Date.now() >= deadline) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until `p` receives audio packets and decoded video frames from every participant whose id
 * fromIds() returns (asked again on every poll: a rejoin gives a participant a new id).
 * Returns {ok, ids, inbound, subscribeSeq, subscribeState, publishState}.
 */
export async function waitMediaFrom(p, fromIds, timeoutMs = 30000) {
  return poll(async () => {
    const ids = await fromIds();
    const snap = await p.page.evaluate(async () => ({
      inbound: await window.legation.inbound(),
      subscribeSeq: window.legation.subscribeSeq,
      subscribeState: window.legation.subscribePc ? window.legation.subscribePc.connectionState : 'none',
      publishState: window.legation.publishPc ? window.legation.publishPc.connectionState : 'none',
    }));
    snap.ids = ids;
    snap.ok = ids.every((id) => snap.inbound[id] && snap.inbound[id].audioPackets > 0 && snap.inbound[id].videoFrames > 0);
    return snap;
  }, timeoutMs, 500);
}
