// The secretary's drafting desk for the minutes (templates/minutes/page.html).
//
// Progressive enhancement: every rich-text field is a <textarea> of sanitised HTML that the form
// posts as it is. Here each becomes a Quill editor (static/vendor/quill) whose HTML is written back
// into the textarea, and edits are saved by themselves a few seconds after typing stops
// (PUT <data-save-url> with the revision they start from, session cookie and X-CSRFToken header).
// Nothing typed is lost (PEERS, Indico): until the server has it, the text is kept in this
// browser's localStorage, keyed by minutes id and revision, and offered back after a reload.
// A save refused because someone else saved first (409 stale_revision) keeps the text here too.
// "Finalize" needs a second press within a few seconds, as the meeting room's closing buttons do.
// No inline scripts (CSP): messages and URLs come from data-attributes.

const AUTOSAVE_MS = 3000; // after the last keystroke
const RETRY_MS = 10000; // offline or server trouble: try again
const CONFIRM_MS = 4000; // a second press within this time confirms "Finalize"
const STORE_PREFIX = "cabinet.minutes.";
const FIELD_OF_ITEM = /^item-(\d+)-(discussion_html|conclusion_html)$/;

const TOOLBAR = [["bold", "italic", "underline"], [{ list: "bullet" }, { list: "ordered" }], ["blockquote"], ["clean"]];
const FORMATS = ["bold", "italic", "underline", "list", "blockquote", "indent"];
const TOOL_LABELS = [
  [".ql-bold", "labelBold"], [".ql-italic", "labelItalic"], [".ql-underline", "labelUnderline"],
  ['.ql-list[value="bullet"]', "labelBullet"], ['.ql-list[value="ordered"]', "labelOrdered"],
  [".ql-blockquote", "labelBlockquote"], [".ql-clean", "labelClean"],
];

function fmt(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
}

function storage() {
  try {
    return window.localStorage;
  } catch (error) {
    return null; // private mode, disabled storage: autosave still works, local copies do not
  }
}

/** Quill's HTML, as the server will store it. Quill 2.0.3 writes every space as &nbsp;, which
 *  would keep the printed lines from wrapping: plain spaces go back. Empty paragraphs go, as the
 *  server drops them (the layout spaces the text). An empty editor is "". */
function quillHtml(quill) {
  if (!quill.getText().trim()) return "";
  return quill.getSemanticHTML().replace(/&nbsp;/g, " ").replace(/<p>(?:\s|<br>)*<\/p>/g, "");
}

/** Two texts compared as the browser reads them (entities, quotes), not byte by byte: text the
 *  server already has, sanitised and sent back, is not offered again as "unsaved". */
function canonical(html) {
  const scratch = document.createElement("template");
  scratch.innerHTML = html || "";
  return scratch.innerHTML.replace(/<p>(?:\s|<br>)*<\/p>/g, "").trim();
}

class MinutesEditor {
  constructor(form) {
    this.form = form;
    this.data = form.dataset;
    this.id = form.dataset.minutesId;
    this.revision = Number(form.dataset.revision);
    this.token = (form.querySelector("input[name=csrf_token]") || {}).value || "";
    this.state = form.querySelector("[data-role=save-state]");
    this.restoreBox = form.querySelector("[data-role=restore]");
    this.store = storage();
    this.fields = new Map(); // name → {get, set}
    this.baseline = new Map(); // name → the value the server has
    this.pending = null; // the save in flight
    this.timer = 0;
    this.stale = false;

    for (const textarea of form.querySelectorAll("textarea[data-rich]")) this.addRich(textarea);
    for (const name of ["number", "secrecy"]) {
      const input = form.elements.namedItem(name);
      if (!input) continue;
      this.fields.set(name, { get: () => input.value, set: (value) => { input.value = value; } });
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", () => this.changed());
    }
    for (const [name, field] of this.fields) this.baseline.set(name, field.get());

    this.offerRestore();
    this.wireForms();
    window.addEventListener("online", () => this.save());
    window.addEventListener("pagehide", () => this.keepLocally());
  }

