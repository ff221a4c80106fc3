// e-Cabinet service worker: served at /sw.js (cabinet/offline/routes.py) so that its scope is the
// whole site. It does two things only:
//
// 1. Keeps the app shell (styles, scripts, the "no connection" page) so that stored pages open.
// 2. Stores, per meeting, what the page asks for when a member makes the meeting "available
//    offline" — exactly the URLs /meetings/<id>/offline lists, nothing else — and serves those
//    copies when the network is down.
//
// Rules, and why:
// * Network first, always: online, the member sees the server's current answer (a recalled
//   document answers 403 and its stored copy is deleted on the spot). Copies are only a fallback.
// * Nothing is stored unless it was explicitly stored by "available offline" (or is the shell).
//   A response marked `X-Cabinet-Offline: never` (Tối mật, Tuyệt mật) is never stored, even if
//   a list or a page asks for it.
// * One cache per user and meeting ("ecab-meeting-<user>-<meeting>"), so a meeting can be removed
//   whole and another user's copies can be deleted at login; logout deletes all of them.

const SHELL = "ecab-shell-v1";
const SHELL_URLS = [
  "/offline",
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/js/offline.js",
  "/static/vendor/socket.io/socket.io.min.js",
  "/static/img/emblem.svg",
  "/static/img/icon-192.png",
];
const PREFIX = "ecab-";
const MEETING_PREFIX = "ecab-meeting-";
const META_URL = "/__offline__/meeting.json"; // a synthetic entry in each meeting cache
const NEVER_HEADER = "X-Cabinet-Offline";
const GONE = new Set([401, 403, 404, 410]);

