// The web-form page: ODK Web Forms renders the project's XForm; drafts and finished
// submissions live on the device (IndexedDB) and are sent when the connection allows.
//
// The page's server-rendered HTML holds the settings in a JSON block (#webform-config):
// where the form, its attachments and the intake are, the form's key on this device and
// the interface's words in the page's language.

import './engine-text.js';
import { createApp, h, reactive } from 'vue';
import { OdkWebForm, webFormsPlugin, POST_SUBMIT__NEW_INSTANCE } from '@getodk/web-forms';
import { drafts, outbox } from './store.js';
import { remove, requeue, sendAll } from './outbox.js';

const cfg = JSON.parse(document.getElementById('webform-config').textContent);
const t = (key, vars = {}) => (cfg.strings[key] || key).replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? '');

const state = reactive({
  items: [], online: navigator.onLine, loginNeeded: false, draftSavedAt: null,
  restoredFrom: null, formXml: null, editInstance: null, key: 0, error: null,
});

// ---- the form's root node, for drafts ------------------------------------------------
// The Vue component does not expose its form state; its header component receives the
// engine's root node as a prop, which a global mixin picks up.
let root = null;
const rootMixin = {
  beforeMount() {
    const form = this.$props && this.$props.form;
    if (form && typeof form.prepareInstancePayload === 'function' && form !== root) {
      root = form;
      useInterfaceLanguage(form);
    }
  },
};

/** The form in the interface's language when it has it ("Kiswahili (sw)" for sw); the
 * engine's own menu still switches between all the form's languages. */
function useInterfaceLanguage(form) {
  const code = (cfg.language || '').toLowerCase();
  if (!code || !Array.isArray(form.languages)) return;
  const match = form.languages.find((l) => !l.isSyntheticDefault && (
    (l.locale && String(l.locale.baseName || l.locale).toLowerCase().split('-')[0] === code)
    || new RegExp(`\\(${code}\\)\\s*$`, 'i').test(l.language)));
  if (match && form.currentState.activeLanguage !== match) form.setLanguage(match);
}


function instanceParts(payload) {
  const data = payload.data[0];
  const parts = [];
  for (const [name, value] of data.entries()) {
    if (value instanceof Blob) parts.push({ name, blob: value, filename: value.name || name });
  }
  return parts;
}

async function xmlOf(parts) {
  const xmlPart = parts.find((p) => p.name === 'xml_submission_file');
  return xmlPart ? xmlPart.blob.text() : '';
}

function metaValue(doc, localName) {
  const found = doc.getElementsByTagNameNS('*', localName);
  return found.length ? found[0].textContent : null;
}


function formVersion(xml) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const inst = doc.getElementsByTagNameNS('*', 'instance')[0];
  const first = inst && inst.firstElementChild;
  return first ? first.getAttribute('version') : null;
}

// ---- drafts ---------------------------------------------------------------------------
let saveTimer = null;
function scheduleDraft() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveDraft, 700);
}

async function saveDraft() {
  if (!root || !state.formXml) return;
  try {
    const payload = await root.prepareInstancePayload({ payloadType: 'monolithic' });
    const parts = instanceParts(payload);
    const instanceXml = await xmlOf(parts);
    if (!instanceXml) return;
    await drafts.put({ formKey: cfg.formKey, formXml: state.formXml, instanceXml,
      attachments: parts.filter((p) => p.name !== 'xml_submission_file'),
      version: formVersion(state.formXml), savedAt: Date.now() });
    state.draftSavedAt = Date.now();
  } catch (err) {
    console.warn('draft not saved', err);
  }
}

// ---- submit ---------------------------------------------------------------------------
async function onSubmit(payload, callback) {
  clearTimeout(saveTimer);
  const parts = instanceParts(payload);
  const xml = await xmlOf(parts);
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const instanceID = metaValue(doc, 'instanceID');
  const item = {
    key: `${cfg.formKey}|${instanceID}`, formKey: cfg.formKey, instanceID,
    title: cfg.title, version: formVersion(state.formXml), mode: cfg.mode, user: cfg.user,
    submitUrl: cfg.submitUrl, state: 'queued', createdAt: Date.now(),
    parts: [{ name: 'xml_submission_file', blob: new Blob([xml], { type: 'text/xml' }),
      filename: 'submission.xml' }, ...parts.filter((p) => p.name !== 'xml_submission_file')],
  };
  await outbox.enqueue(item);
  // the next one starts from the newest form the device has
  state.editInstance = null;
  state.restoredFrom = null;
  state.draftSavedAt = null;
  await refresh();
  callback({ status: 'success', next: POST_SUBMIT__NEW_INSTANCE });
  if (state.formXml !== state.newestXml && state.newestXml) {
    state.formXml = state.newestXml;
    state.key += 1;
  }
  announce(t('queued_one'));
  send();
}

