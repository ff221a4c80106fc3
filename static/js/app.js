// Shared page behaviour: the live connection and its status in the top bar.
// Loaded as an ES module on every page of a logged-in user. No inline scripts (CSP).

const status = document.getElementById("conn-status");

function showState(state) {
  if (!status) return;
  status.dataset.state = state;
  status.textContent = status.dataset[`label${state[0].toUpperCase()}${state.slice(1)}`] || state;
}

// A recalled document disappears from an open viewer at once (D14): participants lose the page's
// content, the secretariat (who may still read it) gets a notice.
function closeRecalledDocument(event) {
  const reader = document.querySelector(`[data-recall-watch="${Number(event && event.document_id)}"]`);
  if (!reader) return;
  const notice = document.createElement("p");
  notice.className = "flash flash-warning";
  notice.setAttribute("role", "alert");
  notice.textContent = reader.dataset.recallMessage;
  if (reader.dataset.recallKeep === "true") {
    reader.prepend(notice);
  } else {
    reader.replaceChildren(notice);
  }
}

function connect() {
  if (typeof window.io !== "function") {
    showState("offline");
    return null;
  }
  // Websocket first: tablets on flaky Wi-Fi reconnect faster without the polling upgrade.
  const socket = window.io({ transports: ["websocket", "polling"], reconnectionDelayMax: 10000 });
  socket.on("connect", () => showState("online"));
  socket.on("disconnect", () => showState("offline"));
  socket.on("connect_error", () => showState("offline"));
  socket.on("session.ended", () => window.location.reload());
  socket.on("document.recalled", closeRecalledDocument);
  return socket;
}

// The socket is shared with page modules through window.cabinet.
window.cabinet = Object.assign(window.cabinet || {}, {
  socket: document.readyState === "loading" ? null : connect(),
});
if (!window.cabinet.socket) {
  document.addEventListener("DOMContentLoaded", () => {
    window.cabinet.socket = connect();
    document.dispatchEvent(new CustomEvent("cabinet:socket", { detail: window.cabinet.socket }));
  });
}

// Notifications: the unread count in the top bar follows `notification.new` / `notification.read`
// on the shared socket, and is re-read after a reconnection (events sent meanwhile were missed).
const notifCount = document.getElementById("notif-count");
const notifNumber = document.getElementById("notif-count-n");

function showUnread(count) {
  if (!notifCount || typeof count !== "number") return;
  notifNumber.textContent = String(count);
  notifCount.hidden = count <= 0;
}

function refreshUnread() {
  fetch("/notifications/unread-count", { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : null))
    .then((body) => body && showUnread(body.unread))
    .catch(() => {});
}

function watchNotifications(socket) {
  if (!socket) return;
  socket.on("notification.new", (note) => showUnread(note.unread));
  socket.on("notification.read", (change) => showUnread(change.unread));
  let connectedBefore = false;
  socket.on("connect", () => {
    if (connectedBefore) refreshUnread();
    connectedBefore = true;
  });
}

if (window.cabinet.socket) watchNotifications(window.cabinet.socket);
else document.addEventListener("cabinet:socket", (event) => watchNotifications(event.detail));

// On the notifications page, opening an unread one marks it read on the way (the link still works
// without JavaScript; the "Mark as read" button does the same).
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-read-url]");
  const list = link && link.closest("[data-csrf]");
  if (!list) return;
  const form = new FormData();
  form.append("csrf_token", list.dataset.csrf);
  navigator.sendBeacon(link.dataset.readUrl, form);
});
