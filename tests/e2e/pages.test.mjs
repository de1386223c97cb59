// Browser tests of the volunteer's pages (issue 7), in Debian's chromium at 360 px:
// the whole path (QR link, log in, check in, check out, hours on /me) with JavaScript on and
// off, the offline queue (one attendance only), the inline error of /register, a password
// changed from /me, a check-out from /me after the check-in tab is gone, a certificate issued
// and the account closed from /me, and axe on every page.  Each test leaves a screenshot in
// build/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Api, axe, checkinPath, newContext, shot, startBrowser, startStack, volunteer } from './lib.mjs';

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

// The event's roster as the coordinator sees it.
async function roster(eventId) {
  return coord.ok('GET', `/events/${eventId}/attendance`);
}

// Make the just-closed attendance worth 15 minutes (a coordinator's correction, then its
// approval), so that /me has hours to show: a test cannot wait a quarter of an hour.
async function creditQuarter(eventId, volunteerId) {
  const r = await roster(eventId);
  const item = r.items.find((i) => i.volunteer_id === volunteerId);
  const a = item.attendance;
  const out = new Date(a.check_out_at);
  const inAt = new Date(out.getTime() - 15 * 60000).toISOString();
  const fixed = await coord.ok('PATCH', `/attendance/${a.id}`, { check_in_at: inAt, reason: 'e2e: 迟到登记' });
  await coord.ok('POST', `/hours/${fixed.entry.id}/approve`);
}

// Log v in on /me's form (the page then shows v's own /me).
async function logInOnMe(page, v) {
  await page.goto(stack.base + '/me');
  await page.getByLabel('手机号').fill(v.phone);
  await page.getByLabel('密码').fill(v.password);
  await page.getByRole('button', { name: '登录' }).click();
}

// Open the event's QR link, log v in and check in there.
async function checkInFromPoster(page, v, eventId) {
  await page.goto(stack.base + (await checkinPath(coord, eventId)));
  await page.getByLabel('手机号').fill(v.phone);
  await page.getByLabel('密码').fill(v.password);
  await page.getByRole('button', { name: '登录并签到' }).click();
  await page.getByText('已签到，时间').waitFor();
}

async function wholePath(js) {
  const eventId = stack.events[js ? 0 : 1];
  const v = await volunteer(stack, js ? '李志愿' : '王志愿', eventId);
  const ctx = await newContext(browser, { javaScriptEnabled: js });
  const page = await ctx.newPage();
  try {
    await checkInFromPoster(page, v, eventId);
    await page.getByText('签到成功').waitFor();
    await shot(page, `checkin-js-${js ? 'on' : 'off'}`);
    let r = await roster(eventId);
    assert.equal(r.counts.on_post, 1);

    await page.getByRole('button', { name: '签退 / Check out' }).click();
    await page.getByText('已签退，时间').waitFor();
    assert.match(await page.locator('#credited').textContent(), /^\d+\.\d\d$/);
    r = await roster(eventId);
    assert.equal(r.counts.done, 1);

    await creditQuarter(eventId, v.id);
    await page.getByRole('link', { name: '查看我的服务时长' }).click();
    await page.locator('#entries').waitFor();
    assert.equal(await page.locator('#month-approved').textContent(), '0.25');
    assert.equal(await page.locator('#year-approved').textContent(), '0.25');
    assert.match(await page.locator('#entries').textContent(), /交通文明岗/);
    assert.match(await page.locator('#entries').textContent(), /已确认/);
    await shot(page, `me-js-${js ? 'on' : 'off'}`);
  } finally {
    await ctx.close();
  }
}

test('the volunteer path with JavaScript on: QR link, log in, check in, check out, hours on /me', async () => {
  await wholePath(true);
});

test('the volunteer path with JavaScript off: plain forms, POST-redirect-GET', async () => {
  await wholePath(false);
});