// ---- outbox ---------------------------------------------------------------------------
// what this person sees: their own submissions and those of public links on this device
const mine = (i) => i.mode !== 'member' || i.user === cfg.user;

async function refresh() {
  const all = (await outbox.all()).filter(mine);
  state.items = all.sort((a, b) => b.createdAt - a.createdAt);
}

async function send() {
  if (!navigator.onLine) return;
  const result = await sendAll(cfg, refresh);
  state.loginNeeded = result.loginNeeded;
  await refresh();
}

function announce(text) {
  const live = document.getElementById('webform-live');
  if (live) live.textContent = text;
}

function fmtTime(ms) {
  return new Date(ms).toLocaleString(cfg.language || undefined);
}

const Outbox = {
  setup() {
    return () => {
      const mine = state.items;
      const counts = { queued: 0, sent: 0, refused: 0 };
      for (const i of mine) counts[i.state] += 1;
      const status = state.online ? t('online') : t('offline');
      return h('div', { class: 'outbox' }, [
        h('p', { class: 'outbox-status', 'data-online': String(state.online) }, [
          h('strong', status), ' ',
          t('counts', { queued: counts.queued, sent: counts.sent, refused: counts.refused }),
        ]),
        state.loginNeeded ? h('p', { class: 'flash error', role: 'alert' }, [
          t('login_needed'), ' ', h('a', { href: cfg.loginUrl }, t('login'))]) : null,
        mine.length ? h('ul', { class: 'outbox-list' }, mine.map((i) => h('li', {
          class: `outbox-item outbox-${i.state}`, 'data-instance-id': i.instanceID,
          'data-state': i.state }, [
          h('span', { class: 'outbox-state' }, t(`state_${i.state}`)), ' ',
          h('span', i.title), ' ',
          h('span', { class: 'muted' }, t('version', { version: i.version || '-' })), ' ',
          h('time', fmtTime(i.sentAt || i.refusedAt || i.createdAt)),
          i.duplicate ? h('span', { class: 'muted' }, ` ${t('duplicate')}`) : null,
          i.refusal ? h('p', { class: 'outbox-reason' }, [h('code', i.refusal.code), ' ', i.refusal.message]) : null,
          i.state === 'refused' ? h('button', { type: 'button', class: 'button-secondary',
            onClick: async () => { await requeue(i.key); await refresh(); send(); } },
          t('retry')) : null,
          i.state !== 'queued' ? h('button', { type: 'button', class: 'button-secondary',
            onClick: async () => { await remove(i.key); await refresh(); } },
          t('remove')) : null,
        ]))) : h('p', { class: 'muted' }, t('empty')),
        counts.sent ? h('p', { class: 'muted' }, t('sent_note')) : null,
        h('button', { type: 'button', onClick: send, disabled: !state.online }, t('send_now')),
      ]);
    };
  },
};

const DraftBar = {
  setup() {
    return () => h('p', { class: 'draft-status muted', 'aria-live': 'polite' }, [
      state.restoredFrom ? `${t('draft_restored', { time: fmtTime(state.restoredFrom) })} ` : '',
      state.draftSavedAt ? t('draft_saved', { time: fmtTime(state.draftSavedAt) }) : '',
      state.restoredFrom || state.draftSavedAt ? h('button', { type: 'button',
        class: 'button-secondary', onClick: discardDraft }, t('discard_draft')) : null,
    ]);
  },
};

async function discardDraft() {
  if (!window.confirm(t('discard_confirm'))) return;
  await drafts.delete(cfg.formKey);
  state.editInstance = null;
  state.restoredFrom = null;
  state.draftSavedAt = null;
  if (state.newestXml) state.formXml = state.newestXml;
  state.key += 1;
}

const fetchedAttachments = new Set();

function attachmentUrl(url) {
  const name = decodeURIComponent(String(url).split('/').pop());
  return `${cfg.attachmentsUrl}/${encodeURIComponent(name)}`;
}

const FormHost = {
  setup() {
    return () => {
      if (state.error) return h('p', { class: 'flash error', role: 'alert' }, state.error);
      if (!state.formXml) return h('p', { class: 'muted' }, t('loading'));
      return h(OdkWebForm, {
        key: state.key,
        formXml: state.formXml,
        fetchFormAttachment: (url) => {
          const where = attachmentUrl(url);
          fetchedAttachments.add(where);
          return fetch(where, { credentials: 'same-origin' });
        },
        editInstance: state.editInstance,
        trackDevice: true,
        onSubmit,
      });
    };
  },
};

