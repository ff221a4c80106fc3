// Annotations on the PDF viewer: draw with the pen, highlight selected text, pin notes; a list of
// the annotations beside the pages with their sharing; live updates from the other devices of the
// same member and from those who share with them. Markup: templates/documents/_pdf_viewer.html
// (annotation_tools, annotation_panel); the viewer's hooks: static/js/pdf-viewer.js.
//
// Choices, and why:
// * Coordinates are fractions of the page (0..1), so an annotation sits on the same words at any
//   zoom. Each page gets an SVG overlay whose user unit is the page width (viewBox 0 0 1 h/w):
//   strokes keep their thickness in every direction and scale with the page.
// * Pointer Events draw with a finger, a pen or the mouse. The overlay takes the touches
//   (touch-action: none) only while the pen is chosen: otherwise a finger scrolls and selects.
//   Once a stylus has been seen, fingers no longer draw (the palm rests on the glass).
// * Strokes drawn one after another on a page make one drawing, saved after a short pause.
// * Ids are made here (UUID4), so every save can be retried without making a duplicate: changes
//   wait in localStorage until the server confirms them, and go out again when the network
//   returns ("n not yet saved" in the toolbar).
// * Text from other people is untrusted: it only ever goes into the page as textContent.

const SVG_NS = "http://www.w3.org/2000/svg";
const PEN_WIDTH = 0.003; // of the page width: about 2 points on an A4 page
const STROKE_PAUSE_MS = 1200; // a drawing is saved this long after its last stroke
const MIN_STEP = 0.0015; // points closer than this (page widths) add nothing to a stroke
const MAX_STROKES = 200;
const MAX_POINTS = 5000;
const RETRY_DELAYS = [2000, 5000, 15000, 30000, 60000];
const QUOTE_CONTEXT = 32;
const NOTE_SIZE = 0.04; // the note pin's width, in page widths

