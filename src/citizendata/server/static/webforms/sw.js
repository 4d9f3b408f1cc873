// citizendata's service worker for web forms. Served at /webforms-sw.js (scope "/") with
// ?v=<build> so that a new build replaces it.
//
// - the form engine's files (/static/webforms/*, immutable, named by content hash) and the
//   site's stylesheet: cache first, all cached at install from the build's manifest;
// - a form page, its XForm and attachments, the collector's form list and the site's own
//   stylesheets and scripts: network first,
//   the cached copy when the network fails, so a form opened once opens offline and a
//   newer form version reaches the device whenever it is online;
// - nothing else is touched: every other request goes to the network as usual.
// Cached copies are matched whatever their Vary (Cookie, Accept-Language): one copy per
// URL, the last one fetched online.

const VERSION = new URL(self.location.href).searchParams.get('v') || 'dev';
const ENGINE = `citizendata-engine-${VERSION}`;
const PAGES = 'citizendata-pages-v1';

const NETWORK_FIRST = [
  /^\/projects\/[^/]+\/forms\/[^/]+\/fill$/,
  /^\/projects\/[^/]+\/forms\/[^/]+\/fill\/form\.xml$/,
  /^\/projects\/[^/]+\/forms\/[^/]+\/fill\/attachments\/[^/]+$/,
  /^\/projects\/[^/]+\/collect$/,
  /^\/f\/[^/]+$/,
  /^\/f\/[^/]+\/form\.xml$/,
  /^\/f\/[^/]+\/attachments\/[^/]+$/,
  /^\/static\/[^/]+\.(css|js)$/,
];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(ENGINE);
    const manifest = await (await fetch('/static/webforms/manifest.json', { cache: 'no-store' })).json();
    const files = new Set();
    for (const entry of Object.values(manifest)) {
      files.add(`/static/webforms/${entry.file}`);
      for (const css of entry.css || []) files.add(`/static/webforms/${css}`);
    }
    await cache.addAll([...files]);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('citizendata-engine-') && name !== ENGINE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function cacheFirst(request) {
  const hit = await caches.match(request, { ignoreSearch: true, ignoreVary: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) (await caches.open(ENGINE)).put(request, response.clone());
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(PAGES);
  try {
    const response = await fetch(request);
    // only a real answer replaces the copy (not a log-in redirect or an error page)
    if (response.ok && !response.redirected) await cache.put(request, response.clone());
    return response;
  } catch (err) {
    const hit = await cache.match(request, { ignoreSearch: true, ignoreVary: true });
    if (hit) return hit;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/static/webforms/')) {
    event.respondWith(cacheFirst(request));
  } else if (NETWORK_FIRST.some((re) => re.test(url.pathname))) {
    event.respondWith(networkFirst(request));
  }
});

// the collector's form list asks for a form to be kept on the device
self.addEventListener('message', (event) => {
  const data = event.data || {};
  if (data.type !== 'keep-offline' || !Array.isArray(data.urls)) return;
  event.waitUntil((async () => {
    const cache = await caches.open(PAGES);
    const done = [];
    for (const u of data.urls) {
      const url = new URL(u, self.location.origin);
      if (url.origin !== self.location.origin || !NETWORK_FIRST.some((re) => re.test(url.pathname))) continue;
      try {
        const response = await fetch(url, { credentials: 'same-origin' });
        if (response.ok && !response.redirected) { await cache.put(url, response); done.push(url.pathname); }
      } catch { /* offline: stays as it was */ }
    }
    if (event.source) event.source.postMessage({ type: 'kept-offline', urls: done });
  })());
});
