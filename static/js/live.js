// The meeting room (templates/live/room.html) and the projector (templates/live/projector.html).
//
// The page joins the meeting's Socket.IO room with `meeting.join`; the acknowledgement carries
// the whole state (cabinet/live/payloads.py: room_state), which is rendered, then every
// broadcast of the room updates its part of the state and the page is drawn again. On every
// (re)connection the page joins again and redraws from the fresh state, so a tablet that lost
// its Wi-Fi catches up without a reload. Broadcasts that arrive while a join is under way are
// kept and applied after its state.
//
// Every action is an event acknowledged with {"ok": true, ...} or {"ok": false, "error":
// {code, message}}: the message is shown in an aria-live region, never dropped. Nothing is sent
// while offline (Socket.IO would buffer it and send it later, possibly long after the member
// pressed the button); an acknowledgement that does not come in time is reported.
//
// Markup contract: #live-room with data-view ("room" | "projector"), data-meeting-id,
// data-timezone, data-locale [, data-me, data-can-control, data-document-url]; elements with
// data-slot="NAME" are filled here; #live-strings (JSON) holds the translated strings, with
// {placeholders}; #live-initial (JSON, optional) a first state to draw while connecting.
// All text goes in through textContent: nothing from the server is parsed as HTML.

const ACK_TIMEOUT_MS = 10000;
const CONFIRM_MS = 4000; // a second press within this time confirms a closing action
const OK_MESSAGE_MS = 8000;
const ROLE_ORDER = { chair: 0, member: 1, deputy: 2, secretary: 3, guest: 4 };

/** Create an element: h("p", {class: "x", text: "..."}, child, "text", ...). */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fmt(template, values = {}) {
  return String(template ?? "").replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
}

function readJSON(id) {
  const node = document.getElementById(id);
  if (!node) return null;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return null;
  }
}

function storage(action, key, value) {
  // Private browsing or a full disk must not break voting.
  try {
    if (action === "get") return window.localStorage.getItem(key);
    if (action === "set") window.localStorage.setItem(key, value);
    if (action === "remove") window.localStorage.removeItem(key);
  } catch {
    /* nothing to do */
  }
  return null;
}

/** The message of an error acknowledgement, with the fields' messages when there are some. */
function errorText(error) {
  if (!error) return "";
  let text = error.message || "";
  const fields = error.details && error.details.fields;
  const messages = Array.isArray(fields)
    ? fields.map((f) => f && f.message).filter(Boolean)
    : fields && typeof fields === "object" ? Object.values(fields).map(String) : [];
  if (messages.length) text = `${text} ${messages.join(" ")}`.trim();
  return text;
}

class LiveRoom {
  constructor(root) {
    this.root = root;
    this.view = root.dataset.view || "room";
    this.meetingId = Number(root.dataset.meetingId);
    this.canControl = root.dataset.canControl === "true";
    this.documentUrl = root.dataset.documentUrl || "/documents/0";
    this.T = readJSON("live-strings") || {};
    this.L = this.T.labels || { options: {}, outcomes: {}, statuses: {}, roles: {} };
    this.state = null;
    this.offset = 0; // the server's clock minus ours, in ms
    this.socket = null;
    this.joining = false;
    this.buffer = [];
    this.wasOffline = false;
    this.confirming = { key: null, until: 0 };
    this.questionDirty = false;
    this.resyncing = false;
    this.messageTimers = new Map();
    this.slots = {};
    for (const node of root.querySelectorAll("[data-slot]")) this.slots[node.dataset.slot] = node;
    this.banner = document.getElementById("live-offline");
    this.feedback = document.getElementById("live-feedback");
    this.voteFeedback = document.getElementById("vote-feedback");
    this.panel = document.getElementById("conclude-panel");
    this.voteForm = document.getElementById("vote-form");
    const locale = root.dataset.locale || document.documentElement.lang || "vi";
    try {
      this.timeFormat = new Intl.DateTimeFormat(locale, {
        hour: "2-digit", minute: "2-digit", hour12: false, timeZone: root.dataset.timezone || undefined,
      });
    } catch {
      this.timeFormat = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", hour12: false });
    }

    root.addEventListener("click", (event) => this.onClick(event));
    if (this.panel) this.panel.addEventListener("submit", (event) => this.onPanelSubmit(event));
    if (this.voteForm) {
      this.voteForm.addEventListener("submit", (event) => this.onVoteFormSubmit(event));
      this.voteForm.question.addEventListener("input", () => { this.questionDirty = true; });
    }

    const initial = readJSON("live-initial");
    if (initial) {
      this.load(initial);
      this.render();
    } else {
      this.say(this.T.connecting);
    }
    this.tick();
    window.setInterval(() => this.tick(), 500);
    this.whenSocket((socket) => this.attach(socket));
  }

  // --- the connection ----------------------------------------------------------------------------

  /** app.js opens the page's socket and shares it as window.cabinet.socket. */
  whenSocket(callback) {
    const existing = window.cabinet && window.cabinet.socket;
    if (existing) {
      callback(existing);
      return;
    }
    document.addEventListener("cabinet:socket", (event) => {
      if (event.detail) callback(event.detail);
      else this.setOffline(true);
    }, { once: true });
    if (typeof window.io !== "function") this.setOffline(true);
  }