function fmt(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

function clamp01(value) {
  return Math.min(1, Math.max(0, value));
}

function round4(value) {
  return Math.round(value * 10000) / 10000;
}

/** A UUID4 as 32 hex digits. crypto.randomUUID needs HTTPS; getRandomValues does not. */
function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function svg(name, attrs = {}) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function el(name, className, text) {
  const node = document.createElement(name);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function selectorOf(annotation, type) {
  return (annotation.target?.selector || []).find((s) => s.type === type) || null;
}

function bodyText(annotation) {
  return annotation.body?.[0]?.value || "";
}

class NetworkError extends Error {}

export class Annotator {
  constructor(root, viewer) {
    this.root = root;
    this.viewer = viewer;
    this.panel = root.querySelector("[data-annotations]");
    this.data = this.panel.dataset;
    this.documentId = Number(this.data.documentId);
    this.version = Number(this.data.version);
    this.userId = Number(this.data.userId);
    this.storageKey = `ecabinet.annotations.${this.userId}.${this.documentId}`;
    const q = (role) => root.querySelector(`[data-role="${role}"]`);
    this.el = {
      tools: q("annot-tools"), count: q("annot-count"), pending: q("annot-pending"),
      hint: q("annot-hint"), list: q("annot-list"), dialog: q("annot-dialog"),
      form: q("annot-form"), text: q("annot-text"),
      pen: root.querySelector('[data-annot-tool="pen"]'),
      note: root.querySelector('[data-annot-tool="note"]'),
      highlight: root.querySelector('[data-annot-action="highlight"]'),
      listToggle: root.querySelector('[data-annot-action="list"]'),
      close: root.querySelector('[data-annot-action="close-list"]'),
      swatches: [...root.querySelectorAll("[data-annot-colour]")],
    };
    this.items = new Map(); // annotation_id -> annotation (the server's JSON, or a local copy)
    this.candidates = [];
    this.tool = null;
    this.colour = "yellow";
    this.drawing = null; // {page, strokes, live, pointerId, timer}
    this.sawStylus = false;
    this.lastRange = null;
    this.queue = this.loadQueue();
    this.retryAt = 0;
    this.retryTimer = 0;
    this.flushing = false;
    this.bind();
  }

  // --- Start -----------------------------------------------------------------------------

  bind() {
    const { el } = this;
    el.pen.addEventListener("click", () => this.setTool(this.tool === "pen" ? null : "pen"));
    el.note.addEventListener("click", () => this.setTool(this.tool === "note" ? null : "note"));
    // Keep the text selection when the button is pressed (a tap would otherwise clear it).
    el.highlight.addEventListener("pointerdown", (event) => event.preventDefault());
    el.highlight.addEventListener("mousedown", (event) => event.preventDefault());
    el.highlight.addEventListener("click", () => this.highlightSelection());
    el.listToggle.addEventListener("click", () => this.togglePanel());
    el.close.addEventListener("click", () => this.togglePanel(false));
    for (const swatch of el.swatches) {
      swatch.addEventListener("click", () => this.setColour(swatch.dataset.annotColour));
    }
    document.addEventListener("selectionchange", () => this.rememberSelection());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.tool && !el.dialog.open) this.setTool(null);
    });
    this.root.addEventListener("pdfv:pages", () => this.onPages());
    this.root.addEventListener("pdfv:pagesize", (event) => this.renderPage(event.detail.page));
    this.root.addEventListener("pdfv:pagerendered", (event) => this.renderPage(event.detail.page));
    window.addEventListener("online", () => this.flush(true));
    window.addEventListener("storage", (event) => {
      if (event.key === this.storageKey) this.queue = this.loadQueue();
    });
    el.dialog.addEventListener("close", () => this.onDialogClose());
  }

  async start() {
    if (this.viewer.pages.length) this.onPages();
    this.connectSocket();
    await this.reload();
    this.flush(true);
  }

  onPages() {
    for (const control of [this.el.pen, this.el.note, this.el.highlight, this.el.listToggle, ...this.el.swatches]) {
      control.disabled = false;
    }
    this.setColour(this.colour);
    for (const page of this.viewer.pages) this.renderPage(page);
  }

  connectSocket() {
    const attach = (socket) => {
      if (!socket || this.socket === socket) return;
      this.socket = socket;
      const mine = (payload) => payload && Number(payload.document_id) === this.documentId;
      socket.on("annotation.saved", (payload) => { if (mine(payload)) this.upsert(payload.annotation); });
      socket.on("annotation.shared", (payload) => { if (mine(payload)) this.upsert(payload.annotation); });
      socket.on("annotation.deleted", (payload) => {
        if (mine(payload)) this.forget(payload.annotation_id);
      });
      let first = true;
      socket.on("connect", () => {
        // Messages sent while the socket was away are lost: ask for the list again.
        if (!first) this.reload().then(() => this.flush(true));
        first = false;
      });
      if (socket.connected) first = false;
    };
    attach(window.cabinet?.socket);
    document.addEventListener("cabinet:socket", (event) => attach(event.detail));
  }

  // --- Talking to the server ------------------------------------------------------------------

  itemUrl(id) {
    return this.data.itemUrl.replace("__id__", encodeURIComponent(id));
  }

  async request(method, url, body) {
    let response;
    try {
      response = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/json",
          "X-CSRFToken": this.data.csrfToken,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new NetworkError(this.data.msgOffline);
    }
    const type = response.headers.get("Content-Type") || "";
    let json = null;
    if (type.includes("json")) {
      try {
        json = await response.json();
      } catch (error) {
        json = null;
      }
    }
    return { status: response.status, json, redirected: response.redirected && !type.includes("json") };
  }

  async reload() {
    let answer;
    try {
      answer = await this.request("GET", this.data.listUrl);
    } catch (error) {
      this.showError(this.data.msgOffline);
      this.renderFromQueue();
      return;
    }
    if (answer.status === 401 || answer.redirected) {
      this.showError(this.data.msgSession);
      return;
    }
    if (answer.status !== 200 || !answer.json) {
      this.showError(answer.json?.error?.message || this.data.msgOffline);
      return;
    }
    this.candidates = answer.json.share_candidates || [];
    this.items.clear();
    for (const annotation of answer.json.annotations) this.items.set(annotation.annotation_id, annotation);
    this.renderFromQueue();
  }

  /** What the queue still has to send, shown as if saved (marked "not yet saved"). */
  renderFromQueue() {
    for (const entry of this.queue) {
      if (entry.op === "create" && !this.items.has(entry.id)) {
        this.items.set(entry.id, this.localAnnotation(entry.body));
      }
      const item = this.items.get(entry.id);
      if (item && entry.op !== "delete") item.pending = true;
      if (entry.op === "delete") this.items.delete(entry.id);
    }
    this.renderAll();
  }

  loadQueue() {
    try {
      const stored = JSON.parse(localStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(stored) ? stored : [];
    } catch (error) {
      return [];
    }
  }

  saveQueue() {
    try {
      if (this.queue.length) localStorage.setItem(this.storageKey, JSON.stringify(this.queue));
      else localStorage.removeItem(this.storageKey);
    } catch (error) {
      console.warn("annotations: could not keep unsaved changes on this device", error);
    }
    this.showPending();
  }

  enqueue(entry) {
    if (entry.op === "delete") {
      const unsent = this.queue.some((e) => e.id === entry.id && e.op === "create");
      this.queue = this.queue.filter((e) => e.id !== entry.id);
      if (unsent) {
        this.saveQueue();
        return; // never reached the server: nothing to delete there
      }
    }
    this.queue.push(entry);
    this.saveQueue();
    this.flush(true);
  }

  showPending() {
    const ids = new Set(this.queue.map((e) => e.id));
    this.el.pending.hidden = ids.size === 0;
    this.el.pending.textContent = ids.size ? fmt(this.data.msgPending, { n: ids.size }) : "";
    document.dispatchEvent(new CustomEvent("cabinet:pending")); // the top bar's count (offline.js)
  }

  async flush(now = false) {
    if (this.flushing) return;
    if (!now && Date.now() < this.retryAt) return;
    clearTimeout(this.retryTimer);
    this.flushing = true;
    try {
      while (this.queue.length) {
        const entry = this.queue[0];
        let answer;
        try {
          answer = await this.request(entry.method, entry.url, entry.body);
        } catch (error) {
          this.scheduleRetry();
          this.showError(this.data.msgOffline);
          return;
        }
        const { status, json } = answer;
        if (status === 401 || answer.redirected || json?.error?.code === "csrf_failed") {
          this.showError(this.data.msgSession);
          return; // keep everything: it goes out after the next login on this device
        }
        if (status >= 500 || status === 408 || status === 429) {
          this.scheduleRetry();
          return;
        }
        this.queue.shift();
        this.attempt = 0;
        if (status >= 200 && status < 300) {
          if (json && json.annotation_id) this.upsert(json, { confirmed: true });
        } else if (entry.op === "delete" && status === 404) {
          // already gone
        } else {
          const reason = json?.error?.message || String(status);
          console.warn("annotations: refused", entry, json);
          if (entry.op === "create") this.items.delete(entry.id);
          await this.reload();
          this.saveQueue();
          this.showError(fmt(this.data.msgSaveFailed, { reason }));
          continue;
        }
        this.saveQueue();
        if (this.hintIsError) this.showHint(this.toolHint());
      }
    } finally {
      this.flushing = false;
      this.showPending();
    }
  }

  scheduleRetry() {
    this.attempt = Math.min((this.attempt || 0) + 1, RETRY_DELAYS.length);
    const delay = RETRY_DELAYS[this.attempt - 1];
    this.retryAt = Date.now() + delay;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.flush(true), delay);
  }

  // --- Local state ---------------------------------------------------------------------------

  /** The annotation a create body describes, before the server answers. */
  localAnnotation(body) {
    const selector = [{ type: "FragmentSelector", value: `page=${body.page}` }];
    if (body.kind === "pen") selector.push({ type: "StrokesSelector", strokes: body.strokes });
    if (body.kind === "highlight") {
      selector.push({ type: "RectsSelector", rects: body.rects });
      if (body.quote) selector.push({ type: "TextQuoteSelector", ...body.quote });
    }
    if (body.kind === "note") selector.push({ type: "PointSelector", x: body.point[0], y: body.point[1] });
    return {
      annotation_id: body.id, kind: body.kind, page: body.page, version: body.version ?? this.version,
      colour: body.colour, visibility: body.visibility || "private", shared_with: body.user_ids || [],
      mine: true, outdated: false, creator: { user_id: this.userId, name: "" },
      body: body.body ? [{ type: "TextualBody", value: body.body, format: "text/plain" }] : [],
      target: { selector }, created: new Date().toISOString(), pending: true,
    };
  }

  upsert(annotation, { confirmed = false } = {}) {
    if (!annotation || !annotation.annotation_id) return;
    const id = annotation.annotation_id;
    const waiting = this.queue.some((e) => e.id === id);
    if (waiting && !confirmed) return; // our newer local change wins until it is saved
    this.items.set(id, { ...annotation, pending: waiting });
    this.renderAll();
  }

  forget(id) {
    this.queue = this.queue.filter((e) => e.id !== id);
    this.saveQueue();
    if (this.items.delete(id)) this.renderAll();
  }

  create(body) {
    const full = { id: newId(), version: this.version, colour: this.colour, ...body };
    this.items.set(full.id, this.localAnnotation(full));
    this.renderAll();
    this.enqueue({ op: "create", id: full.id, method: "POST", url: this.data.listUrl, body: full });
    return full.id;
  }

  update(id, changes) {
    const item = this.items.get(id);
    if (!item) return;
    if (changes.body !== undefined) {
      item.body = changes.body ? [{ type: "TextualBody", value: changes.body, format: "text/plain" }] : [];
    }
    if (changes.colour) item.colour = changes.colour;
    item.pending = true;
    this.renderAll();
    this.enqueue({ op: "update", id, method: "PATCH", url: this.itemUrl(id), body: changes });
  }

  share(id, visibility, userIds = []) {
    const item = this.items.get(id);
    if (!item) return;
    item.visibility = visibility;
    item.shared_with = visibility === "participants" ? userIds : [];
    item.pending = true;
    this.renderAll();
    this.enqueue({ op: "share", id, method: "PUT", url: `${this.itemUrl(id)}/sharing`,
      body: { visibility, user_ids: item.shared_with } });
  }

  remove(id) {
    if (!window.confirm(this.data.msgConfirmDelete)) return;
    this.items.delete(id);
    this.renderAll();
    this.enqueue({ op: "delete", id, method: "DELETE", url: this.itemUrl(id) });
  }

  // --- Tools ---------------------------------------------------------------------------------

  setTool(tool) {
    if (this.tool === "pen" && tool !== "pen") this.finishDrawing();
    this.tool = tool;
    this.el.pen.setAttribute("aria-pressed", String(tool === "pen"));
    this.el.note.setAttribute("aria-pressed", String(tool === "note"));
    this.root.classList.toggle("annot-mode-pen", tool === "pen");
    this.root.classList.toggle("annot-mode-note", tool === "note");
    this.showHint(this.toolHint());
  }

  setColour(colour) {
    this.colour = colour;
    for (const swatch of this.el.swatches) {
      swatch.setAttribute("aria-checked", String(swatch.dataset.annotColour === colour));
    }
  }

  showHint(text) {
    this.el.hint.textContent = text || "";
    this.el.hint.hidden = !text;
    this.root.classList.toggle("annot-has-hint", Boolean(text));
    this.hintIsError = false;
    // The hint lives in the panel; when the panel is closed, a short message over the pages.
    if (text && this.panel.hidden) this.flashHint(text);
    else if (!text) this.hideToast();
  }

  /** A problem to report (offline, refused): it stays until the queue is sent. */
  showError(text) {
    this.showHint(text);
    this.hintIsError = true;
  }

  toolHint() {
    return this.tool === "pen" ? this.data.msgPenHint : this.tool === "note" ? this.data.msgNoteHint : "";
  }

  flashHint(text) {
    let toast = this.root.querySelector(".annot-toast");
    if (!toast) {
      toast = el("p", "annot-toast");
      toast.setAttribute("role", "status");
      this.root.querySelector(".pdfv-body").append(toast);
    }
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => this.hideToast(), 4000);
  }

  hideToast() {
    clearTimeout(this.toastTimer);
    const toast = this.root.querySelector(".annot-toast");
    if (toast) toast.hidden = true;
  }

  togglePanel(force) {
    const open = force === undefined ? this.panel.hidden : force;
    this.panel.hidden = !open;
    this.el.listToggle.setAttribute("aria-expanded", String(open));
    // The pages get narrower or wider: "fit width" follows (the viewer's ResizeObserver).
  }

  // --- Overlays --------------------------------------------------------------------------------

  layerFor(page) {
    let layer = page.div.querySelector(":scope > .annot-layer");
    if (!layer) {
      // Not aria-hidden: the note pins in it are buttons a keyboard reaches (axe aria-hidden-focus);
      // the ink and highlight shapes have no name and are skipped by screen readers.
      layer = svg("svg", { class: "annot-layer", "data-pdfv-keep": "", preserveAspectRatio: "none" });
      layer.dataset.page = String(page.num);
      this.bindDrawing(layer, page);
      page.div.append(layer);
    }
    const ratio = page.height / page.width;
    layer.setAttribute("viewBox", `0 0 1 ${ratio}`);
    return layer;
  }

  renderAll() {
    for (const page of this.viewer.pages) this.renderPage(page);
    this.renderList();
  }

  renderPage(page) {
    if (!page || !page.div) return;
    const layer = this.layerFor(page);
    const ratio = page.height / page.width;
    const shapes = [];
    for (const item of this.items.values()) {
      if (item.page !== page.num || item.version !== this.version) continue;
      shapes.push(...this.shapes(item, ratio));
    }
    if (this.drawing && this.drawing.page === page) {
      for (const stroke of this.drawing.strokes) shapes.push(this.strokeShape(stroke, this.colour, ratio, true));
    }
    layer.replaceChildren(...shapes);
    if (this.drawing && this.drawing.page === page && this.drawing.live) {
      layer.append(this.drawing.live.node);
    }
  }

  strokeShape(stroke, colour, ratio, pending) {
    const cls = `annot-ink annot-${colour}${pending ? " is-pending" : ""}`;
    const width = stroke.width || PEN_WIDTH;
    if (stroke.points.length === 1) {
      const [x, y] = stroke.points[0];
      return svg("circle", { class: `${cls} annot-dot-mark`, cx: x, cy: y * ratio, r: width / 2 });
    }
    return svg("polyline", { class: cls, "stroke-width": width,
      points: stroke.points.map(([x, y]) => `${x},${round4(y * ratio)}`).join(" ") });
  }

  shapes(item, ratio) {
    const pending = item.pending ? " is-pending" : "";
    const colour = item.colour || "yellow";
    if (item.kind === "pen") {
      const strokes = selectorOf(item, "StrokesSelector")?.strokes || [];
      return strokes.map((stroke) => this.strokeShape(stroke, colour, ratio, item.pending));
    }
    if (item.kind === "highlight") {
      const rects = selectorOf(item, "RectsSelector")?.rects || [];
      return rects.map(([x, y, w, h]) => svg("rect", {
        class: `annot-mark annot-${colour}${pending}`, x, y: y * ratio, width: w, height: h * ratio }));
    }
    const point = selectorOf(item, "PointSelector") || { x: 0, y: 0 };
    const s = NOTE_SIZE;
    const x = Math.min(point.x, 1 - s);
    const y = Math.min(point.y * ratio, ratio - s);
    const pin = svg("g", { class: `annot-pin annot-${colour}${pending}`, tabindex: "0", role: "button" });
    pin.dataset.id = item.annotation_id;
    pin.append(svg("path", {
      d: `M${x} ${y}h${s}v${s * 0.75}h${-s * 0.45}l${-s * 0.3} ${s * 0.25}v${-s * 0.25}h${-s * 0.25}z` }));
    const title = svg("title");
    title.textContent = bodyText(item);
    pin.append(title);
    const open = (event) => {
      event.stopPropagation();
      this.togglePanel(true);
      this.focusItem(item.annotation_id);
    };
    pin.addEventListener("click", open);
    pin.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") open(event); });
    return [pin];
  }

  // --- Drawing -------------------------------------------------------------------------------

  point(event, layer) {
    const rect = layer.getBoundingClientRect();
    return [round4(clamp01((event.clientX - rect.left) / rect.width)),
      round4(clamp01((event.clientY - rect.top) / rect.height))];
  }

  bindDrawing(layer, page) {
    // A note goes where the page is tapped (a click: a finger that scrolls places nothing).
    layer.addEventListener("click", (event) => {
      if (this.tool !== "note") return;
      event.preventDefault();
      this.askNote({ page: page.num, point: this.point(event, layer) });
    });
    layer.addEventListener("pointerdown", (event) => {
      if (this.tool !== "pen") return;
      if (event.pointerType === "pen") this.sawStylus = true;
      if (!event.isPrimary) {
        this.cancelStroke(); // a second finger: a pinch, not a stroke
        return;
      }
      if (event.pointerType === "touch" && this.sawStylus) return; // palm on the glass
      if (event.button > 0) return;
      event.preventDefault();
      if (this.drawing && this.drawing.page !== page) this.finishDrawing();
      if (!this.drawing) this.drawing = { page, strokes: [], live: null, timer: 0 };
      clearTimeout(this.drawing.timer);
      const ratio = page.height / page.width;
      const points = [this.point(event, layer)];
      const node = svg("polyline", { class: `annot-ink annot-${this.colour} is-pending`,
        "stroke-width": PEN_WIDTH, points: `${points[0][0]},${points[0][1] * ratio}` });
      layer.append(node);
      this.drawing.live = { pointerId: event.pointerId, points, node, ratio };
      try {
        layer.setPointerCapture(event.pointerId);
      } catch (error) {
        // synthetic events in tests have no capture
      }
    });
    layer.addEventListener("pointermove", (event) => {
      const live = this.drawing?.live;
      if (!live || live.pointerId !== event.pointerId) return;
      event.preventDefault();
      const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const sample of samples.length ? samples : [event]) {
        const next = this.point(sample, layer);
        const last = live.points[live.points.length - 1];
        if (Math.hypot(next[0] - last[0], (next[1] - last[1]) * live.ratio) < MIN_STEP) continue;
        live.points.push(next);
      }
      live.node.setAttribute("points", live.points.map(([x, y]) => `${x},${round4(y * live.ratio)}`).join(" "));
      if (this.pointCount() + live.points.length >= MAX_POINTS) this.endStroke(event, true);
    });
    const end = (event) => this.endStroke(event, false);
    layer.addEventListener("pointerup", end);
    layer.addEventListener("pointercancel", () => this.cancelStroke());
    layer.addEventListener("lostpointercapture", end);
  }

  pointCount() {
    return (this.drawing?.strokes || []).reduce((n, s) => n + s.points.length, 0);
  }

  endStroke(event, full) {
    const drawing = this.drawing;
    const live = drawing?.live;
    if (!live || live.pointerId !== event.pointerId) return;
    drawing.live = null;
    live.node.remove();
    drawing.strokes.push({ points: live.points, width: PEN_WIDTH });
    this.renderPage(drawing.page);
    if (full || drawing.strokes.length >= MAX_STROKES) {
      this.finishDrawing();
      return;
    }
    clearTimeout(drawing.timer);
    drawing.timer = setTimeout(() => this.finishDrawing(), STROKE_PAUSE_MS);
  }

  cancelStroke() {
    const drawing = this.drawing;
    if (!drawing?.live) return;
    drawing.live.node.remove();
    drawing.live = null;
    if (!drawing.strokes.length) this.drawing = null;
  }

  finishDrawing() {
    const drawing = this.drawing;
    if (!drawing) return;
    clearTimeout(drawing.timer);
    if (drawing.live) {
      drawing.strokes.push({ points: drawing.live.points, width: PEN_WIDTH });
      drawing.live.node.remove();
    }
    this.drawing = null;
    if (drawing.strokes.length) {
      this.create({ kind: "pen", page: drawing.page.num, strokes: drawing.strokes });
    } else {
      this.renderPage(drawing.page);
    }
  }

  // --- Highlight -----------------------------------------------------------------------------

  /** The last text selected in the pages: a tap on "Highlight" may clear the selection first. */
  rememberSelection() {
    const selection = document.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) {
      if (this.lastRange && !this.lastRangeGone) this.lastRangeGone = Date.now();
      return;
    }
    const range = selection.getRangeAt(0);
    const node = range.startContainer.nodeType === 1 ? range.startContainer : range.startContainer.parentElement;
    if (node && node.closest(".textLayer") && this.root.contains(node)) {
      this.lastRange = range.cloneRange();
      this.lastRangeGone = 0;
    }
  }

  highlightSelection() {
    const selection = document.getSelection();
    let range = selection && !selection.isCollapsed && selection.rangeCount ? selection.getRangeAt(0) : null;
    const inViewer = (r) => {
      const node = r && (r.startContainer.nodeType === 1 ? r.startContainer : r.startContainer.parentElement);
      return node && node.closest(".pdfv-page") && this.root.contains(node) ? node.closest(".pdfv-page") : null;
    };
    const recent = this.lastRange && (!this.lastRangeGone || Date.now() - this.lastRangeGone < 10000);
    if (!inViewer(range)) range = recent ? this.lastRange : null;
    const pageDiv = inViewer(range);
    const exact = range ? range.toString().replace(/\s+/g, " ").trim() : "";
    if (!pageDiv || !exact) {
      this.showHint(this.data.msgSelectFirst);
      return;
    }
    const page = this.viewer.pages[Number(pageDiv.dataset.page) - 1];
    const box = pageDiv.getBoundingClientRect();
    const lines = [];
    for (const r of range.getClientRects()) {
      if (r.width < 1 || r.height < 1) continue;
      const left = Math.max(r.left, box.left);
      const right = Math.min(r.right, box.right);
      const top = Math.max(r.top, box.top);
      const bottom = Math.min(r.bottom, box.bottom);
      if (right <= left || bottom <= top) continue; // on another page
      // Text spans of one line come as several rectangles: join them.
      const line = lines.find((l) => Math.abs(l.top - top) < 3 && Math.abs(l.bottom - bottom) < 3);
      if (line) {
        line.left = Math.min(line.left, left);
        line.right = Math.max(line.right, right);
      } else {
        lines.push({ left, right, top, bottom });
      }
    }
    const rects = lines.slice(0, MAX_STROKES).map((l) => [
      round4((l.left - box.left) / box.width), round4((l.top - box.top) / box.height),
      round4((l.right - l.left) / box.width), round4((l.bottom - l.top) / box.height),
    ]).map(([x, y, w, h]) => [x, y, Math.max(0.0001, Math.min(w, 1 - x)), Math.max(0.0001, Math.min(h, 1 - y))]);
    if (!rects.length) {
      this.showHint(this.data.msgSelectFirst);
      return;
    }
    const pageText = (pageDiv.querySelector(".textLayer")?.textContent || "").replace(/\s+/g, " ");
    const at = pageText.indexOf(exact);
    const quote = { exact: exact.slice(0, 4000), prefix: "", suffix: "" };
    if (at >= 0) {
      quote.prefix = pageText.slice(Math.max(0, at - QUOTE_CONTEXT), at);
      quote.suffix = pageText.slice(at + exact.length, at + exact.length + QUOTE_CONTEXT);
    }
    selection?.removeAllRanges();
    this.lastRange = null;
    this.create({ kind: "highlight", page: page.num, rects, quote });
    this.showHint("");
  }

  // --- Notes ---------------------------------------------------------------------------------

  askNote(target) {
    this.noteTarget = target; // {page, point} for a new note, or {id} to edit one
    const item = target.id ? this.items.get(target.id) : null;
    this.el.text.value = item ? bodyText(item) : "";
    if (typeof this.el.dialog.showModal === "function") this.el.dialog.showModal();
    else this.el.dialog.setAttribute("open", "");
    this.el.text.focus();
  }

  onDialogClose() {
    const target = this.noteTarget;
    this.noteTarget = null;
    const text = this.el.text.value.trim();
    if (!target || this.el.dialog.returnValue !== "save" || !text) return;
    if (target.id) this.update(target.id, { body: text });
    else this.create({ kind: "note", page: target.page, point: target.point, body: text });
    this.setTool(null);
  }

  // --- The list --------------------------------------------------------------------------------

  renderList() {
    const all = [...this.items.values()];
    this.el.count.textContent = String(all.length);
    const order = (a, b) => a.page - b.page || String(a.created).localeCompare(String(b.created));
    const current = all.filter((a) => a.version === this.version).sort(order);
    const older = all.filter((a) => a.version !== this.version)
      .sort((a, b) => a.version - b.version || order(a, b));
    const nodes = [];
    if (!all.length) nodes.push(el("p", "annot-empty", this.data.msgEmpty));
    let lastPage = 0;
    for (const item of current) {
      if (item.page !== lastPage) {
        nodes.push(el("h3", "annot-page-head", fmt(this.data.msgPage, { n: item.page })));
        lastPage = item.page;
      }
      nodes.push(this.itemNode(item));
    }
    if (older.length) {
      nodes.push(el("h3", "annot-page-head annot-older-head", this.data.msgOlder));
      nodes.push(el("p", "annot-older-hint", this.data.msgOlderHint));
      for (const item of older) nodes.push(this.itemNode(item));
    }
    this.el.list.replaceChildren(...nodes);
  }

  itemNode(item) {
    const node = el("article", `annot-item${item.pending ? " is-pending" : ""}`);
    node.dataset.id = item.annotation_id;
    node.tabIndex = -1;
    const head = el("div", "annot-item-head");
    head.append(el("span", `annot-dot annot-${item.colour}`));
    const kindLabel = { pen: this.data.msgKindPen, highlight: this.data.msgKindHighlight,
      note: this.data.msgKindNote }[item.kind] || item.kind;
    head.append(el("strong", "", kindLabel));
    const go = el("button", "annot-link", fmt(this.data.msgPage, { n: item.page }));
    go.type = "button";
    go.addEventListener("click", () => this.viewer.goToPage(item.page));
    head.append(go);
    if (item.version !== this.version) {
      head.append(el("span", "badge badge-warn", fmt(this.data.msgOutdated, { n: item.version })));
    }
    if (item.pending) head.append(el("span", "annot-unsaved", this.data.msgNotSavedYet));
    node.append(head);
    if (!item.mine && item.creator?.name) node.append(el("p", "annot-by", fmt(this.data.msgBy, { name: item.creator.name })));
    const quote = selectorOf(item, "TextQuoteSelector");
    if (quote?.exact) node.append(el("blockquote", "annot-quote", quote.exact));
    const text = bodyText(item);
    if (text) node.append(el("p", "annot-text", text));
    if (item.mine) node.append(this.controls(item));
    return node;
  }

  controls(item) {
    const box = el("div", "annot-controls");
    const id = item.annotation_id;
    const label = el("label", "annot-share");
    label.append(el("span", "sr-only", this.data.msgVisibility));
    const select = el("select");
    for (const [value, text] of [["private", this.data.msgPrivate], ["meeting", this.data.msgMeeting],
      ["participants", this.data.msgParticipants]]) {
      const option = el("option", "", text);
      option.value = value;
      option.selected = item.visibility === value;
      select.append(option);
    }
    label.append(select);
    const row = el("div", "annot-actions");
    row.append(label);
    box.append(row);
    const people = el("fieldset", "annot-people-choice");
    people.hidden = item.visibility !== "participants";
    people.append(el("legend", "", this.data.msgChoose));
    const chosen = new Set(item.shared_with || []);
    for (const person of this.candidates) {
      const row = el("label", "annot-person");
      const checkbox = el("input");
      checkbox.type = "checkbox";
      checkbox.value = String(person.id);
      checkbox.checked = chosen.has(person.id);
      row.append(checkbox, el("span", "", person.title ? `${person.full_name} (${person.title})` : person.full_name));
      people.append(row);
    }
    const apply = el("button", "btn", this.data.msgApply);
    apply.type = "button";
    apply.addEventListener("click", () => {
      const ids = [...people.querySelectorAll("input:checked")].map((i) => Number(i.value));
      if (ids.length) this.share(id, "participants", ids);
    });
    people.append(apply);
    select.addEventListener("change", () => {
      people.hidden = select.value !== "participants";
      if (select.value !== "participants") this.share(id, select.value);
    });
    box.append(people);
    if (item.kind === "note") {
      const edit = el("button", "btn", this.data.msgEdit);
      edit.type = "button";
      edit.addEventListener("click", () => this.askNote({ id }));
      row.append(edit);
    }
    const del = el("button", "btn btn-danger", this.data.msgDelete);
    del.type = "button";
    del.addEventListener("click", () => this.remove(id));
    row.append(del);
    return box;
  }

  focusItem(id) {
    const node = [...this.el.list.querySelectorAll(".annot-item")].find((n) => n.dataset.id === id);
    if (!node) return;
    node.scrollIntoView({ block: "nearest" });
    node.focus({ preventScroll: true });
  }
}

function start() {
  for (const root of document.querySelectorAll("[data-pdf-viewer]")) {
    if (!root.querySelector("[data-annotations]") || root.dataset.annotationsReady) continue;
    root.dataset.annotationsReady = "1";
    const go = (viewer) => {
      const annotator = new Annotator(root, viewer);
      root.annotator = annotator;
      annotator.start();
    };
    if (root.pdfViewer) go(root.pdfViewer);
    else root.addEventListener("pdfv:created", (event) => go(event.detail.viewer), { once: true });
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
