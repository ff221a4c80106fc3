// The notification centre in the top bar: the unread badge, the dropdown of the latest
// notifications (opened from the bell), and live updates from `notification.new` /
// `notification.read` on the shared socket (window.cabinet.socket, opened by app.js).
// Loaded as an ES module on every page of a logged-in user. No inline scripts (CSP); every
// text comes from data-* attributes rendered by the templates (translated there).

const toggle = document.getElementById("notif-toggle");
const panel = document.getElementById("notif-panel");
const menu = document.getElementById("notif-menu");
const badge = document.getElementById("notif-count");
const badgeNumber = document.getElementById("notif-count-n");
const PANEL_SIZE = 8;

// --- the unread badge ----------------------------------------------------------------------------

function showUnread(count) {
  if (!badge || typeof count !== "number") return;
  badgeNumber.textContent = String(count);
  badge.hidden = count <= 0;
}

function refreshUnread() {
  fetch("/notifications/unread-count", { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : null))
    .then((body) => body && showUnread(body.unread))
    .catch(() => {});
}

// --- marking read on the way to the page a notification points to ---------------------------------

function markReadOnTheWay(id) {
  if (!panel || !id) return;
  const form = new FormData();
  form.append("csrf_token", panel.dataset.csrf);
  navigator.sendBeacon(`/notifications/${Number(id)}/read`, form);
}

// On the list page an unread link carries data-read-url; in the panel, data-notif-id.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-read-url], a[data-notif-id]");
  if (!link) return;
  if (link.dataset.notifId) {
    markReadOnTheWay(link.dataset.notifId);
    return;
  }
  const list = link.closest("[data-csrf]");
  if (!list) return;
  const form = new FormData();
  form.append("csrf_token", list.dataset.csrf);
  navigator.sendBeacon(link.dataset.readUrl, form);
});

// --- the dropdown panel ------------------------------------------------------------------------------

let loaded = false; // the panel shows the server's latest list (kept current by live events)

function formatTime(iso) {
  try {
    return new Intl.DateTimeFormat(document.documentElement.lang || "vi", {
      timeZone: panel.dataset.tz || undefined, hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit",
    }).format(new Date(iso));
  } catch {
    return "";
  }
}

function itemElement(note) {
  const item = document.createElement("li");
  item.className = "notif-item" + (note.read ? "" : " is-unread");
  const link = document.createElement("a");
  link.href = note.url || "/notifications";
  link.className = "notif-item-title";
  link.textContent = note.title;
  if (!note.read) link.dataset.notifId = String(note.id);
  item.append(link);
  if (note.body) {
    const body = document.createElement("span");
    body.className = "notif-item-body";
    body.textContent = note.body.length > 140 ? `${note.body.slice(0, 139)}…` : note.body;
    item.append(body);
  }
  const meta = document.createElement("small");
  meta.className = "muted";
  const time = document.createElement("time");
  time.dateTime = note.created_at;
  time.textContent = formatTime(note.created_at);
  meta.append(time);
  if (!note.read) {
    const unread = document.createElement("span");
    unread.className = "badge badge-unread";
    unread.textContent = panel.dataset.unread;
    meta.append(" ", unread);
  }
  item.append(meta);
  return item;
}

function setStatus(text) {
  const status = panel.querySelector(".notif-panel-status");
  status.textContent = text;
  status.hidden = !text;
}

function render(notes) {
  const list = panel.querySelector(".notif-panel-list");
  list.replaceChildren(...notes.slice(0, PANEL_SIZE).map(itemElement));
  setStatus(notes.length ? "" : panel.dataset.empty);
}

function load() {
  return fetch(toggle.dataset.latestUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    })
    .then((body) => {
      render(body.notifications);
      showUnread(body.unread);
      loaded = true;
    })
    .catch(() => setStatus(panel.dataset.error));
}

function isOpen() {
  return panel && !panel.hidden;
}

function open() {
  panel.hidden = false;
  toggle.setAttribute("aria-expanded", "true");
  // The heading takes the focus: a screen reader announces the panel, Tab goes on to its links.
  panel.querySelector(".notif-panel-title").focus();
  if (!loaded) load();
}

function close(returnFocus) {
  if (!isOpen()) return;
  panel.hidden = true;
  toggle.setAttribute("aria-expanded", "false");
  if (returnFocus) toggle.focus();
}

if (toggle && panel && menu) {
  toggle.setAttribute("aria-expanded", "false");
  toggle.addEventListener("click", (event) => {
    // A middle click, or Ctrl/Cmd+click, still opens the full list in a new tab.
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (isOpen()) close(true);
    else open();
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isOpen()) {
      event.preventDefault();
      close(true);
    }
  });
  document.addEventListener("click", (event) => {
    if (isOpen() && !menu.contains(event.target)) close(false);
  });
  menu.addEventListener("focusout", (event) => {
    if (isOpen() && event.relatedTarget && !menu.contains(event.relatedTarget)) close(false);
  });
}

// --- the full list page: new notifications appear at its top ----------------------------------------

function showOnListPage(note) {
  const page = document.querySelector("[data-notif-page]");
  if (!page) return;
  let list = page.querySelector("ul[data-live]");
  if (!list) {
    list = document.createElement("ul");
    list.className = "notice-list notif-live";
    list.dataset.live = "";
    page.querySelector(".empty")?.remove();
    page.prepend(list);
  }
  const item = itemElement({ ...note, read: false });
  item.classList.add("notice");
  list.prepend(item);
}

// --- live updates ------------------------------------------------------------------------------------

function watchNotifications(socket) {
  if (!socket) return;
  socket.on("notification.new", (note) => {
    showUnread(note.unread);
    if (panel && loaded) {
      const list = panel.querySelector(".notif-panel-list");
      list.prepend(itemElement({ ...note, read: false }));
      while (list.children.length > PANEL_SIZE) list.lastElementChild.remove();
      setStatus("");
    }
    showOnListPage(note);
  });
  socket.on("notification.read", (change) => {
    showUnread(change.unread);
    loaded = false; // re-read on the next opening: which ones are read changed elsewhere
    if (isOpen()) load();
  });
  let connectedBefore = false;
  socket.on("connect", () => {
    // Events sent while disconnected were missed: re-read the count (and the panel, when open).
    if (connectedBefore) {
      refreshUnread();
      loaded = false;
      if (isOpen()) load();
    }
    connectedBefore = true;
  });
}

const cabinet = window.cabinet || {};
if (cabinet.socket) watchNotifications(cabinet.socket);
else document.addEventListener("cabinet:socket", (event) => watchNotifications(event.detail));
