// Offline reading on the members' tablets (docs/offline.md): registers the service worker
// (static/js/sw.js), drives the "Available offline" button of a meeting page, keeps the stored
// meetings in line with the server at every contact, counts and sends the changes made offline,
// and wipes the device at logout. Loaded on every page of a logged-in user (templates/base.html)
// and on the "no connection" page (templates/offline/fallback.html).
//
// Choices, and why:
// * The service worker does the storing (one place that refuses Tối mật / Tuyệt mật responses);
//   this module only asks it, through a MessageChannel, and shows the progress.
// * Annotations made offline are queued by annotations.js in localStorage
//   ("ecabinet.annotations.<user>.<document>"); its viewer sends them when the network returns.
//   Here they are only counted — and sent for documents whose viewer is not open on this page,
//   entry by entry in the same order, so a change made on the plane goes out at landing even if
//   the member never reopens that document. Each entry carries its own id: sending twice is safe.
// * Positions typed while offline wait in localStorage ("ecabinet.positions.<user>") and are
//   posted, with the page's current CSRF token, when the network returns; the server's answer
//   (its flash messages) is shown as it is.
// * Strings come from data-* attributes rendered by the templates (translations; CSP).

const pending = document.getElementById("offline-pending");
const user = pending ? pending.dataset.userId : "";
const MEETING_PREFIX = "ecab-meeting-";
const META_URL = "/__offline__/meeting.json";
const ANNOTATIONS_KEY = `ecabinet.annotations.${user}.`;
const POSITIONS_KEY = `ecabinet.positions.${user}`;
const SYNC_EVERY_MS = 60000;
const supported = "serviceWorker" in navigator && "caches" in window && window.isSecureContext;

function fmt(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

function cacheName(meetingId) {
  return `${MEETING_PREFIX}${user}-${Number(meetingId)}`;
}

function readJSON(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key) || "null");
    return value ?? fallback;
  } catch (error) {
    return fallback;
  }
}

// --- The service worker ---------------------------------------------------------------------

async function worker() {
  if (!supported) return null;
  const ready = await navigator.serviceWorker.ready;
  return ready.active;
}

/** Ask the service worker; resolves with its final answer. `onProgress` gets the steps. */
async function ask(message, onProgress) {
  const active = await worker();
  if (!active) return { ok: false, unsupported: true };
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => {
      const data = event.data || {};
      if (data.progress && onProgress) onProgress(data.progress);
      if (data.done) {
        channel.port1.close();
        resolve(data);
      }
    };
    active.postMessage(message, [channel.port2]);
  });
}

async function storedMeetings() {
  if (!supported) return [];
  const names = (await caches.keys()).filter((name) => name.startsWith(`${MEETING_PREFIX}${user}-`));
  const metas = [];
  for (const name of names) {
    const cache = await caches.open(name);
    const stored = await cache.match(META_URL);
    let meta = null;
    try {
      meta = stored ? await stored.json() : null;
    } catch (error) {
      meta = null;
    }
    metas.push({ name, meta, meetingId: Number(name.slice(`${MEETING_PREFIX}${user}-`.length)) });
  }
  return metas;
}

/** Another account's copies never stay on a device someone else now uses. */
async function dropOtherUsers() {
  if (!supported || !user) return;
  for (const name of await caches.keys()) {
    if (name.startsWith(MEETING_PREFIX) && !name.startsWith(`${MEETING_PREFIX}${user}-`)) {
      await caches.delete(name);
    }
  }
  for (let i = localStorage.length - 1; i >= 0; i -= 1) {
    const key = localStorage.key(i) || "";
    const other = (key.startsWith("ecabinet.annotations.") && !key.startsWith(ANNOTATIONS_KEY))
      || (key.startsWith("ecabinet.positions.") && key !== POSITIONS_KEY);
    if (other) localStorage.removeItem(key);
  }
}

// --- Keeping stored meetings in line with the server ------------------------------------------

let syncing = null;

/** At every contact: each stored meeting is brought in line with its current list (what is no
 * longer listed — a recalled document — is deleted). `force` ignores the one-minute pause. */
function syncAll(force = false) {
  if (!supported || !user || navigator.onLine === false) return Promise.resolve();
  if (syncing) return syncing;
  syncing = (async () => {
    for (const { name, meta, meetingId } of await storedMeetings()) {
      const last = Date.parse(meta?.synced_at || "") || 0;
      if (!force && Date.now() - last < SYNC_EVERY_MS) continue;
      await ask({ type: "sync", cache: name, listUrl: meta?.list_url || `/meetings/${meetingId}/offline`, force });
    }
    await toggle?.refresh();
  })().finally(() => {
    syncing = null;
  });
  return syncing;
}