  // --- fields -------------------------------------------------------------------------------------

  addRich(textarea) {
    const label = this.form.querySelector(`label[for="${textarea.id}"]`);
    if (typeof window.Quill !== "function") {
      // No editor (script blocked): the textarea still works, and is autosaved.
      this.fields.set(textarea.name, { get: () => textarea.value, set: (value) => { textarea.value = value; } });
      textarea.addEventListener("input", () => this.changed());
      return;
    }
    const wrapper = document.createElement("div");
    wrapper.className = "minutes-quill";
    const surface = document.createElement("div");
    wrapper.append(surface);
    textarea.after(wrapper);
    textarea.hidden = true;
    const quill = new window.Quill(surface, {
      theme: "snow",
      formats: FORMATS,
      modules: {
        toolbar: TOOLBAR,
        // Tab leaves the editor (keyboard users, tablets' keyboards); it indents only in lists.
        keyboard: { bindings: { tab: { key: "Tab", handler: () => true } } },
      },
    });
    quill.setContents(quill.clipboard.convert({ html: textarea.value }), "silent");
    textarea.value = quillHtml(quill);
    const root = quill.root;
    root.setAttribute("role", "textbox");
    root.setAttribute("aria-multiline", "true");
    if (label) {
      root.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", () => quill.focus());
    }
    const described = textarea.getAttribute("aria-describedby");
    if (described) root.setAttribute("aria-describedby", described);
    if (textarea.getAttribute("aria-invalid")) root.setAttribute("aria-invalid", "true");
    const toolbar = quill.getModule("toolbar").container;
    for (const [selector, key] of TOOL_LABELS) {
      const button = toolbar.querySelector(selector);
      if (button && this.data[key]) {
        button.setAttribute("aria-label", this.data[key]);
        button.title = this.data[key];
      }
    }
    quill.on("text-change", () => {
      textarea.value = quillHtml(quill);
      this.changed();
    });
    this.fields.set(textarea.name, {
      get: () => textarea.value,
      set: (value) => {
        quill.setContents(quill.clipboard.convert({ html: value }), "silent");
        textarea.value = quillHtml(quill);
      },
    });
  }

  /** The fields whose text the server does not have yet. */
  unsaved() {
    const changed = {};
    for (const [name, field] of this.fields) {
      const value = field.get();
      if (value !== this.baseline.get(name)) changed[name] = value;
    }
    return changed;
  }

  hasUnsaved() {
    return Object.keys(this.unsaved()).length > 0;
  }