  attach(socket) {
    this.socket = socket;
    socket.on("connect", () => this.join());
    socket.on("disconnect", (reason) => {
      this.setOffline(true);
      // The server closed this socket (a session check failed, a restart): Socket.IO does not
      // retry by itself then. Try again; a dead session is refused and app.js reloads the page.
      if (reason === "io server disconnect") window.setTimeout(() => socket.connect(), 3000);
    });
    let refusedDelay = 5000;
    socket.on("connect", () => { refusedDelay = 5000; });
    socket.on("connect_error", (error) => {
      this.setOffline(true);
      // Refused by the server (the session has ended, say): its reason is shown, and Socket.IO
      // gives up, so try again now and then; network errors are retried by Socket.IO itself.
      const message = error && error.data && error.data.message;
      if (message) this.say(message, "error");
      if (!socket.active) {
        window.setTimeout(() => socket.connect(), refusedDelay);
        refusedDelay = Math.min(refusedDelay * 2, 60000);
      }
    });
    const events = ["meeting.state", "attendance.changed", "agenda.current", "agenda.item", "speaker.queue",
      "vote.opened", "vote.tally", "vote.closed", "documents.changed", "document.recalled"];
    for (const name of events) socket.on(name, (payload) => this.receive(name, payload));
    socket.on("meeting.removed", (payload) => this.removedFromMeeting(payload));
    if (socket.connected) this.join();
  }

  /** Taken off the meeting (or a deputy withdrawn): the server has taken this socket out of the
   * room. Say so, and stop the room: no state, no controls, no re-joining on reconnect. */
  removedFromMeeting(payload) {
    if (!payload || payload.meeting_id !== this.meetingId) return;
    this.removed = true;
    this.state = null;
    this.buffer = [];
    for (const node of this.root.querySelectorAll("button, input, select, textarea")) node.disabled = true;
    delete this.root.dataset.joined;
    this.root.dataset.removed = "true";
    this.say(this.T.removed, "error");
  }

  join() {
    if (this.removed) return;
    this.joining = true;
    this.buffer = [];
    this.socket.timeout(ACK_TIMEOUT_MS).emit("meeting.join", { meeting_id: this.meetingId }, (err, ack) => {
      this.joining = false;
      if (err) {
        this.say(this.T.no_answer, "error");
        if (this.socket.connected) window.setTimeout(() => this.socket.connected && this.join(), 3000);
        return;
      }
      if (!ack || ack.ok !== true) {
        this.buffer = [];
        this.say(errorText(ack && ack.error) || this.T.failed, "error");
        return;
      }
      this.load(ack.state);
      if (this.feedback && this.feedback.textContent === this.T.connecting) this.feedback.textContent = "";
      const buffered = this.buffer;
      this.buffer = [];
      for (const [name, payload] of buffered) this.apply(name, payload);
      this.setOffline(false);
      this.render();
    });
  }

  /** Ask for the whole state again (documents changed, or an event refers to what we lack). */
  resync() {
    if (this.resyncing || !this.socket || !this.socket.connected) return;
    this.resyncing = true;
    this.socket.timeout(ACK_TIMEOUT_MS).emit("meeting.state", { meeting_id: this.meetingId }, (err, ack) => {
      this.resyncing = false;
      if (err || !ack || ack.ok !== true) {
        this.say(err ? this.T.no_answer : errorText(ack && ack.error) || this.T.failed, "error");
        return;
      }
      this.load(ack.state);
      this.render();
    });
  }

  setOffline(offline) {
    if (this.banner) this.banner.hidden = !offline;
    // data-joined: the page shows the room's current state (tests and styles wait for it).
    if (offline) delete this.root.dataset.joined;
    else this.root.dataset.joined = "true";
    this.root.classList.toggle("is-offline", offline);
    if (!offline && this.wasOffline) this.say(this.T.back_online, "ok");
    this.wasOffline = offline;
  }