async function forgetDocument(documentId) {
  if (!supported) return;
  await ask({ type: "forget-document", documentId: Number(documentId) });
  await toggle?.refresh();
}

// --- The "Available offline" button of a meeting page ----------------------------------------

class OfflineToggle {
  constructor(root) {
    this.root = root;
    this.data = root.dataset;
    this.meetingId = Number(this.data.offlineMeeting);
    this.name = cacheName(this.meetingId);
    this.button = root.querySelector("[data-role=offline-button]");
    this.status = root.querySelector("[data-role=offline-status]");
    this.busy = false;
    if (!supported) {
      this.show(this.data.msgUnsupported);
      return;
    }
    this.button.hidden = false;
    this.button.addEventListener("click", () => this.onClick());
    this.refresh();
  }

  show(text) {
    this.status.textContent = text || "";
  }

  setPressed(on) {
    this.button.setAttribute("aria-pressed", String(on));
    this.root.dataset.state = on ? "stored" : "none";
  }

  async meta() {
    if (!(await caches.has(this.name))) return null;
    const stored = await (await caches.open(this.name)).match(META_URL);
    return stored ? stored.json().catch(() => ({})) : {};
  }

  describe(meta) {
    const parts = [fmt(this.data.msgSaved, {
      n: meta.saved ?? 0, total: meta.documents ?? 0, size: formatSize(meta.bytes || 0, this.data.locale) })];
    if (meta.synced_at) {
      parts.push(fmt(this.data.msgWhen, { when: new Date(meta.synced_at).toLocaleString(this.data.locale, { timeZone: this.data.timezone || undefined }) }));
    }
    if (meta.withheld) parts.push(fmt(this.data.msgWithheld, { n: meta.withheld }));
    if (meta.failed) parts.push(fmt(this.data.msgFailed, { n: meta.failed }));
    return parts.join(" ");
  }

  async refresh() {
    if (!supported || this.busy) return;
    const meta = await this.meta();
    this.setPressed(Boolean(meta));
    this.show(meta ? this.describe(meta) : this.data.msgNotStored);
  }

  async onClick() {
    if (this.busy) return;
    if (this.button.getAttribute("aria-pressed") === "true") {
      this.busy = true;
      await ask({ type: "remove", cache: this.name });
      this.busy = false;
      this.show(this.data.msgRemoved);
      this.setPressed(false);
      return;
    }
    if (navigator.onLine === false) {
      this.show(this.data.msgNeedNetwork);
      return;
    }
    this.busy = true;
    this.button.disabled = true;
    this.root.dataset.state = "saving";
    this.show(this.data.msgSaving);
    const answer = await ask({ type: "store", cache: this.name, listUrl: this.data.listUrl },
      (step) => this.show(fmt(this.data.msgProgress, {
        n: step.done, total: step.total, size: formatSize(step.bytes, this.data.locale) })));
    this.busy = false;
    this.button.disabled = false;
    if (answer.ok) {
      this.setPressed(true);
      this.show(this.describe(answer.meta));
    } else {
      this.setPressed(false);
      this.show(answer.offline ? this.data.msgNeedNetwork : this.data.msgError);
    }
  }
}

function formatSize(bytes, locale) {
  // Kilobytes below a megabyte: a dossier of short PDFs is "180 KB", not "0 MB".
  const mb = bytes / (1024 * 1024);
  if (mb < 1) {
    return `${new Intl.NumberFormat(locale || undefined).format(bytes > 0 ? Math.max(1, Math.round(bytes / 1024)) : 0)} KB`;
  }
  const number = new Intl.NumberFormat(locale || undefined, { maximumFractionDigits: mb < 10 ? 1 : 0 });
  return `${number.format(mb)} MB`;
}

const toggleRoot = document.querySelector("[data-offline-meeting]");
const toggle = toggleRoot && user ? new OfflineToggle(toggleRoot) : null;

// --- Changes waiting to be sent ---------------------------------------------------------------

function annotationKeys() {
  const keys = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i) || "";
    if (user && key.startsWith(ANNOTATIONS_KEY)) keys.push(key);
  }
  return keys;
}

/** Changes made on this device the server has not confirmed: one per annotation touched (as the
 * viewer counts them) and one per meeting whose positions wait. */
function pendingCount() {
  let count = 0;
  for (const key of annotationKeys()) {
    const queue = readJSON(key, []);
    if (Array.isArray(queue)) count += new Set(queue.map((entry) => entry && entry.id)).size;
  }
  const positions = readJSON(POSITIONS_KEY, []);
  return count + (Array.isArray(positions) ? positions.length : 0);
}

