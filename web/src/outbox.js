// Sending the outbox: each finished submission goes once the connection allows, through
// the server's intake (the same as ODK Collect's), with its own instanceID. A resend of
// something the server already has is answered "duplicate" and changes nothing there.

import { outbox } from './store.js';

let running = null;

class LoginNeeded extends Error {}

/** Who is logged in now, and the session's CSRF token. */
async function session(meUrl) {
  const r = await fetch(meUrl, { credentials: 'same-origin', cache: 'no-store',
    headers: { Accept: 'application/json' } });
  if (r.status === 401 || r.status === 403) throw new LoginNeeded();
  if (!r.ok) throw new Error(`status ${r.status}`);
  const me = await r.json();
  return { user: me.user.username, token: me.csrf_token };
}

/** What a sent submission keeps on the device: not its answers. */
function forget(item) {
  return { ...item, parts: [] };
}

function body(item) {
  const data = new FormData();
  for (const part of item.parts) data.append(part.name, part.blob, part.filename);
  return data;
}

async function reason(response) {
  try {
    const err = (await response.json()).error;
    return { code: err.code, message: [err.title, err.message].filter(Boolean).join(': ') };
  } catch {
    return { code: `http.${response.status}`, message: `HTTP ${response.status}` };
  }
}

/** Sends one queued item; answers the item's new state. */
async function sendOne(item, token) {
  const headers = { Accept: 'application/json' };
  if (item.mode === 'member') headers['X-CSRF-Token'] = token;
  let response;
  try {
    response = await fetch(item.submitUrl, { method: 'POST', body: body(item), headers,
      credentials: 'same-origin', cache: 'no-store' });
  } catch {
    return { ...item, lastTry: Date.now() };  // offline or the server unreachable: try later
  }
  if (response.status === 201 || response.status === 202) {
    return forget({ ...item, state: 'sent', duplicate: response.status === 202, sentAt: Date.now() });
  }
  if (response.status === 401) throw new LoginNeeded();
  if (response.status === 408 || response.status === 429 || response.status >= 500) {
    return { ...item, lastTry: Date.now(), retryAfter: Number(response.headers.get('Retry-After')) || null };
  }
  return { ...item, state: 'refused', refusal: await reason(response), refusedAt: Date.now() };
}

async function run(cfg, onChange) {
  let queued = (await outbox.all()).filter((i) => i.state === 'queued');
  if (!queued.length) return { loginNeeded: false };
  let token = null;
  try {
    if (queued.some((i) => i.mode === 'member')) {
      const me = await session(cfg.meUrl);
      token = me.token;
      // a member's submissions go only with their own session (a shared phone)
      queued = queued.filter((i) => i.mode !== 'member' || i.user === me.user);
    }
  } catch (err) {
    if (err instanceof LoginNeeded) return { loginNeeded: true };
    return { loginNeeded: false };  // offline
  }
  for (const item of queued.sort((a, b) => a.createdAt - b.createdAt)) {
    let next;
    try {
      next = await sendOne(item, token);
    } catch (err) {
      if (err instanceof LoginNeeded) return { loginNeeded: true };
      throw err;
    }
    await outbox.put(next);
    onChange();
    if (next.state === 'queued') break;  // the connection went: keep the order, try later
  }
  return { loginNeeded: false };
}

/** Sends everything queued (one run at a time). */
export function sendAll(cfg, onChange) {
  if (!running) running = run(cfg, onChange).finally(() => { running = null; });
  return running;
}

/** Queues a refused submission again (after the reason was dealt with on the server). */
export async function requeue(key) {
  const item = await outbox.get(key);
  if (item && item.parts.length) await outbox.put({ ...item, state: 'queued', refusal: null });
}

/** Removes a record from this device (a sent one, or a refused one given up). */
export async function remove(key) {
  await outbox.delete(key);
}
