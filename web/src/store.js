// The device's own store (IndexedDB): drafts and the outbox survive closing the browser.
// Two object stores: `drafts` (one per form page, keyed by the page's form key) and
// `outbox` (one record per finished submission, keyed by form key and instanceID).

const DB_NAME = 'citizendata-webforms';
const DB_VERSION = 1;

let opened = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export function openDb() {
  if (opened) return opened;
  opened = new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('drafts')) db.createObjectStore('drafts', { keyPath: 'formKey' });
      if (!db.objectStoreNames.contains('outbox')) {
        const outbox = db.createObjectStore('outbox', { keyPath: 'key' });
        outbox.createIndex('formKey', 'formKey');
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return opened;
}

async function tx(store, mode, fn) {
  const db = await openDb();
  const t = db.transaction(store, mode);
  const result = fn(t.objectStore(store));
  await new Promise((resolve, reject) => {
    t.oncomplete = resolve;
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
  return result instanceof IDBRequest ? result.result : result;
}

export const drafts = {
  get: (formKey) => tx('drafts', 'readonly', (s) => s.get(formKey)),
  put: (draft) => tx('drafts', 'readwrite', (s) => s.put(draft)),
  delete: (formKey) => tx('drafts', 'readwrite', (s) => s.delete(formKey)),
};

export const outbox = {
  all: () => tx('outbox', 'readonly', (s) => s.getAll()),
  get: (key) => tx('outbox', 'readonly', (s) => s.get(key)),
  put: (item) => tx('outbox', 'readwrite', (s) => s.put(item)),
  delete: (key) => tx('outbox', 'readwrite', (s) => s.delete(key)),
  /** Moves a finished submission to the outbox and drops the draft, in one transaction. */
  async enqueue(item) {
    const db = await openDb();
    const t = db.transaction(['outbox', 'drafts'], 'readwrite');
    t.objectStore('outbox').put(item);
    t.objectStore('drafts').delete(item.formKey);
    await new Promise((resolve, reject) => {
      t.oncomplete = resolve;
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  },
};

export { request };