test('offline: a check-in is queued, sent when the network returns, and counted once', async () => {
  const eventId = stack.events[2];
  const v = await volunteer(stack, '赵志愿', eventId);
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  try {
    // log in on /me first: the queue keeps no passwords, so it only serves a logged-in form
    await logInOnMe(page, v);
    await page.locator('#me-name').waitFor();
    await page.goto(stack.base + (await checkinPath(coord, eventId)));
    await ctx.setOffline(true);
    await page.getByRole('button', { name: '签到 / Check in' }).click();
    await page.getByText('网络不通：已保存在本机').waitFor();
    const queued = await page.evaluate(() => JSON.parse(localStorage.getItem('vd-queue') || '[]').length);
    assert.equal(queued, 1);
    await shot(page, 'offline-queued');
    assert.equal((await roster(eventId)).counts.on_post, 0);

    await ctx.setOffline(false);
    await page.getByText('已签到，时间').waitFor({ timeout: 20000 });
    await page.getByText('已联网，离线保存的操作已提交').waitFor();
    await shot(page, 'offline-sent');
    const r = await roster(eventId);
    assert.equal(r.counts.on_post, 1);
    const mine = r.items.filter((i) => i.volunteer_id === v.id && i.attendance);
    assert.equal(mine.length, 1);
    assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('vd-queue') || '[]').length), 0);
  } finally {
    await ctx.close();
  }
});

test('a double submission of one form checks in once', async () => {
  const eventId = stack.events[3];
  const v = await volunteer(stack, '钱志愿', eventId);
  const ctx = await newContext(browser, { javaScriptEnabled: false });
  const page = await ctx.newPage();
  try {
    await page.goto(stack.base + (await checkinPath(coord, eventId)));
    const form = page.locator('form');
    const action = await form.getAttribute('action');
    const token = await form.locator('input[name=_t]').inputValue();
    const body = new URLSearchParams({ _t: token, action: 'checkin', phone: v.phone, password: v.password });
    const post = () => page.request.post(stack.base + action, {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: stack.base },
      data: body.toString(), maxRedirects: 0 });
    const [a, b] = [await post(), await post()];
    assert.equal(a.status(), 303);
    assert.equal(b.status(), 303);
    const r = await roster(eventId);
    assert.equal(r.items.filter((i) => i.volunteer_id === v.id && i.attendance).length, 1);
    await page.reload();
    await page.getByText('已签到，时间').waitFor();
    await shot(page, 'double-submit');
  } finally {
    await ctx.close();
  }
});

test('/me: checked in, the tab gone, the volunteer checks out from /me with JavaScript off', async () => {
  const eventId = stack.events[3];
  const v = await volunteer(stack, '陈志愿', eventId);
  // the check-in, from the QR poster's page, in a browser that is then closed (axe looks at
  // /me's on-duty section there: it needs JavaScript)
  let ctx = await newContext(browser);
  let page = await ctx.newPage();
  try {
    await checkInFromPoster(page, v, eventId);
    await page.goto(stack.base + '/me');
    await page.locator('#on-duty').waitFor();
    assert.deepEqual(await axe(page), []);
  } finally {
    await ctx.close();
  }
  ctx = await newContext(browser, { javaScriptEnabled: false });
  page = await ctx.newPage();
  try {
    await logInOnMe(page, v);
    const duty = page.getByRole('region', { name: '正在服务' });
    await duty.waitFor();
    assert.match(await duty.textContent(), /交通文明岗 3/);
    assert.match(await duty.textContent(), /签到时间 \d\d:\d\d/);
    await shot(page, 'me-on-duty');
    await duty.getByRole('button', { name: '签退 / Check out' }).click();
    await page.getByText('已签退，计入').waitFor();
    assert.match(await page.locator('#checked-out').textContent(), /已签退，计入 \d+\.\d\d 小时/);
    assert.match(page.url(), /\/me\?done=out&attendance=\d+$/);
    assert.equal(await page.locator('#on-duty').count(), 0);
    const mine = (await roster(eventId)).items.find((i) => i.volunteer_id === v.id);
    assert.ok(mine.attendance.check_out_at, JSON.stringify(mine));
    await shot(page, 'me-checked-out');
  } finally {
    await ctx.close();
  }
});

test('/me: the password changed from the page, sent once for a double tap', async () => {
  // A double tap (an impatient user on a slow network) could send the form twice: the second
  // met the changed password and was refused (409), after the first had changed it.  Before
  // app.js sent a form once, about one double click in nine did that here, right after the
  // page had loaded; so six rounds, each in a browser just logged in.
  const v = await volunteer(stack, '冯志愿');
  let current = v.password;
  for (let round = 1; round <= 6; round++) {
    const fresh = `Fresh-pass-${round}-${v.password}`;
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    try {
      await logInOnMe(page, { phone: v.phone, password: current });
      await page.getByLabel('当前密码').fill(current);
      await page.getByLabel('新密码').fill(fresh);
      await page.getByRole('button', { name: '修改密码' }).dblclick();
      await page.getByText('密码已修改').waitFor();
      assert.equal(await page.locator('.error').count(), 0, `round ${round}`);
      if (round === 6) await shot(page, 'me-password-changed');
    } finally {
      await ctx.close();
    }
    current = fresh;
  }
  await new Api(stack.base).login(v.phone, current);
  assert.equal((await new Api(stack.base).req('POST', '/session', { login: v.phone, password: v.password })).status, 401);
});