  changed() {
    this.keepLocally();
    if (this.stale) return; // saving would be refused again: the message with the reload link stays
    this.show("unsaved", this.data.msgUnsaved);
    this.schedule(AUTOSAVE_MS);
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.save(), delay);
  }

  // --- the copy kept on this device ---------------------------------------------------------------

  storageKey(revision = this.revision) {
    return `${STORE_PREFIX}${this.id}.r${revision}`;
  }

  keepLocally() {
    if (!this.store) return;
    const fields = this.unsaved();
    try {
      if (Object.keys(fields).length) {
        this.store.setItem(this.storageKey(), JSON.stringify({ revision: this.revision, at: Date.now(), fields }));
      } else {
        this.store.removeItem(this.storageKey());
      }
    } catch (error) {
      console.warn("minutes: could not keep the text on this device", error);
    }
  }

  /** After a reload: text kept here that the server does not have is offered back. */
  offerRestore() {
    if (!this.store || !this.restoreBox) return;
    const prefix = `${STORE_PREFIX}${this.id}.r`;
    const keys = [];
    for (let i = 0; i < this.store.length; i += 1) {
      const key = this.store.key(i);
      if (key && key.startsWith(prefix)) keys.push(key);
    }
    let best = null;
    for (const key of keys) {
      let entry = null;
      try {
        entry = JSON.parse(this.store.getItem(key));
      } catch (error) {
        entry = null;
      }
      const differing = {};
      for (const [name, value] of Object.entries((entry && entry.fields) || {})) {
        const field = this.fields.get(name);
        if (field && typeof value === "string" && canonical(field.get()) !== canonical(value)) {
          differing[name] = value;
        }
      }
      if (!Object.keys(differing).length) {
        this.store.removeItem(key); // the server has it all
        continue;
      }
      if (!best || entry.at > best.entry.at) best = { key, entry, differing };
    }
    if (!best) return;
    const when = new Date(best.entry.at).toLocaleString(document.documentElement.lang || undefined,
      { dateStyle: "short", timeStyle: "short" });
    const text = document.createElement("p");
    text.textContent = fmt(this.data.msgRestore, { time: when });
    if (best.entry.revision !== this.revision) text.textContent += ` ${this.data.msgRestoreOlder}`;
    const restore = document.createElement("button");
    restore.type = "button";
    restore.className = "btn btn-primary";
    restore.dataset.action = "restore";
    restore.textContent = this.data.msgRestoreButton;
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "btn";
    discard.dataset.action = "discard";
    discard.textContent = this.data.msgDiscardButton;
    const buttons = document.createElement("p");
    buttons.className = "minutes-restore-actions";
    buttons.append(restore, " ", discard);
    this.restoreBox.replaceChildren(text, buttons);
    this.restoreBox.hidden = false;
    const forget = () => {
      for (const key of keys) this.store.removeItem(key);
      this.restoreBox.hidden = true;
      this.restoreBox.replaceChildren();
    };
    restore.addEventListener("click", () => {
      forget();
      for (const [name, value] of Object.entries(best.differing)) this.fields.get(name).set(value);
      this.changed();
    });
    discard.addEventListener("click", forget);
  }

  // --- saving ---------------------------------------------------------------------------------------

  show(state, text, link = null) {
    if (!this.state) return;
    this.state.dataset.state = state;
    this.state.replaceChildren(document.createTextNode(text || ""));
    if (link) this.state.append(" ", link);
  }

  setRevision(revision) {
    this.revision = revision;
    this.form.dataset.revision = String(revision);
    for (const input of document.querySelectorAll("input[data-minutes-revision]")) input.value = String(revision);
  }

  /** Save what the server does not have; resolves to true when it has everything. */
  async save() {
    clearTimeout(this.timer);
    if (this.stale) return false;
    while (this.pending) await this.pending;
    const changes = this.unsaved();
    if (!Object.keys(changes).length) return true;
    this.pending = this.send(changes);
    try {
      return await this.pending;
    } finally {
      this.pending = null;
    }
  }

  body(changes) {
    const body = { revision: this.revision };
    const items = new Map();
    for (const [name, value] of Object.entries(changes)) {
      const match = FIELD_OF_ITEM.exec(name);
      if (!match) {
        body[name] = value;
        continue;
      }
      const id = Number(match[1]);
      if (!items.has(id)) items.set(id, { item_id: id });
      items.get(id)[match[2]] = value;
    }
    if (items.size) body.items = [...items.values()];
    return body;
  }

  async send(changes) {
    this.show("saving", this.data.msgSaving);
    let response;
    try {
      response = await fetch(this.data.saveUrl, {
        method: "PUT",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": this.token },
        body: JSON.stringify(this.body(changes)),
      });
    } catch (error) {
      this.show("offline", this.data.msgOffline);
      this.schedule(RETRY_MS);
      return false;
    }
    let json = null;
    try {
      json = await response.json();
    } catch (error) {
      json = null;
    }
    if (response.ok && json && typeof json.revision === "number") {
      const before = this.storageKey();
      for (const [name, value] of Object.entries(changes)) this.baseline.set(name, value);
      this.setRevision(json.revision);
      if (this.store) this.store.removeItem(before);
      this.keepLocally(); // what was typed while saving, under the new revision
      this.show("saved", fmt(this.data.msgSaved, { time: json.saved_at_local || "" }));
      if (this.hasUnsaved()) this.schedule(AUTOSAVE_MS);
      return true;
    }
    const error = (json && json.error) || {};
    if (response.status === 401 || error.code === "csrf_failed") {
      this.show("session", this.data.msgSession);
      return false;
    }
    if (response.status === 409 && error.code === "stale_revision") {
      this.stale = true;
      const reload = document.createElement("a");
      reload.href = window.location.pathname + window.location.search;
      reload.textContent = this.data.msgReload;
      this.show("stale", this.data.msgStale, reload);
      return false;
    }
    if (response.status >= 500 || response.status === 408 || response.status === 429) {
      this.show("offline", fmt(this.data.msgFailed, { reason: error.message || response.status }));
      this.schedule(RETRY_MS);
      return false;
    }
    // Refused (a field too long, the minutes finalized meanwhile…): say why; the text stays here.
    this.show("failed", fmt(this.data.msgFailed, { reason: describe(error, response.status) }));
    return false;
  }

  // --- the buttons that need the text saved first ---------------------------------------------------

  wireForms() {
    // The Save button posts every field anyway: it only waits for a save in flight (its revision).
    this.form.addEventListener("submit", (event) => {
      if (!this.pending || this.form.dataset.flushed === "yes") return;
      event.preventDefault();
      this.pending.finally(() => this.resubmit(this.form, event.submitter));
    });
    // Review, refresh, finalize: the server must have the text before it acts on it.
    for (const form of document.querySelectorAll("form[data-flush-first]")) {
      form.addEventListener("submit", async (event) => {
        if (form.dataset.flushed === "yes" || (!this.pending && !this.hasUnsaved())) return;
        event.preventDefault();
        if (await this.save()) this.resubmit(form, event.submitter);
      });
    }
    for (const form of document.querySelectorAll("form[data-finalize]")) this.wireConfirm(form);
    const preview = document.querySelector("a[data-preview]");
    if (preview) {
      preview.addEventListener("click", async (event) => {
        if (!this.pending && !this.hasUnsaved()) return;
        event.preventDefault();
        // Opened now, inside the click, or the browser would block it as a pop-up.
        const tab = window.open("", "_blank");
        await this.save();
        if (tab) {
          tab.opener = null;
          tab.location.href = preview.href;
        } else {
          window.open(preview.href, "_blank", "noopener");
        }
      });
    }
  }

  resubmit(form, submitter) {
    form.dataset.flushed = "yes";
    if (typeof form.requestSubmit === "function") form.requestSubmit(submitter || undefined);
    else form.submit();
  }

  /** "Finalize" arms on the first press and acts on a second one within a few seconds. */
  wireConfirm(form) {
    const button = form.querySelector("[data-confirm-press]");
    const confirm = form.querySelector("[data-role=confirm]");
    if (!button || !confirm) return;
    const label = button.textContent;
    let timer = 0;
    button.addEventListener("click", (event) => {
      if (confirm.value === "yes") return; // armed: this press confirms
      event.preventDefault();
      confirm.value = "yes";
      button.classList.add("is-armed");
      button.textContent = button.dataset.msgPressAgain;
      clearTimeout(timer);
      timer = window.setTimeout(() => {
        confirm.value = "";
        button.classList.remove("is-armed");
        button.textContent = label;
      }, CONFIRM_MS);
    });
  }
}

function describe(error, status) {
  const parts = [error.message || String(status)];
  const details = error.details;
  const fields = details && (Array.isArray(details.fields) ? details.fields : null);
  if (fields) {
    for (const entry of fields) if (entry && entry.message) parts.push(entry.message);
  } else if (details && typeof details === "object") {
    for (const value of Object.values(details)) if (typeof value === "string") parts.push(value);
  }
  return parts.join(" ");
}

function start() {
  const form = document.querySelector("form[data-minutes-editor]");
  if (form) window.cabinetMinutes = new MinutesEditor(form);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
