// Progress and busy states: uploads with a progress bar, exports downloaded with a progress bar,
// and slow forms that say they are working. Progressive enhancement only: without this script
// every form and link works as a plain form or link. Loaded as an ES module on every page of a
// logged-in user (templates/base.html); no inline scripts (CSP). The strings come from data-msg-*
// attributes rendered by templates/_progress.html, so they are translated with the page.
//
// * <form data-upload-progress data-max-bytes="…">: sent with XMLHttpRequest asking for JSON; the
//   server answers {"redirect": url} (followed) or {"error": {"message", "details": {"fields"}}}
//   (shown in the form; the chosen file and the other fields stay as they were).
// * <a data-busy href="…">: the file is fetched (progress bar when the size is known, a spinner
//   otherwise) and saved under the server's file name (Content-Disposition).
// * <form data-busy-form>: its submit button turns busy (aria-busy, disabled, spinner) once the
//   form really leaves, so a slow action cannot be sent twice.

const lang = document.documentElement.lang || "vi";
const oneDecimal = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const MB = 1024 * 1024;

/** "12,3 MB" in Vietnamese, "12.3 MB" in English. */
export function megabytes(bytes) {
  return `${oneDecimal.format(bytes / MB)} MB`;
}

/** Fill {name} placeholders of a message carried in a data-msg-* attribute. */
function fill(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));
}

// --- uploads -----------------------------------------------------------------------------------

class UploadForm {
  constructor(form) {
    this.form = form;
    this.msg = form.dataset;
    this.box = form.querySelector("[data-role=upload-progress]");
    this.bar = form.querySelector("[data-role=upload-bar]");
    this.phase = form.querySelector("[data-role=upload-phase]");
    this.amount = form.querySelector("[data-role=upload-amount]");
    this.cancel = form.querySelector("[data-role=upload-cancel]");
    this.alert = form.querySelector("[data-role=upload-error]");
    this.xhr = null;
    form.addEventListener("submit", (event) => this.submit(event));
    this.cancel?.addEventListener("click", () => this.xhr?.abort());
  }

  submitButtons() {
    return [...this.form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]")];
  }

  files() {
    return [...this.form.querySelectorAll("input[type=file]")].flatMap((input) => [...(input.files || [])]);
  }

  submit(event) {
    if (event.defaultPrevented || !this.box || typeof FormData !== "function") return;
    event.preventDefault();
    if (this.xhr) return; // already sending: no double submit
    this.clearErrors();
    const limit = Number(this.msg.maxBytes) || 0;
    const tooBig = [...this.form.querySelectorAll("input[type=file]")]
      .find((input) => [...(input.files || [])].some((file) => limit && file.size > limit));
    if (tooBig) {
      // Refused before sending: no point uploading 200 MB to hear "too large".
      const message = fill(this.msg.msgTooLarge, { mb: oneDecimal.format(limit / MB) });
      this.showError(message, { [tooBig.name]: message });
      return;
    }
    this.send(new FormData(this.form, event.submitter || undefined));
  }

