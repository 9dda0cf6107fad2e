// The relay under test, as tests/browser/run.sh started it (its settings come in LEGATION_*
// environment variables): join tokens, join links, and a restart on the same ports and state dir.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through tests/browser/run.sh`);
  return v;
}

export const relay = {
  bin: env('LEGATION_BIN'),
  stateDir: env('LEGATION_STATE_DIR'),
  httpPort: Number(env('LEGATION_HTTP_PORT')),
  mediaPort: Number(env('LEGATION_MEDIA_PORT')),
  webRoot: env('LEGATION_WEB_ROOT'),
  pidFile: env('LEGATION_RELAY_PID_FILE'),
  logFile: env('LEGATION_RELAY_LOG'),
};
relay.listen = `127.0.0.1:${relay.httpPort}`;
relay.baseUrl = `https://${relay.listen}/`;

/** The relay's command line: the same for the first start (run.sh) and every restart. */
export function relayArgs() {
  return ['--state-dir', relay.stateDir, '--listen', relay.listen, '--media-port', String(relay.mediaPort),
    '--workers', '1', '--web-root', relay.webRoot, '--log-level', 'info'];
}

/** A join token minted by `legation token` (e2ee: for an end-to-end encrypted room). */
export function mintToken({ room, name, role = 'participant', ttl = '1h', e2ee = false }) {
  return execFileSync(relay.bin, ['token', '--state-dir', relay.stateDir, '--listen', relay.listen,
    '--room', room, '--name', name, '--sub', `${name.toLowerCase().replace(/\W+/g, '.')}@test.example`,
    '--role', role, '--ttl', ttl, '--token-only', ...(e2ee ? ['--e2ee'] : [])],
  { encoding: 'utf8', timeout: 10000 }).trim();
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

/**
 * A token like mintToken's but already expired (exp an hour ago, beyond the relay's 30 s skew),
 * re-signed HS256 with the relay's secret (STATE_DIR/secret, used as the key bytes as stored).
 * `legation token` refuses a negative --ttl, so the test signs this one itself.
 */
export function expiredToken({ room, name, role = 'participant' }) {
  const [header, payload] = mintToken({ room, name, role }).split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  const now = Math.floor(Date.now() / 1000);
  claims.iat = now - 7200;
  claims.exp = now - 3600;
  const body = `${header}.${b64url(JSON.stringify(claims))}`;
  const secret = readFileSync(`${relay.stateDir}/secret`, 'utf8').trim();
  const sig = createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest();
  return `${body}.${b64url(sig)}`;
}

/** A token whose signature was tampered with. */
export function forgedToken({ room, name, role = 'moderator' }) {
  const [header, payload, sig] = mintToken({ room, name, role: 'participant' }).split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  claims.role = role; // promote ourselves, keep the old signature
  return `${header}.${b64url(JSON.stringify(claims))}.${sig}`;
}

/** The join link; key (an E2EE meeting key) goes into the fragment too, never to the relay. */
export function joinLink(token, key) {
  return `${relay.baseUrl}#token=${token}${key ? `&key=${encodeURIComponent(key)}` : ''}`;
}

/** Everything the relay wrote: its log and its audit trail (to check what it never saw). */
export function relayRecords() {
  const read = (f) => { try { return readFileSync(f, 'utf8'); } catch { return ''; } };
  return read(relay.logFile) + read(`${relay.stateDir}/audit.log`);
}

function healthz(timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = https.get(`${relay.baseUrl}healthz`, { rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.on('error', () => resolve(false));
  });
}

export async function waitHealthy(timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await healthz()) return;
    await sleep(100);
  }
  throw new Error(`the relay did not answer /healthz within ${timeoutMs / 1000} s (log: ${relay.logFile})`);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try { // a zombie (not reaped yet by run.sh's shell) holds no sockets any more
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function currentPid() {
  return Number(readFileSync(relay.pidFile, 'utf8').trim());
}

/** Stops the relay (SIGTERM, then SIGKILL after 5 s); resolves once it is gone. */
export async function stopRelay(signal = 'SIGTERM') {
  const pid = currentPid();
  if (!pid || !alive(pid)) return;
  process.kill(pid, signal);
  const deadline = Date.now() + 5000;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(50);
  }
}

/** Starts the relay again with the same arguments; its pid goes to the pid file for run.sh. */
export async function startRelay() {
  const fd = openSync(relay.logFile, 'a');
  const child = spawn(relay.bin, relayArgs(), { stdio: ['ignore', fd, fd], detached: false });
  closeSync(fd);
  writeFileSync(relay.pidFile, `${child.pid}\n`);
  child.unref();
  await waitHealthy();
  return child.pid;
}

/** The last lines of the relay's log, for failure messages. */
export function relayLogTail(lines = 30) {
  try {
    return readFileSync(relay.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no relay log)';
  }
}