  /** Send an event; resolves with its acknowledgement (an error one when offline or too late). */
  send(event, payload, { button = null, feedback = null } = {}) {
    return new Promise((resolve) => {
      const fail = (message, code) => {
        this.say(message, "error", feedback);
        resolve({ ok: false, error: { code, message } });
      };
      if (!this.socket || !this.socket.connected) {
        fail(this.T.not_sent_offline, "offline");
        return;
      }
      if (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      }
      this.socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
        if (button) {
          button.disabled = false;
          button.removeAttribute("aria-busy");
        }
        if (err) fail(this.T.no_answer, "timeout");
        else if (!ack || ack.ok !== true) {
          fail(errorText(ack && ack.error) || this.T.failed, (ack && ack.error && ack.error.code) || "error");
        } else resolve(ack);
      });
    });
  }

  /** Show a message in an aria-live region (the page's, or the one next to the action). */
  say(message, kind = "info", target = null) {
    const region = target || this.feedback;
    if (!region || !message) return;
    region.textContent = message;
    region.dataset.kind = kind;
    window.clearTimeout(this.messageTimers.get(region));
    if (kind === "ok" || kind === "info") {
      this.messageTimers.set(region, window.setTimeout(() => {
        if (region.textContent === message) region.textContent = "";
      }, OK_MESSAGE_MS));
    }
  }

  // --- the state -----------------------------------------------------------------------------------

  load(state) {
    this.state = state;
    this.syncClock(state.server_time);
    if (state.speakers) this.syncClock(state.speakers.server_time);
    if (!state.votes) state.votes = [];
  }

  syncClock(serverTime) {
    const at = Date.parse(serverTime || "");
    if (!Number.isNaN(at)) this.offset = at - Date.now();
  }

  receive(name, payload) {
    if (!payload || payload.meeting_id !== this.meetingId) return;
    if (this.joining) {
      this.buffer.push([name, payload]);
      return;
    }
    if (!this.state) return;
    this.apply(name, payload, true);
    this.render();
  }

  /** Apply one broadcast to the state; ``live`` when it just happened (announce it). */
  apply(name, p, live = false) {
    const s = this.state;
    switch (name) {
      case "meeting.state":
        s.state = p;
        s.current_item_id = p.current_item_id;
        break;
      case "attendance.changed":
        s.attendance = p;
        break;
      case "agenda.current": {
        const id = p.item ? p.item.id : null;
        const changed = id !== s.current_item_id;
        s.current_item_id = id;
        if (s.state) s.state.current_item_id = id;
        if (p.item) this.upsertItem(p.item);
        if (live && changed && p.item) this.say(fmt(this.T.current_ok, { n: p.item.position }), "info");
        break;
      }
      case "agenda.item":
        this.upsertItem(p.item);
        break;
      case "speaker.queue":
        s.speakers = p;
        this.syncClock(p.server_time);
        break;
      case "vote.opened": {
        const same = s.open_vote && s.open_vote.id === p.id;
        const me = same && s.open_vote.me ? s.open_vote.me
          : { can_vote: Boolean(s.me && s.me.can_vote), voted: false, choice: null };
        s.open_vote = { ...p, me };
        if (live && !same) this.say(fmt(this.T.vote_started, { question: p.question }), "info");
        break;
      }
      case "vote.tally":
        if (s.open_vote && s.open_vote.id === p.vote_id) {
          // Under load two casts' tallies may arrive out of order: keep the newest revision.
          const seen = s.open_vote.tally && s.open_vote.tally.revision;
          if (p.revision != null && seen != null && p.revision < seen) break;
          s.open_vote.tally = p;
          const mine = (p.ballots || []).find((b) => s.me && b.user.id === s.me.id);
          if (mine && s.open_vote.me) Object.assign(s.open_vote.me, { voted: true, choice: mine.choice });
        } else if (p.status === "open") {
          this.resync(); // a vote we missed the opening of
        }
        break;
      case "vote.closed":
        if (s.open_vote && s.open_vote.id === p.id) s.open_vote = null;
        s.votes = s.votes.filter((v) => v.id !== p.id).concat([p]);
        storage("remove", `vote-receipt:${p.id}`);
        storage("remove", `vote-choice:${p.id}`);
        break;
      case "documents.changed":
        this.resync();
        break;
      case "document.recalled": {
        const before = (s.documents || []).length;
        s.documents = (s.documents || []).filter((d) => d.id !== p.document_id);
        if (live && s.documents.length !== before) this.say(this.T.document_recalled, "info");
        break;
      }
      default:
        break;
    }
  }

  upsertItem(item) {
    const agenda = this.state.agenda || [];
    const index = agenda.findIndex((i) => i.id === item.id);
    if (index >= 0) agenda[index] = item;
    else agenda.push(item);
    agenda.sort((a, b) => a.position - b.position);
    this.state.agenda = agenda;
  }

  get phase() {
    return (this.state && this.state.state && this.state.state.phase) || "not_started";
  }

  currentItem() {
    const s = this.state;
    return (s && s.agenda || []).find((item) => item.id === s.current_item_id) || null;
  }

  myEntry() {
    const s = this.state;
    if (!s || !s.me || !s.attendance) return null;
    const mine = s.attendance.people.filter((p) => p.user.id === s.me.id);
    return mine.find((p) => p.role !== "deputy") || mine[0] || null;
  }

  myChoice(vote) {
    if (!vote) return null;
    if (vote.me && vote.me.choice) return vote.me.choice;
    if (vote.secret) return storage("get", `vote-choice:${vote.id}`);
    return null;
  }

  optionLabel(vote, key) {
    const option = (vote.options || []).find((o) => o.key === key);
    if (vote.standard && this.L.options[key]) return this.L.options[key];
    return option ? option.label : key;
  }

  formatTime(iso) {
    const at = Date.parse(iso || "");
    return Number.isNaN(at) ? "" : this.timeFormat.format(new Date(at));
  }

  // --- drawing ---------------------------------------------------------------------------------------

  /** Replace a slot's content, unless it would look the same: a broadcast (a tally, every few
   *  seconds during a vote) must not swap a button under a finger between its press and its
   *  release, which loses the tap, nor make a live region speak again. The focus stays on the
   *  control with the same data-key. */
  fill(name, ...nodes) {
    const slot = this.slots[name];
    if (!slot) return;
    const fresh = document.createElement("div");
    fresh.append(...nodes.flat().filter(Boolean));
    this.tick(fresh);
    // Serialising our own nodes to compare them; nothing is ever parsed from a string.
    if (fresh.innerHTML === slot.innerHTML) return;
    const active = document.activeElement;
    const key = active && slot.contains(active) ? active.dataset.key : null;
    slot.replaceChildren(...fresh.childNodes);
    if (key) {
      const again = [...slot.querySelectorAll("[data-key]")].find((node) => node.dataset.key === key);
      if (again && !again.disabled) again.focus();
    }
  }

  /** A button that runs data-action; a confirming one shows "press again" while armed. */
  button(text, action, { cls = "btn", key = action, data = {}, disabled = false, label = null, pressed = null,
    confirm = false } = {}) {
    const armed = confirm && this.confirming.key === key && Date.now() < this.confirming.until;
    const node = h("button", {
      type: "button", class: `${cls}${armed ? " is-armed" : ""}`, "data-action": action, "data-key": key,
      "aria-label": armed ? null : label, "aria-pressed": pressed === null ? null : String(pressed),
      "data-confirm": confirm ? "true" : null, disabled,
    }, armed ? this.T.press_again : text);
    for (const [name, value] of Object.entries(data)) node.dataset[name] = String(value);
    return node;
  }

  render() {
    if (!this.state) return;
    this.renderPhase();
    this.renderQuorum();
    this.renderCurrent();
    if (this.view === "projector") {
      this.renderProjectorSpeakers();
      this.renderProjectorVote();
    } else {
      this.renderMe();
      this.renderVote();
      this.renderSpeakers();
      this.renderResults();
      if (this.canControl) this.renderConsole();
    }
    this.tick();
  }

  renderPhase() {
    const slot = this.slots.phase;
    if (!slot) return;
    slot.dataset.phase = this.phase;
    slot.textContent = (this.T.phase || {})[this.phase] || this.phase;
  }

  renderQuorum() {
    const a = this.state.attendance;
    const slot = this.slots.quorum;
    if (!a || !slot) return;
    slot.classList.toggle("is-low", !a.quorum_met);
    slot.classList.toggle("is-met", a.quorum_met);
    const status = a.quorum_met ? this.T.quorum_met
      : fmt(this.T.quorum_missing, { missing: Math.max(0, a.required - a.present) });
    this.fill("quorum",
      h("strong", { text: fmt(this.T.quorum, { present: a.present, required: a.required }) }),
      h("span", { text: ` · ${status}` }));
    this.fill("quorum-detail", fmt(this.T.quorum_detail, { voters: a.voters, basis: a.quorum_basis }));
  }

  renderMe() {
    const slot = this.slots.me;
    if (!slot) return;
    const entry = this.myEntry();
    const ended = this.phase === "closed" || this.phase === "cancelled";
    if (!entry) {
      slot.hidden = !this.canControl;
      this.fill("me", h("p", { class: "muted", text: this.T.not_participant }));
      return;
    }
    slot.hidden = false;
    if (entry.present) {
      this.fill("me", h("p", { class: "me-in" }, h("span", { class: "tick", "aria-hidden": "true", text: "✓" }),
        fmt(this.T.checked_in_at, { time: this.formatTime(entry.checked_in_at) })));
      return;
    }
    this.fill("me", h("div", { class: "me-out" },
      h("p", { text: this.T.not_checked_in }),
      ended ? null : this.button(this.T.check_in, "check-in", { cls: "btn btn-primary btn-large" })));
  }

  itemHeading(item, big = false) {
    const status = this.L.statuses[item.status] || item.status;
    return [
      h("p", { class: "item-meta" },
        h("span", { class: "item-n", text: fmt(this.T.item_n, { n: item.position }) }),
        h("span", { class: `badge status-${item.status}`, text: status })),
      h(big ? "p" : "h3", { class: "item-title", text: item.title }),
      item.presenter_organisation || item.presenter_name
        ? h("p", { class: "item-presenter muted", text: fmt(this.T.presenter, {
          who: [item.presenter_organisation, item.presenter_name].filter(Boolean).join(" — ") }) })
        : null,
    ];
  }

  documentLink(doc) {
    const url = this.documentUrl.replace(/\/0$/, `/${doc.id}`);
    return h("li", { class: `doc-row${doc.unread ? " is-unread" : ""}` },
      h("a", { href: url },
        h("span", { class: "doc-title" }, h("strong", { text: doc.title })),
        h("span", { class: "muted", text: doc.type_label || "" }),
        doc.stamp ? h("span", { class: "doc-stamp", text: doc.stamp }) : null,
        doc.unread ? h("span", { class: "badge badge-unread", text: this.T.unread }) : null));
  }

  renderCurrent() {
    const item = this.currentItem();
    const big = this.view === "projector";
    if (!item) {
      const text = this.phase === "open" ? this.T.no_item : (this.T.phase_text || {})[this.phase];
      this.fill("current", h("p", { class: "empty", text }));
      return;
    }
    const nodes = [...this.itemHeading(item, big)];
    if (item.conclusion) {
      nodes.push(h("div", { class: "conclusion" }, h("strong", { text: `${this.T.conclusion}: ` }), item.conclusion));
    }
    if (!big) {
      const docs = this.state.documents || [];
      const mine = docs.filter((d) => d.agenda_item_id === item.id);
      nodes.push(h("h4", { class: "docs-h", text: this.T.item_documents }));
      nodes.push(mine.length ? h("ul", { class: "doc-list" }, mine.map((d) => this.documentLink(d)))
        : h("p", { class: "muted", text: this.T.no_item_documents }));
      const others = docs.filter((d) => d.agenda_item_id !== item.id);
      if (others.length) {
        nodes.push(h("details", { class: "docs-all" },
          h("summary", { text: fmt(this.T.all_documents, { n: docs.length }) }),
          h("ul", { class: "doc-list" }, others.map((d) => this.documentLink(d)))));
      }
    }
    this.fill("current", nodes);
  }

  /** The count so far: how many voted of the eligible, and a bar per option when known. */
  tally(vote, tally) {
    const cast = tally ? tally.cast : 0;
    const eligible = tally ? tally.eligible : vote.eligible;
    const nodes = [h("p", { class: "tally-count", "data-cast": cast, text: fmt(this.T.voted_count, { cast, eligible }) })];
    const counts = tally && tally.counts;
    if (counts) nodes.push(this.bars(vote, counts, eligible));
    else {
      nodes.push(h("ul", { class: "option-list" },
        (vote.options || []).map((option) => h("li", { text: this.optionLabel(vote, option.key) }))));
      nodes.push(h("p", { class: "muted", text: this.T.secret_counts_hidden }));
    }
    return nodes;
  }

  bars(vote, counts, eligible) {
    return h("ul", { class: "bars" }, (vote.options || []).map((option) => {
      const n = counts[option.key] || 0;
      const fill = h("span", { class: "bar-fill" });
      // CSSOM, not a style attribute: allowed by the CSP.
      fill.style.width = `${eligible ? Math.min(100, (n * 100) / eligible) : 0}%`;
      return h("li", { class: `bar bar-${option.key}`, "data-option": option.key },
        h("span", { class: "bar-label", text: this.optionLabel(vote, option.key) }),
        h("span", { class: "bar-track", "aria-hidden": "true" }, fill),
        h("span", { class: "bar-count", text: String(n) }));
    }));
  }

  /** A closed vote's result: the outcome, the counts and the rule that decided it. */
  result(vote, { heading = null } = {}) {
    const r = vote.result || {};
    const outcome = vote.outcome ? (this.L.outcomes[vote.outcome] || vote.outcome_label || vote.outcome) : "";
    const nodes = [];
    if (heading) nodes.push(h("p", { class: "result-heading", text: heading }));
    nodes.push(h("p", { class: "result-question", text: vote.question }));
    nodes.push(h("p", { class: `outcome outcome-${vote.outcome}`, "data-outcome": vote.outcome, text: outcome }));
    if (r.counts) nodes.push(this.bars(vote, r.counts, r.eligible || vote.eligible));
    const facts = [];
    if (r.threshold) facts.push(fmt(this.T.result_line, { threshold: r.threshold, eligible: r.eligible, basis: r.basis }));
    if (r.leading && r.leading.length) {
      facts.push(fmt(this.T.leading, { options: r.leading.map((k) => this.optionLabel(vote, k)).join(", ") }));
    }
    if (r.not_voted !== undefined) facts.push(fmt(this.T.not_voted, { n: r.not_voted }));
    if (facts.length) nodes.push(h("p", { class: "result-facts muted", text: facts.join(" ") }));
    return h("div", { class: "result", "data-vote-id": vote.id }, nodes);
  }

  voteMeta(vote) {
    // The item is named only when it is not the one on the table (shown just above).
    const item = vote.agenda_item_id === this.state.current_item_id ? null
      : (this.state.agenda || []).find((i) => i.id === vote.agenda_item_id);
    return h("p", { class: "vote-meta" },
      h("span", { class: `badge ${vote.secret ? "badge-warn" : ""}`, text: vote.secret ? this.T.vote_secret : this.T.vote_named }),
      item ? h("span", { class: "muted", text: ` ${fmt(this.T.vote_on_item, { n: item.position, title: item.title })}` }) : null);
  }

  latestResult() {
    const votes = this.state.votes || [];
    const latest = votes[votes.length - 1];
    if (!latest || this.state.open_vote) return null;
    return latest.agenda_item_id === this.state.current_item_id ? latest : null;
  }

  renderVote() {
    const vote = this.state.open_vote;
    const section = document.getElementById("live-vote");
    if (section) section.classList.toggle("is-voting", Boolean(vote));
    if (!vote) {
      const latest = this.latestResult();
      this.fill("vote", latest ? this.result(latest, { heading: this.T.last_result })
        : h("p", { class: "empty", text: this.T.vote_none }));
      this.fill("vote-tally");
      return;
    }
    const nodes = [h("p", { class: "vote-question", text: vote.question }), this.voteMeta(vote)];
    const canVote = Boolean(this.state.me && this.state.me.can_vote);
    if (canVote) {
      const choice = this.myChoice(vote);
      nodes.push(h("div", { class: `vote-buttons${vote.standard ? "" : " is-custom"}`, role: "group",
        "aria-label": vote.question },
        (vote.options || []).map((option) => this.button(
          [choice === option.key ? h("span", { "aria-hidden": "true", text: "✓ " }) : null,
            this.optionLabel(vote, option.key)], "cast",
          { cls: `btn vote-btn vote-${option.key}${choice === option.key ? " is-chosen" : ""}`,
            key: `cast-${option.key}`, data: { choice: option.key }, pressed: choice === option.key }))));
      nodes.push(h("p", { class: "vote-mine" }, choice
        ? fmt(this.T.your_choice, { choice: this.optionLabel(vote, choice) }) : this.T.not_voted_yet));
      nodes.push(h("p", { class: "muted", text: this.T.vote_change_hint }));
      const entry = this.myEntry();
      if (entry && !entry.present) nodes.push(h("p", { class: "warn", text: this.T.check_in_to_vote }));
    } else {
      nodes.push(h("p", { class: "muted", text: this.T.not_a_voter }));
    }
    this.fill("vote", nodes);
    // Apart from the buttons: the count changes with every ballot, the buttons do not.
    this.fill("vote-tally", h("div", { class: "tally" }, this.tally(vote, vote.tally)));
  }

  speakerName(request) {
    return request.user.full_name;
  }

  timer() {
    return h("span", { class: "timer", "data-timer": "" },
      h("span", { class: "timer-label", "data-timer-label": "" }),
      h("span", { class: "timer-value", "data-timer-value": "" }));
  }

  renderSpeakers() {
    const speakers = this.state.speakers || { speaking: null, waiting: [] };
    const me = this.state.me || {};
    const nodes = [];
    if (speakers.speaking) {
      const mine = speakers.speaking.user.id === me.id;
      nodes.push(h("div", { class: "speaking" },
        h("p", { class: "speaking-label muted", text: this.T.speaking_now }),
        h("p", { class: "speaking-name", text: this.speakerName(speakers.speaking) }),
        this.timer(),
        mine ? this.button(this.T.end_my_turn, "end-turn", { key: "end-my-turn" }) : null));
    } else {
      nodes.push(h("p", { class: "muted", text: this.T.nobody_speaking }));
    }
    const waiting = speakers.waiting || [];
    if (waiting.length) {
      nodes.push(h("p", { class: "queue-h", text: fmt(this.T.queue, { n: waiting.length }) }));
      nodes.push(h("ol", { class: "queue" }, waiting.map((r) => h("li", {
        class: r.user.id === me.id ? "is-me" : "", text: this.speakerName(r) }))));
    } else {
      nodes.push(h("p", { class: "muted", text: this.T.queue_empty }));
    }
    const participant = Boolean(me.role);
    if (participant && this.phase === "open") {
      const place = waiting.findIndex((r) => r.user.id === me.id);
      const speaking = speakers.speaking && speakers.speaking.user.id === me.id;
      if (place >= 0) {
        nodes.push(h("p", { class: "queue-place", text: fmt(this.T.your_place, { n: place + 1 }) }));
        nodes.push(this.button(this.T.withdraw, "withdraw", { cls: "btn btn-large" }));
      } else if (speaking) {
        nodes.push(h("p", { class: "queue-place", text: this.T.you_speak }));
      } else {
        nodes.push(this.button(this.T.ask, "ask", { cls: "btn btn-primary btn-large" }));
      }
    }
    this.fill("speakers", nodes);
  }

  renderResults() {
    const votes = [...(this.state.votes || [])].reverse();
    this.fill("results", votes.length ? h("div", { class: "results" }, votes.map((v) => this.result(v)))
      : h("p", { class: "empty", text: this.T.no_results }));
  }

  // --- the console (chair, secretariat) ------------------------------------------------------------

  renderConsole() {
    const open = this.phase === "open";
    const ended = this.phase === "closed" || this.phase === "cancelled";
    const s = this.state;

    // The meeting
    const meetingNodes = [h("p", { class: "phase-line", text: (this.T.phase_text || {})[this.phase] || "" })];
    if (this.phase === "not_started") {
      meetingNodes.push(this.button(this.T.open_meeting, "meeting-open",
        { cls: "btn btn-primary btn-large" }));
    } else if (open) {
      meetingNodes.push(this.button(this.T.close_meeting, "meeting-close",
        { cls: "btn btn-danger btn-large", confirm: true }));
    }
    this.fill("console-meeting", meetingNodes);

    // Attendance
    const people = [...(s.attendance ? s.attendance.people : [])].sort(
      (a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9));
    const byId = new Map(people.map((p) => [p.user.id, p]));
    this.fill("console-attendance", h("ul", { class: "people-live" }, people.map((p) => {
      const role = p.role === "deputy" ? this.T.deputy : (this.L.roles[p.role] || p.role);
      const deputyFor = p.deputy_for ? byId.get(p.deputy_for) : null;
      return h("li", { class: `person${p.present ? " is-present" : ""}${p.votes ? " is-voter" : ""}` },
        h("span", { class: "person-name" },
          h("strong", { text: p.user.full_name }),
          h("small", { class: "muted", text: [role, deputyFor ? fmt(this.T.deputy_for, { name: deputyFor.user.full_name }) : "",
            p.user.title].filter(Boolean).join(" · ") })),
        this.button(p.present ? `✓ ${this.T.present}` : this.T.absent, "mark", {
          cls: `btn btn-toggle${p.present ? " is-on" : ""}`, key: `mark-${p.user.id}`,
          // The name starts with what the button shows (WCAG 2.5.3, label in name): the state,
          // then whose it is; pressing it switches the state.
          data: { user: p.user.id, present: !p.present }, disabled: ended,
          label: `${p.present ? this.T.present : this.T.absent} — ${p.user.full_name}`,
        }));
    })));

    // Agenda
    this.fill("console-agenda", h("ol", { class: "agenda-live" }, (s.agenda || []).map((item) => {
      const current = item.id === s.current_item_id;
      const done = item.status === "concluded" || item.status === "deferred";
      return h("li", { class: `agenda-live-item${current ? " is-current" : ""}`, "data-item-id": item.id },
        h("span", { class: "agenda-pos", text: String(item.position) }),
        h("div", { class: "agenda-body" },
          h("strong", { text: item.title }),
          h("span", { class: "muted", text: [item.presenter_organisation, item.presenter_name].filter(Boolean).join(" — ") }),
          h("span", { class: "item-badges" },
            h("span", { class: `badge status-${item.status}`, text: this.L.statuses[item.status] || item.status }),
            current ? h("span", { class: "badge badge-on", text: this.T.on_table }) : null),
          item.conclusion ? h("p", { class: "conclusion", text: item.conclusion }) : null,
          h("div", { class: "button-row" },
            current ? null : this.button(this.T.put_on_table, "set-current", {
              cls: "btn btn-primary", key: `current-${item.id}`, data: { item: item.id }, disabled: !open }),
            this.button(this.T.conclude, "conclude", { key: `conclude-${item.id}`, data: { item: item.id }, disabled: !open }),
            this.button(this.T.defer, "defer", {
              cls: "btn btn-danger", key: `defer-${item.id}`, data: { item: item.id }, disabled: !open || done }))));
    })));

    // Speakers
    const speakers = s.speakers || { speaking: null, waiting: [] };
    const speakerNodes = [];
    if (speakers.speaking) {
      speakerNodes.push(h("div", { class: "speaking" },
        h("p", { class: "speaking-label muted", text: this.T.speaking_now }),
        h("p", { class: "speaking-name", text: this.speakerName(speakers.speaking) }),
        this.timer(),
        this.button(this.T.end_turn, "end-turn", { cls: "btn btn-danger" })));
    } else {
      speakerNodes.push(h("p", { class: "muted", text: this.T.nobody_speaking }));
    }
    const waiting = speakers.waiting || [];
    speakerNodes.push(waiting.length ? h("ol", { class: "queue queue-console" }, waiting.map((r) => {
      const name = this.speakerName(r);
      return h("li", {},
        h("span", { class: "person-name" }, h("strong", { text: name }),
          h("small", { class: "muted", text: this.formatTime(r.requested_at) })),
        h("span", { class: "button-row" },
          this.button(this.T.give_floor, "give-floor", { cls: "btn btn-primary", key: `floor-${r.id}`,
            data: { request: r.id, name }, label: fmt(this.T.give_floor_to, { name }), disabled: !open }),
          this.button(this.T.remove_request, "remove-request", { key: `remove-${r.id}`,
            data: { request: r.id }, label: fmt(this.T.remove_request_of, { name }), disabled: !open })));
    })) : h("p", { class: "muted", text: this.T.queue_empty }));
    this.fill("console-speakers", speakerNodes);

    // The vote
    const vote = s.open_vote;
    const voteSection = document.getElementById("console-vote");
    if (voteSection) voteSection.classList.toggle("is-voting", Boolean(vote));
    if (this.voteForm) {
      this.voteForm.hidden = Boolean(vote);
      const submit = this.voteForm.querySelector("button[type=submit]");
      if (submit) submit.disabled = !open;
      if (!this.questionDirty) {
        const item = this.currentItem();
        this.voteForm.question.value = item ? item.title : "";
      }
    }
    if (vote) {
      const nodes = [h("p", { class: "vote-question", text: vote.question }), this.voteMeta(vote),
        h("div", { class: "tally" }, this.tally(vote, vote.tally))];
      const ballots = (vote.tally && vote.tally.ballots) || [];
      if (!vote.secret && ballots.length) {
        nodes.push(h("details", { class: "ballots" },
          h("summary", { text: fmt(this.T.ballots, { n: ballots.length }) }),
          h("ul", {}, ballots.map((b) => h("li", { text: `${b.user.full_name}: ${this.optionLabel(vote, b.choice)}` })))));
      }
      this.fill("console-tally", nodes);
      this.fill("console-vote-actions", this.button(this.T.close_vote, "vote-close", {
        cls: "btn btn-primary btn-large btn-block", data: { vote: vote.id }, confirm: true }));
    } else {
      this.fill("console-tally");
      this.fill("console-vote-actions");
    }
  }

  // --- the projector ------------------------------------------------------------------------------

  renderProjectorSpeakers() {
    const speakers = this.state.speakers || { speaking: null, waiting: [] };
    const nodes = [];
    if (speakers.speaking) {
      const who = speakers.speaking.user;
      nodes.push(h("p", { class: "proj-speaker-name", text: who.full_name }));
      if (who.organisation) nodes.push(h("p", { class: "proj-speaker-org", text: who.organisation }));
      nodes.push(this.timer());
    } else {
      nodes.push(h("p", { class: "proj-empty", text: this.T.nobody_speaking }));
    }
    const waiting = speakers.waiting || [];
    if (waiting.length) {
      nodes.push(h("p", { class: "proj-next", text: fmt(this.T.queue, { n: waiting.length }) }));
      nodes.push(h("ol", { class: "proj-queue" }, waiting.slice(0, 4).map((r) => h("li", { text: r.user.full_name }))));
    }
    this.fill("speakers", nodes);
  }

  renderProjectorVote() {
    const vote = this.state.open_vote;
    const section = document.getElementById("proj-vote");
    if (section) section.classList.toggle("is-voting", Boolean(vote));
    if (vote) {
      this.fill("vote", h("p", { class: "vote-question", text: vote.question }), this.voteMeta(vote),
        h("div", { class: "tally" }, this.tally(vote, vote.tally)));
      return;
    }
    const votes = this.state.votes || [];
    const latest = votes[votes.length - 1];
    this.fill("vote", latest ? this.result(latest, { heading: this.T.last_result })
      : h("p", { class: "proj-empty", text: this.T.vote_none }));
  }

  // --- the clock and the speaker's timer -----------------------------------------------------------

  /** Every half second: the projector's clock and the speaker's countdown (in ``scope``). */
  tick(scope = this.root) {
    if (scope === this.root && this.slots.clock) {
      const now = this.timeFormat.format(new Date(Date.now() + this.offset));
      if (this.slots.clock.textContent !== now) this.slots.clock.textContent = now;
    }
    const speaking = this.state && this.state.speakers && this.state.speakers.speaking;
    const timers = scope.querySelectorAll("[data-timer]");
    if (!speaking || !timers.length) return;
    const started = Date.parse(speaking.started_at || "");
    const limit = (speaking.limit_seconds || 0) * 1000;
    if (Number.isNaN(started)) return;
    const left = started + limit - (Date.now() + this.offset);
    const over = left < 0;
    const seconds = Math.floor(Math.abs(left) / 1000);
    const text = `${over ? "+" : ""}${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
    for (const timer of timers) {
      timer.classList.toggle("is-over", over);
      timer.classList.toggle("is-ending", !over && left < 30000);
      const label = timer.querySelector("[data-timer-label]");
      const value = timer.querySelector("[data-timer-value]");
      const labelText = over ? this.T.over_time : this.T.time_left;
      if (label && label.textContent !== labelText) label.textContent = labelText;
      if (value && value.textContent !== text) value.textContent = text;
    }
  }

  // --- actions -----------------------------------------------------------------------------------------

  /** Closing actions need a second press within a few seconds (no blocking dialogs on tablets). */
  confirmed(button) {
    const key = button.dataset.key;
    if (this.confirming.key === key && Date.now() < this.confirming.until) {
      this.confirming = { key: null, until: 0 };
      return true;
    }
    this.confirming = { key, until: Date.now() + CONFIRM_MS };
    button.classList.add("is-armed");
    button.textContent = this.T.press_again;
    window.setTimeout(() => {
      if (this.confirming.key === key && Date.now() >= this.confirming.until) this.render();
    }, CONFIRM_MS + 50);
    return false;
  }

  async onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !this.root.contains(button) || button.disabled) return;
    const action = button.dataset.action;
    const m = { meeting_id: this.meetingId };
    const T = this.T;
    if (button.dataset.confirm === "true" && !this.confirmed(button)) return;
    let ack;
    switch (action) {
      case "check-in":
        ack = await this.send("attendance.check_in", m, { button });
        if (ack.ok) this.say(T.checked_in_ok, "ok");
        break;
      case "ask":
        ack = await this.send("speaker.request", m, { button });
        if (ack.ok) this.say(T.asked_ok, "ok");
        break;
      case "withdraw":
        ack = await this.send("speaker.withdraw", m, { button });
        if (ack.ok) this.say(T.withdrawn_ok, "ok");
        break;
      case "end-turn":
        ack = await this.send("speaker.end", m, { button });
        if (ack.ok) this.say(T.ended_ok, "ok");
        break;
      case "cast":
        await this.cast(button.dataset.choice, button);
        break;
      case "meeting-open":
        ack = await this.send("meeting.open", m, { button });
        if (ack.ok) this.say(T.open_ok, "ok");
        break;
      case "meeting-close":
        ack = await this.send("meeting.close", m, { button });
        if (ack.ok) this.say(T.close_ok, "ok");
        break;
      case "mark":
        await this.send("attendance.check_in", { ...m, user_id: Number(button.dataset.user),
          present: button.dataset.present === "true" }, { button });
        break;
      case "set-current": {
        const item = (this.state.agenda || []).find((i) => i.id === Number(button.dataset.item));
        ack = await this.send("agenda.set_current", { ...m, item_id: Number(button.dataset.item) }, { button });
        if (ack.ok && item) this.say(fmt(T.current_ok, { n: item.position }), "ok");
        break;
      }
      case "conclude":
      case "defer":
        this.openPanel(action, Number(button.dataset.item));
        break;
      case "panel-cancel":
        this.closePanel();
        break;
      case "give-floor": {
        const input = document.getElementById("floor-minutes");
        const minutes = input ? parseInt(input.value, 10) : NaN;
        const payload = { ...m, request_id: Number(button.dataset.request) };
        if (Number.isInteger(minutes) && minutes > 0) payload.seconds = minutes * 60;
        ack = await this.send("speaker.give_floor", payload, { button });
        if (ack.ok) this.say(fmt(T.floor_ok, { name: button.dataset.name }), "ok");
        break;
      }
      case "remove-request":
        await this.send("speaker.withdraw", { ...m, request_id: Number(button.dataset.request) }, { button });
        break;
      case "vote-close":
        ack = await this.send("vote.close", { vote_id: Number(button.dataset.vote) }, { button });
        if (ack.ok) {
          const vote = ack.vote;
          this.say(fmt(T.vote_closed_ok, { outcome: this.L.outcomes[vote.outcome] || vote.outcome_label || "" }), "ok");
        }
        break;
      default:
        break;
    }
  }

  async cast(choice, button) {
    const vote = this.state.open_vote;
    if (!vote) return;
    const payload = { vote_id: vote.id, choice };
    const receipt = vote.secret ? storage("get", `vote-receipt:${vote.id}`) : null;
    if (receipt) payload.receipt = receipt;
    this.say(this.T.sending, "info", this.voteFeedback);
    const ack = await this.send("vote.cast", payload, { button, feedback: this.voteFeedback });
    if (!ack.ok) return;
    if (ack.receipt) storage("set", `vote-receipt:${ack.vote_id}`, ack.receipt);
    if (vote.secret) storage("set", `vote-choice:${ack.vote_id}`, ack.choice);
    const current = this.state.open_vote;
    if (current && current.id === ack.vote_id) {
      current.me = { ...(current.me || {}), can_vote: true, voted: true, choice: ack.choice };
    }
    const label = this.optionLabel(vote, ack.choice);
    this.say(fmt(ack.changed ? this.T.vote_changed : this.T.vote_recorded, { choice: label }), "ok", this.voteFeedback);
    this.render();
  }

  openPanel(mode, itemId) {
    const item = (this.state.agenda || []).find((i) => i.id === itemId);
    if (!this.panel || !item) return;
    this.panel.hidden = false;
    this.panel.dataset.mode = mode;
    this.panel.dataset.item = String(itemId);
    for (const node of this.panel.querySelectorAll("[data-mode]")) node.hidden = node.dataset.mode !== mode;
    const title = this.panel.querySelector("[data-slot=conclude-title]");
    if (title) {
      title.textContent = fmt(mode === "conclude" ? this.T.conclude_title : this.T.defer_title,
        { n: item.position, title: item.title });
    }
    const error = this.panel.querySelector("[data-slot=conclude-error]");
    if (error) error.textContent = "";
    const text = this.panel.querySelector("textarea");
    text.value = mode === "conclude" ? item.conclusion || "" : "";
    text.required = mode === "conclude";
    this.panel.scrollIntoView({ block: "nearest" });
    text.focus();
  }

  closePanel() {
    if (this.panel) this.panel.hidden = true;
  }

  async onPanelSubmit(event) {
    event.preventDefault();
    const mode = this.panel.dataset.mode;
    const itemId = Number(this.panel.dataset.item);
    const item = (this.state.agenda || []).find((i) => i.id === itemId);
    const text = this.panel.querySelector("textarea").value;
    const error = this.panel.querySelector("[data-slot=conclude-error]");
    const button = event.submitter || this.panel.querySelector(`button[type=submit][data-mode=${mode}]`);
    const ack = mode === "conclude"
      ? await this.send("agenda.conclude", { meeting_id: this.meetingId, item_id: itemId, conclusion: text },
        { button, feedback: error })
      : await this.send("agenda.defer", { meeting_id: this.meetingId, item_id: itemId, reason: text },
        { button, feedback: error });
    if (!ack.ok) return;
    this.closePanel();
    const n = item ? item.position : "";
    this.say(fmt(mode === "conclude" ? this.T.concluded_ok : this.T.deferred_ok, { n }), "ok");
  }

  async onVoteFormSubmit(event) {
    event.preventDefault();
    const form = this.voteForm;
    const error = form.querySelector("[data-slot=vote-form-error]");
    const options = form.options.value.split("\n").map((line) => line.trim()).filter(Boolean);
    const payload = { meeting_id: this.meetingId, question: form.question.value, secret: form.secret.checked };
    if (options.length) payload.options = options;
    if (this.state.current_item_id) payload.agenda_item_id = this.state.current_item_id;
    if (error) error.textContent = "";
    const button = form.querySelector("button[type=submit]");
    const ack = await this.send("vote.open", payload, { button, feedback: error });
    if (!ack.ok) return;
    this.questionDirty = false;
    form.secret.checked = false;
    form.options.value = "";
    this.say(this.T.vote_opened_ok, "ok");
  }
}

const root = document.getElementById("live-room");
if (root) window.cabinetLive = new LiveRoom(root);