  send(data) {
    const xhr = new XMLHttpRequest();
    this.xhr = xhr;
    xhr.open((this.form.getAttribute("method") || "post").toUpperCase(), this.form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.responseType = "text";
    const total = this.files().reduce((sum, file) => sum + file.size, 0);
    xhr.upload.addEventListener("progress", (event) => this.progress(event.loaded, event.lengthComputable ? event.total : total));
    xhr.upload.addEventListener("load", () => this.processing());
    xhr.addEventListener("load", () => this.answered(xhr));
    xhr.addEventListener("error", () => this.failed(this.msg.msgNetwork));
    xhr.addEventListener("timeout", () => this.failed(this.msg.msgNetwork));
    xhr.addEventListener("abort", () => this.failed(this.msg.msgCancelled));
    this.busy(true);
    this.progress(0, total);
    xhr.send(data);
  }

  busy(on) {
    this.box.hidden = !on;
    this.form.setAttribute("aria-busy", on ? "true" : "false");
    for (const button of this.submitButtons()) button.disabled = on;
    if (this.cancel) this.cancel.disabled = !on;
  }

  progress(loaded, total) {
    const percent = total ? Math.min(100, Math.floor((100 * loaded) / total)) : 0;
    this.bar.value = percent;
    this.bar.setAttribute("aria-valuetext", `${percent}%`);
    if (this.phase.textContent !== this.msg.msgUploading) this.phase.textContent = this.msg.msgUploading;
    this.amount.textContent = total
      ? `${percent}% · ${megabytes(Math.min(loaded, total))} / ${megabytes(total)}` : `${percent}%`;
  }

  processing() {
    // Every byte is sent; the server now scans, checks and maybe converts the file.
    this.bar.value = 100;
    this.bar.setAttribute("aria-valuetext", "100%");
    this.phase.textContent = this.msg.msgProcessing;
    if (this.cancel) this.cancel.disabled = true;
  }

  answered(xhr) {
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch (error) {
      body = null;
    }
    if (xhr.status >= 200 && xhr.status < 300) {
      const target = (body && body.redirect) || xhr.responseURL;
      if (target) {
        this.phase.textContent = this.msg.msgDone;
        window.location.assign(target);
        return;
      }
    }
    const error = body && body.error;
    this.failed(error && error.message ? error.message : fill(this.msg.msgFailed, { status: xhr.status }),
      error && error.details);
  }

  failed(message, details) {
    this.xhr = null;
    this.busy(false);
    const fields = (details && Array.isArray(details.fields)) ? details.fields : [];
    this.showError(message, Object.fromEntries(fields.map((f) => [f.field, f.message])));
  }

  clearErrors() {
    for (const node of this.form.querySelectorAll("[data-upload-field-error]")) node.remove();
    for (const input of this.form.querySelectorAll("[data-upload-invalid]")) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("data-upload-invalid");
      const described = input.dataset.uploadDescribedby;
      if (described) input.setAttribute("aria-describedby", described);
      else input.removeAttribute("aria-describedby");
      delete input.dataset.uploadDescribedby;
      input.closest(".field")?.classList.remove("has-error");
    }
    if (this.alert) {
      this.alert.hidden = true;
      this.alert.textContent = "";
    }
  }

  /** The summary on top of the form, and each field's message under it (like the server's page). */
  showError(message, fields = {}) {
    if (this.alert) {
      this.alert.textContent = message;
      this.alert.hidden = false;
    }
    for (const [name, text] of Object.entries(fields)) {
      const input = this.form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (!input || typeof text !== "string") continue;
      const note = document.createElement("p");
      note.className = "error";
      note.id = `${input.id || name}-upload-err`;
      note.dataset.uploadFieldError = "";
      note.textContent = text;
      input.closest(".field")?.classList.add("has-error");
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("data-upload-invalid", "");
      // Screen readers read the message with the field, as they do the server's own errors.
      input.dataset.uploadDescribedby = input.getAttribute("aria-describedby") || "";
      input.setAttribute("aria-describedby", `${note.id} ${input.dataset.uploadDescribedby}`.trim());
      (input.closest(".field") || input.parentElement).append(note);
    }
    this.alert?.focus();
  }
}

// --- downloads of exports ----------------------------------------------------------------------