function showPending() {
  if (!pending) return;
  const count = pendingCount();
  pending.hidden = count === 0;
  pending.dataset.count = String(count);
  pending.textContent = count === 1 ? pending.dataset.msgOne : fmt(pending.dataset.msgMany, { n: count });
  const form = document.querySelector("form[data-offline-queue]");
  const note = form && form.querySelector("[data-role=positions-pending]");
  if (note) {
    const queued = readJSON(POSITIONS_KEY, []).some((e) => e.url === form.getAttribute("action"));
    note.hidden = !queued;
  }
}

// --- Positions typed offline ----------------------------------------------------------------

function queuePositions(form) {
  const fields = [...new FormData(form).entries()].filter(([key]) => key !== "csrf_token");
  const url = form.getAttribute("action");
  const queue = readJSON(POSITIONS_KEY, []).filter((entry) => entry.url !== url); // the latest wins
  queue.push({ url, fields, at: new Date().toISOString() });
  localStorage.setItem(POSITIONS_KEY, JSON.stringify(queue));
  showPending();
}

function showServerMessages(html) {
  const answer = new DOMParser().parseFromString(html, "text/html");
  const messages = [...answer.querySelectorAll(".flashes .flash")];
  if (!messages.length) return;
  const main = document.getElementById("main");
  if (!main) return;
  let box = main.querySelector(".flashes");
  if (!box) {
    box = document.createElement("div");
    box.className = "flashes";
    main.prepend(box);
  }
  for (const message of messages) {
    const p = document.createElement("p");
    p.className = message.className; // flash flash-<category>, set by the server
    p.setAttribute("role", message.getAttribute("role") || "status");
    p.textContent = message.textContent;
    box.append(p);
  }
}

/** Post the positions that waited; keep them only if the network (or the session) is missing. */
async function sendPositions() {
  const queue = readJSON(POSITIONS_KEY, []);
  if (!queue.length || !pending) return;
  for (const entry of queue) {
    const body = new URLSearchParams(entry.fields);
    body.set("csrf_token", pending.dataset.csrf);
    let response;
    try {
      response = await fetch(entry.url, { method: "POST", body, credentials: "same-origin" });
    } catch (error) {
      return; // still offline: everything stays
    }
    if (new URL(response.url).pathname.startsWith("/login") || response.status === 401) return;
    if (response.status >= 500 || response.status === 429) return;
    // Sent: the server's answer decides (saved, or refused with its reason); either way it is done.
    const rest = readJSON(POSITIONS_KEY, []).filter((e) => !(e.url === entry.url && e.at === entry.at));
    localStorage.setItem(POSITIONS_KEY, JSON.stringify(rest));
    showServerMessages(await response.text());
    showPending();
  }
}

// --- Annotations of documents not open here --------------------------------------------------

function openDocumentIds() {
  return new Set([...document.querySelectorAll("[data-annotations][data-document-id]")]
    .map((node) => String(node.dataset.documentId)));
}

async function sendAnnotationQueue(key) {
  for (;;) {
    const queue = readJSON(key, []);
    if (!Array.isArray(queue) || !queue.length) return true;
    const entry = queue[0];
    let response;
    try {
      response = await fetch(entry.url, {
        method: entry.method, credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": pending.dataset.csrf },
        body: entry.body === undefined ? undefined : JSON.stringify(entry.body),
      });
    } catch (error) {
      return false;
    }
    const type = response.headers.get("Content-Type") || "";
    if (response.status === 401 || !type.includes("json") || response.status >= 500
        || response.status === 408 || response.status === 429) return false;
    const json = await response.json().catch(() => null);
    if (json?.error?.code === "csrf_failed") return false;
    // Saved, or refused for good (4xx): either way this entry is done, as in the viewer.
    const now = readJSON(key, []);
    if (now.length && JSON.stringify(now[0]) === JSON.stringify(entry)) now.shift();
    if (now.length) localStorage.setItem(key, JSON.stringify(now));
    else localStorage.removeItem(key);
    showPending();
  }
}

let flushing = null;

function flushAll() {
  if (!pending || navigator.onLine === false) return Promise.resolve();
  if (flushing) return flushing;
  flushing = (async () => {
    await sendPositions();
    const open = openDocumentIds();
    for (const key of annotationKeys()) {
      if (open.has(key.slice(ANNOTATIONS_KEY.length))) continue; // its viewer sends it
      if (!(await sendAnnotationQueue(key))) break;
    }
  })().finally(() => {
    flushing = null;
    showPending();
  });
  return flushing;
}