async function loadForm() {
  let newest = null;
  try {
    const r = await fetch(cfg.formXmlUrl, { credentials: 'same-origin' });
    if (r.ok) newest = await r.text();
  } catch { /* offline and not cached: handled below */ }
  state.newestXml = newest;
  const draft = await drafts.get(cfg.formKey);
  if (draft) {
    // a draft keeps the form version it was started with
    state.formXml = draft.formXml;
    state.restoredFrom = draft.savedAt;
    // the engine's restore mode (see vite.config.js): the draft keeps its instanceID
    const data = new FormData();
    data.append('xml_submission_file', new File([draft.instanceXml], 'xml_submission_file',
      { type: 'text/xml' }));
    for (const a of draft.attachments || []) data.append(a.name, a.blob, a.filename);
    state.editInstance = { restoreData: [data] };
  } else if (newest) {
    state.formXml = newest;
  } else {
    state.error = t('not_offline');
  }
}

let formLoaded = null;

// ---- accessibility of the engine's widgets -----------------------------------------
// PrimeVue's number and date inputs get their own ids, so the question's <label for>
// does not name them, and a repeat's menu button has no name (axe: label, button-name).
let labelSeq = 0;

function nameWidgets(scope) {
  const inputs = scope.querySelectorAll('input:not([type=hidden]):not([type=radio]):not([type=checkbox]):not([type=file])');
  for (const input of inputs) {
    if ((input.labels && input.labels.length) || input.getAttribute('aria-label')
        || input.getAttribute('aria-labelledby')) continue;
    let el = input.parentElement;
    let label = null;
    while (el && el !== scope && !label) {
      label = el.querySelector('label');
      el = el.parentElement;
    }
    if (!label) continue;
    if (!label.id) { labelSeq += 1; label.id = `cd-label-${labelSeq}`; }
    input.setAttribute('aria-labelledby', label.id);
  }
  for (const button of scope.querySelectorAll('button.button-menu:not([aria-label])')) {
    button.setAttribute('aria-label', t('repeat_options'));
  }
}

function watchWidgets(host) {
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; nameWidgets(host); });
  }).observe(host, { childList: true, subtree: true });
}

function start() {
  const host = document.getElementById('webform');
  watchWidgets(host);
  const app = createApp(FormHost);
  app.use(webFormsPlugin);
  app.mixin(rootMixin);
  app.mount(host);
  for (const ev of ['input', 'change', 'click']) host.addEventListener(ev, scheduleDraft, true);
  createApp(Outbox).mount(document.getElementById('outbox'));
  createApp(DraftBar).mount(document.getElementById('draft-status'));
  window.addEventListener('online', () => { state.online = true; send(); });
  window.addEventListener('offline', () => { state.online = false; });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') saveDraft();
  });
  setInterval(send, 30000);
  formLoaded = loadForm();
  formLoaded.then(refresh).then(send);
  if ('serviceWorker' in navigator && cfg.serviceWorkerUrl) {
    navigator.serviceWorker.register(cfg.serviceWorkerUrl, { scope: '/' }).catch((err) => {
      console.warn('service worker not registered', err);
    });
    keepOffline();
  }
}

/** Asks the service worker to keep this page, its form, the form's files and the site's
 * stylesheets, so the page opens offline next time (on the first visit they were fetched
 * before the worker was there). */
async function keepOffline() {
  const registration = await navigator.serviceWorker.ready;
  await formLoaded;
  // the form's own files are fetched while it renders
  for (let i = 0; i < 50 && !document.querySelector('.form-initialization-status.ready, .form-initialization-status.error'); i += 1) {
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }
  const styles = Array.from(document.querySelectorAll('link[rel=stylesheet]'), (l) => new URL(l.href).pathname);
  const urls = [window.location.pathname, cfg.formXmlUrl, ...styles, ...fetchedAttachments];
  const worker = registration.active;
  if (!worker) return;
  const kept = new Promise((resolve) => {
    const onMessage = (event) => {
      if (event.data && event.data.type === 'kept-offline') {
        navigator.serviceWorker.removeEventListener('message', onMessage);
        resolve(event.data.urls);
      }
    };
    navigator.serviceWorker.addEventListener('message', onMessage);
  });
  worker.postMessage({ type: 'keep-offline', urls });
  const done = await kept;
  document.documentElement.dataset.offlineReady = String(done.includes(window.location.pathname));
}

start();