/** The file name the server gives (RFC 6266: filename* first), else the URL's last part. */
export function dispositionName(header, url) {
  const value = header || "";
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(value);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch (error) {
      // fall through
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(value);
  if (plain) return plain[1].trim();
  return decodeURIComponent(new URL(url, window.location.href).pathname.split("/").pop() || "download");
}

const ACCEPT_FILE = "application/json, application/pdf;q=0.9, "
  + "application/vnd.openxmlformats-officedocument.wordprocessingml.document;q=0.9, application/octet-stream;q=0.8";

class BusyDownload {
  constructor(link) {
    this.link = link;
    this.msg = document.querySelector("[data-busy-strings]")?.dataset || {};
    this.running = false;
    link.addEventListener("click", (event) => this.click(event));
  }

  click(event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey
        || event.altKey || typeof fetch !== "function") return;
    event.preventDefault();
    if (!this.running) this.download();
  }

  /** A status line right after the link: spinner or bar, and the messages. */
  status() {
    if (!this.box) {
      this.box = document.createElement("span");
      this.box.className = "busy-status";
      this.box.setAttribute("role", "status");
      this.link.after(this.box);
    }
    return this.box;
  }

  setBusy(on) {
    this.running = on;
    const link = this.link;
    link.classList.toggle("is-busy", on);
    if (on) {
      link.setAttribute("aria-busy", "true");
      link.setAttribute("aria-disabled", "true");
      link.dataset.busyLabel = link.dataset.busyLabel || link.textContent;
      link.textContent = this.msg.msgPreparing || link.dataset.busyLabel;
      const spinner = document.createElement("span");
      spinner.className = "spinner";
      spinner.setAttribute("aria-hidden", "true");
      link.prepend(spinner);
    } else {
      link.removeAttribute("aria-busy");
      link.removeAttribute("aria-disabled");
      link.textContent = link.dataset.busyLabel;
    }
  }

  showProgress(received, total) {
    const box = this.status();
    let bar = box.querySelector("progress");
    if (!bar) {
      box.replaceChildren();
      bar = document.createElement("progress");
      bar.max = 100;
      bar.setAttribute("aria-label", this.msg.msgPreparing || "");
      box.append(bar);
    }
    if (total) {
      const percent = Math.min(100, Math.floor((100 * received) / total));
      bar.value = percent;
      bar.setAttribute("aria-valuetext", `${percent}%`);
    } else {
      bar.removeAttribute("value"); // indeterminate
    }
  }

  showError(message) {
    const box = this.status();
    box.setAttribute("role", "alert");
    box.classList.add("is-error");
    box.textContent = message;
  }

  async download() {
    this.setBusy(true);
    if (this.box) {
      this.box.classList.remove("is-error");
      this.box.setAttribute("role", "status");
      this.box.replaceChildren();
    }
    try {
      const response = await fetch(this.link.href, { credentials: "same-origin", headers: { Accept: ACCEPT_FILE } });
      const type = (response.headers.get("Content-Type") || "").toLowerCase();
      if (!response.ok) {
        let message = fill(this.msg.msgFailed, { status: response.status });
        if (type.includes("json")) {
          const body = await response.json().catch(() => null);
          if (body && body.error && body.error.message) message = body.error.message;
        }
        throw new Error(message);
      }
      if (type.includes("text/html")) {
        // Not a file (the login page after the session ended): let the browser show that page.
        window.location.assign(this.link.href);
        return;
      }
      const blob = await this.read(response);
      this.save(blob, dispositionName(response.headers.get("Content-Disposition"), this.link.href));
      this.status().textContent = this.msg.msgSaved || "";
    } catch (error) {
      this.showError(error instanceof TypeError ? this.msg.msgNetwork : error.message);
    } finally {
      if (this.running) this.setBusy(false);
    }
  }

  async read(response) {
    const total = Number(response.headers.get("Content-Length")) || 0;
    this.showProgress(0, total);
    if (!response.body || !response.body.getReader) return response.blob();
    const reader = response.body.getReader();
    const chunks = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      this.showProgress(received, total);
    }
    return new Blob(chunks, { type: response.headers.get("Content-Type") || "application/octet-stream" });
  }

  save(blob, name) {
    const url = URL.createObjectURL(blob);
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.download = name;
    anchor.hidden = true;
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
}

// --- slow forms --------------------------------------------------------------------------------

function markBusy(form, submitter) {
  const button = submitter || form.querySelector("button[type=submit], button:not([type])");
  if (!button || button.getAttribute("aria-busy") === "true") return;
  const strings = document.querySelector("[data-busy-strings]")?.dataset || {};
  button.setAttribute("aria-busy", "true");
  button.classList.add("is-busy");
  button.disabled = true;
  const spinner = document.createElement("span");
  spinner.className = "spinner";
  spinner.setAttribute("aria-hidden", "true");
  const said = document.createElement("span");
  said.className = "sr-only";
  said.dataset.busyAdded = "";
  said.textContent = ` ${strings.msgWorking || ""}`;
  spinner.dataset.busyAdded = "";
  button.prepend(spinner);
  button.append(said);
}

function unmarkBusy(root = document) {
  for (const button of root.querySelectorAll("form[data-busy-form] [aria-busy=true]")) {
    button.removeAttribute("aria-busy");
    button.classList.remove("is-busy");
    button.disabled = false;
    for (const added of button.querySelectorAll("[data-busy-added]")) added.remove();
  }
}

function watchSlowForms() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-busy-form")) return;
    const { submitter } = event;
    // After the event: another script (minutes.js saving first) may have stopped this submit.
    // Disabling the button later also keeps its name/value in the data the browser sends.
    setTimeout(() => {
      if (!event.defaultPrevented) markBusy(form, submitter);
    }, 0);
  });
  // Back from the next page (bfcache): the buttons work again.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) unmarkBusy();
  });
}

function start() {
  for (const form of document.querySelectorAll("form[data-upload-progress]")) new UploadForm(form);
  for (const link of document.querySelectorAll("a[data-busy]")) new BusyDownload(link);
  watchSlowForms();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