// --- Logout wipes the device -------------------------------------------------------------------

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms))]);
}

async function wipeDevice() {
  if (supported) {
    await withTimeout(ask({ type: "wipe" }), 3000);
    for (const name of await caches.keys()) {
      if (name.startsWith("ecab-")) await caches.delete(name);
    }
  }
  for (let i = localStorage.length - 1; i >= 0; i -= 1) {
    const key = localStorage.key(i) || "";
    if (key.startsWith("ecabinet.")) localStorage.removeItem(key);
  }
}

function watchLogout() {
  const form = document.querySelector("form[data-offline-logout]");
  if (!form || !pending) return;
  form.addEventListener("submit", async (event) => {
    if (form.dataset.reachable === "yes") { // the server answered: the ordinary form post
      delete form.dataset.reachable;
      return;
    }
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    await withTimeout(flushAll(), 8000);
    const left = pendingCount();
    if (left && !window.confirm(fmt(pending.dataset.msgLogout, { n: left }))) {
      if (button) button.disabled = false;
      form.dispatchEvent(new CustomEvent("cabinet:logout-cancelled", { bubbles: true }));
      return;
    }
    await wipeDevice();
    form.submit(); // the server answers with Clear-Site-Data as well
  });
}

// --- The positions form ---------------------------------------------------------------------

function watchPositions() {
  const form = document.querySelector("form[data-offline-queue]");
  if (!form || !pending) return;
  const note = document.createElement("p");
  note.className = "flash flash-info offline-queued";
  note.dataset.role = "positions-pending";
  note.setAttribute("role", "status");
  note.textContent = form.dataset.msgQueued;
  note.hidden = true;
  form.append(note);
  form.addEventListener("submit", async (event) => {
    if (form.dataset.reachable === "yes") { // the server answered: the ordinary form post
      delete form.dataset.reachable;
      return;
    }
    event.preventDefault();
    // The tablet may say it is online on a Wi-Fi that reaches nothing: a post that fails would
    // leave the member on the browser's error page, their positions gone. Ask the server first.
    const button = event.submitter instanceof HTMLButtonElement ? event.submitter : null;
    if (button) button.disabled = true;
    const reachable = navigator.onLine !== false && await serverReachable();
    if (button) button.disabled = false;
    if (reachable) {
      form.dataset.reachable = "yes";
      form.requestSubmit(button || undefined);
    } else {
      queuePositions(form);
    }
  });
}

/** Whether the server answers now: its liveness probe, within a few seconds, never from a store. */
async function serverReachable(ms = 4000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    const response = await fetch("/healthz", { cache: "no-store", signal: controller.signal });
    return response.ok;
  } catch (error) {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// --- The "no connection" page ----------------------------------------------------------------

async function listStoredMeetings() {
  const box = document.querySelector("[data-offline-stored]");
  if (!box || !supported) return;
  const list = box.querySelector("[data-role=stored-list]");
  const names = (await caches.keys()).filter((name) => name.startsWith(MEETING_PREFIX));
  for (const name of names) {
    const stored = await (await caches.open(name)).match(META_URL);
    const meta = stored ? await stored.json().catch(() => null) : null;
    if (!meta || !meta.meeting_id) continue;
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/meetings/${Number(meta.meeting_id)}`;
    link.textContent = meta.title || link.href;
    item.append(link, ` · ${fmt(box.dataset.msgDocuments, { n: meta.saved ?? 0 })}`);
    list.append(item);
    box.hidden = false;
  }
}

// --- Start ----------------------------------------------------------------------------------

function onContact(force) {
  flushAll().then(() => syncAll(force));
}

function watchSocket(socket) {
  if (!socket) return;
  socket.on("document.recalled", (event) => forgetDocument(event && event.document_id));
  let first = !socket.connected;
  socket.on("connect", () => {
    if (!first) onContact(true); // back after a break: what changed meanwhile was missed
    first = false;
  });
}

if (supported && user) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" })
    .catch((error) => console.warn("offline: no service worker", error));
}
listStoredMeetings();
if (pending) {
  dropOtherUsers().then(() => onContact(false));
  showPending();
  watchPositions();
  watchLogout();
  window.addEventListener("online", () => onContact(true));
  window.addEventListener("storage", (event) => {
    if (!event.key || event.key.startsWith("ecabinet.")) showPending();
  });
  document.addEventListener("cabinet:pending", showPending);
  if (window.cabinet?.socket) watchSocket(window.cabinet.socket);
  else document.addEventListener("cabinet:socket", (event) => watchSocket(event.detail));
}

export { pendingCount, syncAll };
