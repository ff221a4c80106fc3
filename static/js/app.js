// Shared page behaviour: the live connection and its status in the top bar.
// Loaded as an ES module on every page of a logged-in user. No inline scripts (CSP).

const status = document.getElementById("conn-status");

function showState(state) {
  if (!status) return;
  status.dataset.state = state;
  status.textContent = status.dataset[`label${state[0].toUpperCase()}${state.slice(1)}`] || state;
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