self.addEventListener("install", (event) => {
  // Each file on its own: one missing file must not prevent the worker from installing.
  event.waitUntil(caches.open(SHELL).then((cache) => Promise.all(
    SHELL_URLS.map((url) => cache.add(new Request(url, { credentials: "same-origin" })).catch(() => null)),
  )).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("ecab-shell-") && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// --- Serving ----------------------------------------------------------------------------------

function storable(response) {
  return Boolean(response && response.ok && !response.redirected && response.type === "basic"
    && response.headers.get(NEVER_HEADER) !== "never");
}

/** The caches holding `request` (meeting caches first), as [name, cache] pairs. */
async function holders(request) {
  const found = [];
  for (const name of await caches.keys()) {
    if (!name.startsWith(PREFIX)) continue;
    const cache = await caches.open(name);
    if (await cache.match(request, { ignoreVary: true })) found.push([name, cache]);
  }
  return found;
}

/** Online: keep the stored copies fresh, and drop those the server now refuses (recall). */
async function refresh(request, response) {
  const copy = storable(response) ? response.clone() : null;
  for (const [name, cache] of await holders(request)) {
    if (copy && (name === SHELL || name.startsWith(MEETING_PREFIX))) {
      await cache.put(request, copy.clone());
    } else if (GONE.has(response.status) || response.headers.get(NEVER_HEADER) === "never") {
      await cache.delete(request, { ignoreVary: true });
    }
  }
}

async function fromStore(request) {
  const copy = await caches.match(request, { ignoreVary: true });
  if (copy) return copy;
  if (request.mode === "navigate") {
    const page = await caches.match("/offline", { cacheName: SHELL });
    if (page) return page;
  }
  return Response.error();
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return; // writes go to the network (the pages queue them)
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/socket.io/")
      || url.pathname === "/sw.js" || request.headers.has("range")) return;
  event.respondWith((async () => {
    let response;
    try {
      response = await fetch(request);
    } catch (error) {
      return fromStore(request);
    }
    event.waitUntil(refresh(request, response).catch(() => null));
    return response;
  })());
});

// --- Storing a meeting -------------------------------------------------------------------------

async function readMeta(cache) {
  const stored = await cache.match(META_URL);
  if (!stored) return null;
  try {
    return await stored.json();
  } catch (error) {
    return null;
  }
}

function writeMeta(cache, meta) {
  return cache.put(META_URL, new Response(JSON.stringify(meta), {
    headers: { "Content-Type": "application/json" },
  }));
}

/** Fetch what is to be stored. The header tells the server the member is not reading it now:
 * the audit trail says "stored on a device", and the document is not marked read. */
async function fetchForStore(url) {
  return fetch(url, { credentials: "same-origin", cache: "no-store",
                      headers: { Accept: "*/*", "X-Cabinet-Purpose": "offline" } });
}

/** Bring the cache `name` in line with the server's list at `listUrl`: store what is missing or
 * out of date, delete what is no longer listed. A meeting the member may no longer see (403, 404)
 * is deleted whole. `progress` is called with {done, total, bytes} as documents are stored. */
async function syncMeeting(name, listUrl, progress, { refreshPages = true } = {}) {
  let answer;
  try {
    answer = await fetch(listUrl, { credentials: "same-origin", cache: "no-store",
      headers: { Accept: "application/json" } });
  } catch (error) {
    return { ok: false, offline: true };
  }
  if (answer.status === 403 || answer.status === 404) {
    await caches.delete(name);
    return { ok: false, removed: true, status: answer.status };
  }
  if (!answer.ok || answer.redirected || !(answer.headers.get("Content-Type") || "").includes("json")) {
    return { ok: false, status: answer.status };
  }
  const list = await answer.json();
  const cache = await caches.open(name);
  const before = (await readMeta(cache)) || { tags: {}, sizes: {} };
  const meta = {
    meeting_id: list.meeting_id, title: list.title, list_url: listUrl, cache: name,
    documents: list.documents.length, withheld: list.withheld.length, tags: {}, sizes: {},
    document_urls: {}, stored_at: before.stored_at || new Date().toISOString(), synced_at: "",
  };
  const wanted = new Set(list.entries.map((e) => new URL(e.url, self.location.origin).href));
  wanted.add(new URL(META_URL, self.location.origin).href);
  for (const request of await cache.keys()) {
    if (!wanted.has(request.url)) await cache.delete(request);
  }
  const contents = list.entries.filter((e) => e.kind === "content");
  let done = 0;
  let failed = 0;
  const report = () => progress && progress({
    done, total: contents.length, bytes: Object.values(meta.sizes).reduce((a, b) => a + b, 0) });
  report();
  for (const entry of list.entries) {
    const have = await cache.match(entry.url);
    const fresh = have && before.tags[entry.url] === entry.tag;
    const skip = fresh && (entry.kind === "content" || entry.kind === "asset" || !refreshPages);
    if (entry.document_id) {
      (meta.document_urls[entry.document_id] ||= []).push(entry.url);
    }
    if (skip) {
      meta.tags[entry.url] = entry.tag;
      if (entry.kind === "content") meta.sizes[entry.url] = before.sizes[entry.url] || 0;
    } else {
      let response = null;
      try {
        response = await fetchForStore(entry.url);
      } catch (error) {
        response = null;
      }
      if (storable(response)) {
        const body = await response.blob();
        await cache.put(entry.url, new Response(body, {
          status: response.status, statusText: response.statusText, headers: response.headers }));
        meta.tags[entry.url] = entry.tag;
        if (entry.kind === "content") meta.sizes[entry.url] = body.size;
      } else {
        // Refused now (recalled meanwhile, never to be stored): no stale copy stays behind.
        if (response && (GONE.has(response.status) || response.headers.get(NEVER_HEADER) === "never")) {
          await cache.delete(entry.url);
        } else if (have) {
          meta.tags[entry.url] = before.tags[entry.url];
          if (entry.kind === "content") meta.sizes[entry.url] = before.sizes[entry.url] || 0;
          if (entry.kind === "content") { done += 1; report(); }
          continue;
        }
        if (entry.kind === "content") failed += 1;
        continue;
      }
    }
    if (entry.kind === "content") {
      done += 1;
      report();
    }
  }
  meta.saved = done;
  meta.failed = failed;
  meta.bytes = Object.values(meta.sizes).reduce((a, b) => a + b, 0);
  meta.synced_at = new Date().toISOString();
  await writeMeta(cache, meta);
  return { ok: true, meta };
}

/** Delete every stored copy of one document (recalled): its page, its PDF, its annotations. */
async function forgetDocument(documentId) {
  const id = Number(documentId);
  if (!id) return 0;
  const pattern = new RegExp(`^/documents/${id}(/|$)`);
  let removed = 0;
  for (const name of await caches.keys()) {
    if (!name.startsWith(MEETING_PREFIX)) continue;
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      if (pattern.test(new URL(request.url).pathname)) {
        await cache.delete(request);
        removed += 1;
      }
    }
    const meta = await readMeta(cache);
    if (meta && meta.document_urls && meta.document_urls[id]) {
      for (const url of meta.document_urls[id]) delete meta.sizes[url];
      delete meta.document_urls[id];
      meta.documents = Object.keys(meta.document_urls).length;
      meta.saved = Math.min(meta.saved || 0, meta.documents);
      meta.bytes = Object.values(meta.sizes).reduce((a, b) => a + b, 0);
      await writeMeta(cache, meta);
    }
  }
  return removed;
}

async function wipe() {
  for (const name of await caches.keys()) {
    if (name.startsWith(PREFIX)) await caches.delete(name);
  }
}

self.addEventListener("message", (event) => {
  const message = event.data || {};
  const port = event.ports && event.ports[0];
  const reply = (body) => port && port.postMessage(body);
  const name = String(message.cache || "");
  if (message.cache !== undefined && !name.startsWith(MEETING_PREFIX)) {
    reply({ done: true, ok: false, error: "bad cache name" });
    return;
  }
  let work;
  if (message.type === "store" || message.type === "sync") {
    const listUrl = String(message.listUrl || "");
    if (!/^\/meetings\/\d+\/offline$/.test(listUrl)) { // only ever this site's own lists
      reply({ done: true, ok: false, error: "bad list URL" });
      return;
    }
    work = syncMeeting(name, listUrl,
      (state) => reply({ progress: state }),
      { refreshPages: message.type === "store" || Boolean(message.force) });
  } else if (message.type === "remove") {
    work = caches.delete(name).then(() => ({ ok: true }));
  } else if (message.type === "forget-document") {
    work = forgetDocument(message.documentId).then((removed) => ({ ok: true, removed }));
  } else if (message.type === "wipe") {
    work = wipe().then(() => ({ ok: true }));
  } else {
    reply({ done: true, ok: false, error: "unknown message" });
    return;
  }
  event.waitUntil(work.then((result) => reply({ done: true, ...result }),
    (error) => reply({ done: true, ok: false, error: String(error) })));
});
