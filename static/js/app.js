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

// Set once the logout form is submitted (offline.js may hold the post back to flush the queue).
let loggingOut = false;
document.addEventListener("submit", (event) => {
  if (event.target instanceof HTMLFormElement && event.target.matches("form[data-offline-logout]")) {
    loggingOut = true;
  }
}, true);
document.addEventListener("cabinet:logout-cancelled", () => { loggingOut = false; });

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
  // Another device or the secretariat ended this session: show the login page. Not when this page
  // is itself logging out: its own navigation to the login page is already under way, and a reload
  // would abort it.
  socket.on("session.ended", () => {
    if (!loggingOut) window.location.reload();
  });
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

// The notification centre (badge, dropdown, live updates) lives in notifications.js.