test('/me: a volunteer closes the account; the personal data goes, the hours stay', async () => {
  const v = await volunteer(stack, '郑志愿');
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  try {
    await logInOnMe(page, v);
    await page.locator('#me-name').waitFor();
    await page.locator('#erase summary').click(); // opens the section
    await page.getByLabel('输入密码以确认').fill('wrong-password-1');
    await page.getByLabel('我已知晓此操作不可撤销').check();
    await page.getByRole('button', { name: '删除我的个人信息并注销账号' }).click();
    await page.locator('#e-erase_password').waitFor(); // inline, in the section, open again
    assert.match(await page.locator('#e-erase_password').textContent(), /当前密码不正确/);
    assert.deepEqual(await axe(page), []);
    await shot(page, 'me-erase-wrong-password');

    await page.getByLabel('输入密码以确认').fill(v.password);
    await page.getByLabel('我已知晓此操作不可撤销').check();
    await page.getByRole('button', { name: '删除我的个人信息并注销账号' }).dblclick();
    await page.locator('#erased-no').waitFor();
    const no = await page.locator('#erased-no').textContent();
    assert.match(no, /^V\d+$/);
    assert.equal(await page.locator('.error').count(), 0);
    assert.deepEqual(await axe(page), []);
    await shot(page, 'me-erased');
    const rec = await coord.ok('GET', `/volunteers/${v.id}`);
    assert.equal(rec.status, 'erased');
    assert.equal(rec.name, no);
    assert.equal(rec.phone, null);
    assert.equal((await new Api(stack.base).req('POST', '/session', { login: v.phone, password: v.password })).status, 401);
  } finally {
    await ctx.close();
  }
});

test('/me: a certificate of the service record, issued from the page and printable', async () => {
  const eventId = stack.events[5];
  const v = await volunteer(stack, '孔志愿', eventId);
  const ev = await coord.ok('GET', `/events/${eventId}`);
  await v.api.ok('POST', `/events/${eventId}/check-ins`, { code: ev.checkin_code });
  await v.api.ok('POST', `/events/${eventId}/check-outs`, { code: ev.checkin_code });
  await creditQuarter(eventId, v.id);
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  try {
    await logInOnMe(page, v);
    await page.getByRole('link', { name: '我的服务证明' }).click();
    await page.locator('#no-certs').waitFor();
    assert.deepEqual(await axe(page), []);
    await page.getByRole('button', { name: '开具证明' }).click();
    await page.locator('#cert-number').waitFor();
    assert.match(await page.locator('#cert-number').textContent(), /^VC\d{11,}$/);
    assert.equal(await page.locator('#cert-hours').textContent(), '0.25');
    assert.equal(await page.locator('#cert-name').textContent(), '孔志愿');
    assert.equal(await page.locator('#print').isVisible(), true); // shown by the script
    assert.match(await page.locator('.cert .url').textContent(), new RegExp(page.url().replace(/[?]/g, '\\?')));
    assert.deepEqual(await axe(page), []);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 360, `the certificate fits a 360 px screen (${width} px)`);
    await shot(page, 'certificate');
  } finally {
    await ctx.close();
  }
});

