// Helpers of the browser tests: the stack (tests/e2e/launch.py: a throwaway PostgreSQL and
// the real build/volunteerd), Debian's chromium through playwright-core, a small API
// client, screenshots under build/e2e/ and the axe check.  Every wait is bounded; the stack
// and the browser are stopped in the tests' after() hook (and the launcher stops itself when
// its stdin closes, so a killed runner leaves nothing behind).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const SHOTS = path.join(ROOT, 'build', 'e2e');

// Debian's chromium, as .library/env/machines/c.md describes; the background-networking
// flags keep it from calling out of a closed network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function startStack() {
  const py = process.env.PYTHON || '/usr/bin/python3';
  const child = spawn(py, [path.join(HERE, 'launch.py')], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const info = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('launch.py gave no answer in 90 s')), 90000);
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        const j = JSON.parse(buf.slice(0, nl));
        if (j.error) reject(new Error('launch.py: ' + j.error)); else resolve(j);
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error('launch.py exited ' + code)); });
  });
  info.stop = () => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('exit', () => { clearTimeout(kill); resolve(); });
    child.stdin.end();
  });
  return info;
}

export async function startBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
}

// A phone-sized context (360 px wide), zh-CN unless told otherwise.
export async function newContext(browser, { javaScriptEnabled = true, locale = 'zh-CN' } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, javaScriptEnabled,
    locale, extraHTTPHeaders: { 'Accept-Language': locale } });
  ctx.setDefaultTimeout(15000);
  return ctx;
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

// No serious or critical accessibility violation on the page as it is now.
export async function axe(page) {
  const res = await new AxeBuilder({ page }).analyze();
  return res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

// The JSON API, with a Bearer token once logged in.
export class Api {
  constructor(base) { this.base = base + '/api/v1'; this.token = null; }
  async req(method, p, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (this.token) headers.Authorization = 'Bearer ' + this.token;
    const r = await fetch(this.base + p, { method, headers, body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10000) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }
  async ok(method, p, body) {
    const r = await this.req(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p} -> ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
  async login(login, password) {
    const r = await this.ok('POST', '/session', { login, password });
    this.token = r.token;
    return this;
  }
}

// The path of an event's QR link now (the token rotates every 45 s).
export async function checkinPath(coord, eventId) {
  const ev = await coord.ok('GET', `/events/${eventId}`);
  return '/checkin/' + ev.checkin_url.split('/checkin/')[1];
}

let seq = 0;
// A volunteer who registered through the API (with a password: the login is the phone),
// signed up for eventId when given.
export async function volunteer(stack, name, eventId) {
  seq += 1;
  const phone = `${stack.phone_prefix}${String(process.pid % 1000).padStart(3, '0')}${String(seq).padStart(3, '0')}`;
  const password = 'Vol-pass-' + seq + '-' + stack.tag;
  const anon = new Api(stack.base);
  const v = await anon.ok('POST', '/volunteers', { name, phone, password, org_unit_id: stack.community });
  const api = await new Api(stack.base).login(phone, password);
  if (eventId) await api.ok('POST', `/events/${eventId}/signups`, {});
  return { ...v, phone, password, api };
}
