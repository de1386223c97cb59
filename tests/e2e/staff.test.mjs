// Browser tests of the staff pages (issue 7), in Debian's chromium at 360 px: a coordinator's
// roster check-in and check-out, a walk-in found by phone, bulk approval, the QR poster (its refresh included, also
// without JavaScript), an admin's report with its charts and the XLSX download, and axe on
// /console, the roster, the poster and /admin.  Each test leaves a screenshot in build/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Api, axe, newContext, shot, startBrowser, startStack, volunteer } from './lib.mjs';

let stack;
let browser;
let coord;

before(async () => {
  stack = await startStack();
  browser = await startBrowser();
  coord = await new Api(stack.base).login(stack.coordinator.login, stack.coordinator.password);
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

// Open a staff page: /console sends an anonymous visitor to the log-in form of /me, which
// comes back to the page after logging in.
async function staffPage({ login, password }, path, opts) {
  const ctx = await newContext(browser, opts);
  const page = await ctx.newPage();
  await page.goto(stack.base + path);
  await page.locator('#f-phone').fill(login);
  await page.locator('#f-password').fill(password);
  await page.locator('main form button[type=submit]').click();
  await page.waitForURL((u) => u.pathname === path.split('?')[0]);
  return { ctx, page };
}

test('a coordinator checks a volunteer in and out from the roster', async () => {
  const eventId = stack.events[0];
  const v = await volunteer(stack, '吴志愿', eventId);
  const { ctx, page } = await staffPage(stack.coordinator, '/console');
  try {
    await page.locator(`li[data-event="${eventId}"]`).getByRole('link', { name: '花名册' }).click();
    await page.locator('#roster').waitFor();
    assert.equal(await page.locator('#n-on_post').textContent(), '0');
    await page.getByRole('button', { name: '签到 吴志愿' }).click();
    await page.getByText('已为志愿者签到。').waitFor();
    assert.equal(await page.locator('#n-on_post').textContent(), '1');
    let r = await coord.ok('GET', `/events/${eventId}/attendance`);
    assert.equal(r.items.find((i) => i.volunteer_id === v.id).state, 'on_post');
    assert.deepEqual(await axe(page), []);
    await shot(page, 'console-roster-checked-in');

    await page.getByRole('button', { name: '签退 吴志愿' }).click();
    await page.getByText('已为志愿者签退。').waitFor();
    r = await coord.ok('GET', `/events/${eventId}/attendance`);
    const mine = r.items.find((i) => i.volunteer_id === v.id);
    assert.equal(mine.state, 'done');
    assert.equal(r.items.filter((i) => i.volunteer_id === v.id).length, 1);
    await shot(page, 'console-roster-checked-out');
  } finally {
    await ctx.close();
  }
});

test('a coordinator checks in a walk-in found by phone from the roster', async () => {
  const eventId = stack.events[0];
  const v = await volunteer(stack, '郑临时'); // registered, not signed up
  const { ctx, page } = await staffPage(stack.coordinator, '/console');
  try {
    await page.locator(`li[data-event="${eventId}"]`).getByRole('link', { name: '花名册' }).click();
    await page.getByLabel('手机号、志愿者编号或身份证号').fill('13900000000');
    await page.locator('#walkin button[type=submit]').click();
    await page.locator('#e-who').waitFor();
    assert.match(await page.locator('#e-who').textContent(), /^没有找到使用此手机号、志愿者编号或身份证号的志愿者/);
    assert.equal(await page.getByLabel('手机号、志愿者编号或身份证号').inputValue(), '13900000000');
    assert.deepEqual(await axe(page), []);
    await shot(page, 'console-walkin-unknown');

    await page.getByLabel('手机号、志愿者编号或身份证号').fill(v.phone);
    await page.locator('#walkin button[type=submit]').click();
    await page.getByText('已为志愿者签到。').waitFor();
    await page.getByRole('button', { name: '签退 郑临时' }).waitFor();
    const r = await coord.ok('GET', `/events/${eventId}/attendance`);
    const mine = r.items.find((i) => i.volunteer_id === v.id);
    assert.equal(mine.state, 'on_post');
    assert.deepEqual(mine.attendance.flags, ['walk_in']);
    await shot(page, 'console-walkin-checked-in');
  } finally {
    await ctx.close();
  }
});

test('a coordinator approves pending entries in bulk', async () => {
  const eventId = stack.events[1];
  const now = Date.now();
  const entries = [];
  for (const name of ['郑志愿', '冯志愿']) {
    const v = await volunteer(stack, name, eventId);
    entries.push(await coord.ok('POST', '/hours', {
      volunteer_id: v.id, event_id: eventId, reason: 'e2e: 补录',
      started_at: new Date(now - 15 * 60000).toISOString(), ended_at: new Date(now - 5 * 60000).toISOString() }));
  }
  assert.ok(entries.every((e) => e.status === 'pending'));
  const { ctx, page } = await staffPage(stack.coordinator, '/console');
  try {
    assert.deepEqual(await axe(page), []);
    await shot(page, 'console');
    await page.getByLabel('全选').check(); // console.js ticks every entry
    for (const e of entries) assert.equal(await page.locator(`#c-${e.id}`).isChecked(), true);
    await page.getByRole('button', { name: '批准所选' }).click();
    await page.locator('#approved-n').waitFor();
    assert.ok(Number(await page.locator('#approved-n').textContent()) >= 2);
    for (const e of entries) {
      const h = await coord.ok('GET', `/volunteers/${e.volunteer_id}/hours`);
      assert.equal(h.entries.find((x) => x.id === e.id).status, 'approved');
      assert.equal(await page.locator(`#c-${e.id}`).count(), 0);
    }
    await shot(page, 'console-approved');
  } finally {
    await ctx.close();
  }
});

test('the QR poster: an SVG code, the 6-digit code in large type, refreshed on screen', async () => {
  const eventId = stack.events[2];
  const { ctx, page } = await staffPage(stack.coordinator, '/console');
  try {
    await page.clock.install();
    await page.goto(stack.base + `/console/events/${eventId}/poster`);
    const qr = page.locator('#poster svg.qr');
    await qr.waitFor();
    const box = await qr.boundingBox();
    assert.ok(box.width >= 250, `QR ${box.width}px wide`);
    assert.match(await page.locator('#code').textContent(), /^\d{6}$/);
    const ev = await coord.ok('GET', `/events/${eventId}`);
    assert.match(await page.locator('#poster .url').textContent(), /\/checkin\//);
    // absolute, after the address the page was asked at (no VOLUNTEERD_PUBLIC_URL): a phone opens what it scans
    assert.ok((await page.locator('#poster .url').textContent()).startsWith(stack.base + '/checkin/'));
    assert.ok(ev.checkin_url.includes('/checkin/'));
    assert.deepEqual(await axe(page), []);
    await shot(page, 'console-poster');
    // console.js refetches the poster every 30 s and swaps it in
    await page.evaluate(() => document.getElementById('poster').setAttribute('data-old', '1'));
    await page.clock.fastForward(31000);
    await page.waitForFunction(() => !document.getElementById('poster').hasAttribute('data-old'),
      null, { timeout: 10000 });
    assert.match(await page.locator('#code').textContent(), /^\d{6}$/);
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('header').isVisible(), false);
    await shot(page, 'console-poster-print');
  } finally {
    await ctx.close();
  }
});

test('without JavaScript the rotating-code poster reloads itself when the code turns', async () => {
  const eventId = stack.events[2];
  const { ctx, page } = await staffPage(stack.coordinator, '/console', { javaScriptEnabled: false });
  try {
    await page.goto(stack.base + `/console/events/${eventId}/poster`);
    await page.locator('#poster svg.qr').waitFor();
    assert.match(await page.locator('#code').textContent(), /^\d{6}$/);
    assert.match(await page.locator('#poster-use').textContent(), /一直亮着的屏幕/);
    assert.equal(await page.locator('#print').count(), 0); // not for printing
    // the next 45-second slot starts within 46 s: the browser reloads the page by itself
    const reload = page.waitForRequest((req) => req.isNavigationRequest() && req.url().endsWith('/poster'),
      { timeout: 50000 });
    const first = await page.locator('#poster .url').textContent();
    await reload;
    await page.locator('#poster svg.qr').waitFor();
    assert.notEqual(await page.locator('#poster .url').textContent(), first); // a new slot's token
    assert.match(await page.locator('#code').textContent(), /^\d{6}$/);
    await shot(page, 'console-poster-nojs');
  } finally {
    await ctx.close();
  }
});

test('an admin sees the report with its charts and downloads the XLSX', async () => {
  const { ctx, page } = await staffPage(stack.admin, '/admin');
  try {
    await page.locator('#units').waitFor();
    await page.locator('#chart-trend canvas').waitFor(); // uPlot, served by volunteerd
    assert.equal(await page.locator('#trend tbody tr').count(), 12);
    assert.deepEqual(await axe(page), []);
    await shot(page, 'admin');
    // the drill-down: follow the first area down and come back up
    const first = page.locator('#units tbody th a').first();
    if (await first.count()) {
      await first.click();
      await page.locator('.crumbs a').first().waitFor();
      await shot(page, 'admin-drill-down');
      await page.locator('.crumbs a').first().click();
      await page.locator('#units').waitFor();
    }
    const link = page.getByRole('link', { name: '下载 Excel' });
    const href = await link.getAttribute('href');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename().endsWith('.xlsx'), true, download.suggestedFilename());
    const resp = await page.request.get(stack.base + href); // the same link, with the cookie
    assert.equal(resp.status(), 200);
    assert.equal(resp.headers()['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const file = readFileSync(await download.path());
    assert.ok(file.length > 100);
    assert.equal(file.subarray(0, 4).toString('latin1'), 'PK\x03\x04'); // a zip
    assert.ok(file.includes(Buffer.from('[Content_Types].xml')));
    assert.ok(file.includes(Buffer.from('xl/worksheets/')));
    await shot(page, 'admin-downloaded');
  } finally {
    await ctx.close();
  }
});

test('axe and language: /console and /admin in English', async () => {
  const { ctx, page } = await staffPage(stack.coordinator, '/console', { locale: 'en' });
  try {
    await page.getByRole('heading', { name: 'Coordinator console' }).waitFor();
    assert.deepEqual(await axe(page), []);
    await shot(page, 'console-en');
    await page.goto(stack.base + '/admin');
    await page.locator('#units').waitFor();
    assert.deepEqual(await axe(page), []);
    await shot(page, 'admin-en');
  } finally {
    await ctx.close();
  }
});

test('a team leader sees their team in /admin, with its chart and downloads, and axe is clean', async () => {
  // a coordinator whose only grant is on the team (sql/0019_team_reports.sql)
  const admin = await new Api(stack.base).login(stack.admin.login, stack.admin.password);
  const team = (await admin.ok('GET', `/teams?org_unit_id=${stack.community}`)).items[0];
  const login = `lead-${stack.tag}`;
  const acc = await admin.ok('POST', '/accounts', { login, password: 'Lead-pass-123' });
  await admin.ok('POST', `/accounts/${acc.id}/roles`, { role: 'coordinator', team_id: team.id });
  const { ctx, page } = await staffPage({ login, password: 'Lead-pass-123' }, '/admin');
  try {
    await page.locator('#units').waitFor();
    await page.locator('#chart-trend canvas').waitFor();
    assert.equal(await page.locator('#units tbody tr').count(), 1);
    assert.equal(await page.locator('#units tbody th').textContent(), team.name);
    assert.equal(await page.locator('#trend tbody tr').count(), 12);
    assert.equal(await page.locator('#f-by').count(), 0); // by area would be 403 for them
    assert.deepEqual(await axe(page), []);
    await shot(page, 'admin-team-leader');
    const href = await page.getByRole('link', { name: '下载 Excel' }).getAttribute('href');
    const resp = await page.request.get(stack.base + href);
    assert.equal(resp.status(), 200);
    assert.equal(resp.headers()['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  } finally {
    await ctx.close();
  }
});

test('with JavaScript off, a coordinator corrects a reported check-in and resolves the request', async () => {
  const eventId = stack.events[0];
  const v = await volunteer(stack, '褚更正');
  await coord.ok('POST', `/events/${eventId}/check-ins`, { volunteer_id: v.id });
  const att = await coord.ok('POST', `/events/${eventId}/check-outs`, { volunteer_id: v.id });
  const req = await v.api.ok('POST', '/correction-requests', { entry_id: att.entry.id, message: '我提前到岗了' });
  // axe and the 360 px fit need a page that runs scripts: the console and the entry's page first
  const look = await staffPage(stack.coordinator, '/console');
  try {
    const fits = async (page) => {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `${page.url()} fits a 360 px screen (${width} px)`);
    };
    await look.page.locator(`li[data-request="${req.id}"]`).getByText('我提前到岗了').waitFor();
    assert.deepEqual(await axe(look.page), []);
    await fits(look.page);
    await look.page.goto(stack.base + `/console/entries/${att.entry.id}`);
    await look.page.locator('#correct').waitFor();
    assert.deepEqual(await axe(look.page), []);
    await fits(look.page);
    await shot(look.page, 'console-entry');
  } finally {
    await look.ctx.close();
  }
  const { ctx, page } = await staffPage(stack.coordinator, '/console', { javaScriptEnabled: false });
  try {
    const item = page.locator(`li[data-request="${req.id}"]`);
    await item.getByRole('link', { name: '详情' }).click();
    await page.locator('#correct').waitFor();
    // one minute earlier than the check-in recorded (the form holds local times, UTC+8)
    const shown = await page.locator('#f-check_in').inputValue();
    const earlier = new Date(new Date(shown + ':00+08:00').getTime() - 60000 + 8 * 3600000)
      .toISOString().slice(0, 16);
    await page.locator('#f-check_in').fill(earlier);
    await page.locator('#f-creason').fill('志愿者反映提前到岗');
    await page.locator('#correct').getByRole('button', { name: '提交' }).click();
    await page.getByText('时间已更正，新记录已生成。').waitFor();
    const h = await coord.ok('GET', `/volunteers/${v.id}/hours`);
    const fresh = h.entries.find((e) => e.corrects === att.entry.id);
    assert.ok(fresh && fresh.flags.includes('correction'), JSON.stringify(h.entries));
    assert.equal(h.entries.find((e) => e.id === att.entry.id).status, 'void');

    await page.goto(stack.base + '/console');
    await item.locator('summary').click(); // <details> opens without JavaScript
    await item.getByLabel('已更正记录').check();
    await item.getByLabel('给志愿者的说明').fill('已按您反映的时间更正');
    await item.getByRole('button', { name: '提交' }).click();
    await page.getByText('更正申请已处理').waitFor();
    assert.equal(await page.locator(`li[data-request="${req.id}"]`).count(), 0);
    const mine = await v.api.ok('GET', '/correction-requests');
    const r = mine.items.find((x) => x.id === req.id);
    assert.equal(r.resolution, 'corrected');
    assert.equal(r.resolved_entry_id, fresh.id);
    await shot(page, 'console-request-resolved');
  } finally {
    await ctx.close();
  }
});