test('/register shows the API\'s validation inline, next to the field', async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  try {
    await page.goto(stack.base + '/register');
    await page.getByLabel('姓名').fill('孙志愿');
    await page.getByLabel('手机号').fill('12345');
    await page.getByLabel('密码', { exact: true }).fill('Long-enough-1');
    await page.getByLabel('所在社区').selectOption(String(stack.community));
    await page.getByRole('button', { name: '注册' }).click();
    const err = page.locator('#e-phone');
    await err.waitFor();
    assert.match(await err.textContent(), /11 位手机号/);
    assert.equal(await page.getByLabel('手机号').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('姓名').inputValue(), '孙志愿');
    assert.equal(await page.locator('#e-name').count(), 0);
    await shot(page, 'register-invalid-phone');

    // then a good number registers, logs in and lands on /me
    await page.getByLabel('手机号').fill(`${stack.phone_prefix}${String(process.pid % 1000).padStart(3, '0')}999`);
    await page.getByLabel('密码', { exact: true }).fill('Long-enough-1');
    await page.getByRole('button', { name: '注册' }).click();
    await page.locator('#me-name').waitFor();
    assert.equal(await page.locator('#me-name').textContent(), '孙志愿');
    await shot(page, 'register-done');
  } finally {
    await ctx.close();
  }
});

test('axe: no serious or critical violation on any volunteer page, in both languages', async () => {
  const eventId = stack.events[4];
  const v = await volunteer(stack, '周志愿', eventId);
  // an ID number entered by staff, so that /me shows its section with the withdrawal form
  await coord.ok('PATCH', `/volunteers/${v.id}`, { id_number: '32010219850612123X' });
  for (const locale of ['zh-CN', 'en']) {
    const ctx = await newContext(browser, { locale });
    const page = await ctx.newPage();
    const found = {};
    const check = async (name) => {
      found[name] = await axe(page);
      await shot(page, `axe-${locale}-${name}`);
    };
    try {
      await page.goto(stack.base + (await checkinPath(coord, eventId)));
      await check('checkin-anonymous');
      await page.goto(stack.base + '/register');
      await check('register');
      // values the browser lets through (required, minlength) but the API refuses
      await page.locator('#f-name').fill('周');
      await page.locator('#f-phone').fill('12345');
      await page.locator('#f-password').fill('Long-enough-1');
      await page.locator('#f-org_unit_id').selectOption(String(stack.community));
      await page.getByRole('button', { name: locale === 'en' ? 'Register' : '注册' }).click();
      await page.locator('#e-phone').waitFor();
      await check('register-errors');
      await page.goto(stack.base + '/me');
      await check('login');
      await page.locator('input[name=phone]').fill(v.phone);
      await page.locator('input[name=password]').fill(v.password);
      await page.locator('form button').click();
      await page.locator('#me-name').waitFor();
      await page.locator('#id-number').waitFor();
      await check('me');
      await page.goto(stack.base + (await checkinPath(coord, eventId)));
      await check('checkin-logged-in');
      if (locale === 'en') assert.match(await page.locator('h1').textContent(), /Event check-in/);
    } finally {
      await ctx.close();
    }
    for (const [name, violations] of Object.entries(found)) {
      assert.deepEqual(violations, [], `${locale} ${name}`);
    }
  }
});

test('/me: sign up for an upcoming event, cancel it, and report an error in an entry', async () => {
  const eventId = stack.events[5];
  const v = await volunteer(stack, '吴志愿', eventId);
  // an entry to report on: check in and out through the API with the event's code
  const ev = await coord.ok('GET', `/events/${eventId}`);
  await v.api.ok('POST', `/events/${eventId}/check-ins`, { code: ev.checkin_code });
  await v.api.ok('POST', `/events/${eventId}/check-outs`, { code: ev.checkin_code });
  const ctx = await newContext(browser, { javaScriptEnabled: false });
  const page = await ctx.newPage();
  try {
    await logInOnMe(page, v);
    const upcoming = page.locator('ul.events li', { hasText: '周五清洁' });
    await upcoming.getByRole('button', { name: '报名' }).click();
    await page.getByText('报名成功').waitFor();
    await page.locator('ul.events li', { hasText: '周五清洁' }).getByRole('button', { name: '取消报名' }).click();
    await page.getByText('已取消报名').waitFor();
    const s = await coord.ok('GET', `/events/${stack.upcoming}`);
    assert.equal(s.confirmed, 0);

    await page.getByText('记录有误？').click();
    await page.getByLabel('哪条记录').selectOption({ index: 0 });
    await page.getByLabel('请说明哪里有误').fill('我 7:30 就到了 <script>alert(1)</script>');
    await page.getByRole('button', { name: '提交更正申请' }).click();
    await page.getByText('更正申请已提交').waitFor();
    assert.match(await page.locator('#requests').textContent(), /<script>alert\(1\)<\/script>/);
    await shot(page, 'me-actions');
  } finally {
    await ctx.close();
  }
});
