// PDF viewer for meeting documents: PDF.js (static/vendor/pdfjs) rendering into canvases, with
// a text layer for selection and search, lazy pages and thumbnails, zoom (buttons, keys, pinch,
// Ctrl+wheel) and clear loading and error states. Markup: templates/documents/_pdf_viewer.html.
//
// Choices, and why:
// * We fetch the PDF ourselves (one GET, credentials "same-origin", asking for JSON errors) and
//   hand PDF.js the bytes: one request is one read in the audit trail, a 403 "recalled" or a
//   404 comes back with the server's own message, and the progress bar knows the size.
// * The CSP has no 'unsafe-eval' and no 'wasm-unsafe-eval': isEvalSupported and useWasm are
//   off (PDF.js then uses its JavaScript decoders from vendor/pdfjs/wasm/).
// * Tablets (iPad) cap canvas memory: only pages near the view keep a canvas, a canvas never
//   exceeds 16 megapixels, and thumbnails are kept as small JPEG images, not canvases.
// * Pinch uses touch events: a pointer-based pinch is cancelled (pointercancel) as soon as
//   the browser starts a two-finger pan, and touchmove is the event that can stop it.
//
// Hooks for other modules (static/js/annotations.js): the instance is root.pdfViewer; events on
// the root: pdfv:created, pdfv:pages (pages laid out), pdfv:pagerendered and pdfv:pagesize
// (detail {page}), pdfv:pagechange (detail {num}). A page's children marked data-pdfv-keep
// (an overlay) survive its re-rendering and eviction.

const PDF_TO_CSS = 96 / 72; // PDF points to CSS pixels at 100 %
const ZOOM_STEPS = [0.25, 0.33, 0.5, 0.67, 0.75, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5];
const MIN_ZOOM = ZOOM_STEPS[0];
const MAX_ZOOM = ZOOM_STEPS[ZOOM_STEPS.length - 1];
const MAX_AUTO_ZOOM = 1.25; // fit width, but no wider than this on big screens
const MAX_CANVAS_PIXELS = 4096 * 4096; // iOS Safari's limit for one canvas
const MAX_RENDERED_PAGES = 10; // canvases kept alive
const THUMB_WIDTH = 150; // CSS px the thumbnail image is drawn at
const STALL_MS = 30000; // abort a download that received nothing for this long
const RETRY_DELAYS = [1000, 3000]; // automatic retries after a network failure

function fmt(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  return !["button", "checkbox", "radio", "submit", "reset", "range", "color", "file"].includes(target.type);
}

class LoadError extends Error {
  constructor(message, { kind = "error", status = 0 } = {}) {
    super(message);
    this.kind = kind; // "error", "network", "session"
    this.status = status;
  }
}

// --- Search helpers ------------------------------------------------------------------------
// Text is folded one character at a time so every folded character still points at its
// original item and offset. A query without diacritics ignores them ("nghi dinh" finds
// "Nghị định"); a query with diacritics must match them ("bản" does not find "bàn").

const COMBINING = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;

function foldChar(ch, ignoreMarks) {
  if (/\s/.test(ch)) return " ";
  let out = ch.normalize("NFD").toLowerCase();
  if (ignoreMarks) out = out.replace(COMBINING, "").replace(/đ/g, "d");
  return out;
}

function foldQuery(query, ignoreMarks) {
  let out = "";
  for (const ch of query.trim()) {
    const folded = foldChar(ch, ignoreMarks);
    if (folded === " " && out.endsWith(" ")) continue;
    out += folded;
  }
  return out;
}

function hasMarks(query) {
  return /đ/i.test(query) || query.normalize("NFD") !== query.normalize("NFD").replace(COMBINING, "");
}

/** The page's text, folded, with each folded character's item index and offset. */
function buildIndex(strings, eols, ignoreMarks) {
  let text = "";
  const item = [];
  const offset = [];
  const push = (str, k, i) => {
    if (str === " " && (text === "" || text.endsWith(" "))) return;
    for (const unit of str) {
      text += unit;
      item.push(k);
      offset.push(i);
    }
  };
  strings.forEach((str, k) => {
    let i = 0;
    for (const ch of str) {
      push(foldChar(ch, ignoreMarks), k, i);
      i += ch.length;
    }
    if (eols[k]) push(" ", -1, 0);
  });
  return { text, item, offset };
}

export class PdfViewer {
  constructor(root) {
    this.root = root;
    this.data = root.dataset;
    const q = (role) => root.querySelector(`[data-role="${role}"]`);
    const act = (name) => root.querySelector(`[data-action="${name}"]`);
    this.el = {
      main: q("main"), pages: q("pages"), thumbs: q("thumbs"),
      status: q("status"), statusText: q("status-text"), progress: q("progress"),
      error: q("error"), errorText: q("error-text"),
      pageInput: q("page-input"), pageTotal: q("page-total"), zoomLevel: q("zoom-level"),
      searchForm: q("search-form"), searchInput: q("search-input"), matchCount: q("match-count"),
      prev: act("prev"), next: act("next"), zoomIn: act("zoom-in"), zoomOut: act("zoom-out"),
      fitWidth: act("fit-width"), thumbsToggle: act("thumbs"), matchPrev: act("match-prev"),
      matchNext: act("match-next"), retry: act("retry"),
    };
    this.pdfjs = null;
    this.doc = null;
    this.loadingTask = null;
    this.pages = []; // per page: {num, div, width, height (points), proxy, text, rendered, ...}
    this.zoom = 1;
    this.fitWidth = true;
    this.currentPage = 1;
    this.visible = new Set();
    this.renderQueueBusy = false;
    this.thumbQueueBusy = false;
    this.visibleThumbs = new Set();
    this.search = { query: "", matches: [], index: -1, token: 0, ignoreMarks: true, folded: "" };
    this.errorKind = null;
    this.bindControls();
  }

  // --- Loading -----------------------------------------------------------------------------

  async open() {
    this.reset();
    this.showError(null);
    this.showStatus(this.data.msgLoading, null);
    try {
      const [pdfjs, bytes] = await Promise.all([this.loadLibrary(), this.fetchWithRetries()]);
      this.pdfjs = pdfjs;
      this.loadingTask = pdfjs.getDocument({
        data: bytes,
        isEvalSupported: false,
        useWasm: false,
        wasmUrl: this.data.wasmUrl,
        cMapUrl: this.data.cmapUrl,
        cMapPacked: true,
        standardFontDataUrl: this.data.standardFontUrl,
        enableXfa: false,
      });
      this.doc = await this.loadingTask.promise;
      await this.setUpPages();
      this.showStatus(null);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Forget a previous attempt (the "Try again" button reopens from scratch). */
  reset() {
    this.pageObserver?.disconnect();
    this.thumbObserver?.disconnect();
    this.resizeObserver?.disconnect();
    this.loadingTask?.destroy();
    this.loadingTask = null;
    this.doc = null;
    this.pages = [];
    this.visible.clear();
    this.visibleThumbs.clear();
    this.currentThumb = null;
    this.el.pages.replaceChildren();
    this.el.thumbs.replaceChildren();
    this.root.classList.remove("is-ready");
  }

  async loadLibrary() {
    if (this.pdfjs) return this.pdfjs;
    let url = this.data.libUrl || new URL("../vendor/pdfjs/pdf.min.mjs", import.meta.url).href;
    // A failed import() is remembered for its URL until the page reloads: ask again under a
    // new one after a network failure.
    this.libAttempts = (this.libAttempts || 0) + 1;
    if (this.libAttempts > 1) url += `${url.includes("?") ? "&" : "?"}retry=${this.libAttempts}`;
    let pdfjs;
    try {
      pdfjs = await import(url);
    } catch (error) {
      throw new LoadError(this.data.msgOffline, { kind: "network" });
    }
    pdfjs.GlobalWorkerOptions.workerSrc = this.data.workerUrl
      || new URL("../vendor/pdfjs/pdf.worker.min.mjs", import.meta.url).href;
    return pdfjs;
  }

  async fetchWithRetries() {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.fetchPdf();
      } catch (error) {
        if (!(error instanceof LoadError) || error.kind !== "network" || attempt >= RETRY_DELAYS.length) {
          throw error;
        }
        await sleep(RETRY_DELAYS[attempt]);
      }
    }
  }

  async fetchPdf() {
    const controller = new AbortController();
    let stallTimer = setTimeout(() => controller.abort(), STALL_MS);
    const poke = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => controller.abort(), STALL_MS);
    };
    let response;
    try {
      response = await fetch(this.data.url, {
        credentials: "same-origin",
        // JSON first: the server then answers errors as {"error": {"message": ...}}.
        headers: { Accept: "application/json, application/pdf;q=0.9" },
        signal: controller.signal,
      });
    } catch (error) {
      clearTimeout(stallTimer);
      throw new LoadError(this.data.msgOffline, { kind: "network" });
    }
    try {
      if (!response.ok) {
        throw new LoadError(await this.serverMessage(response), { status: response.status });
      }
      const type = (response.headers.get("Content-Type") || "").toLowerCase();
      if (type.includes("text/html")) {
        // A redirect to the login page ends here: the session is over.
        const kind = response.redirected ? "session" : "error";
        throw new LoadError(kind === "session" ? this.data.msgSession : this.data.msgError, { kind });
      }
      const total = Number(response.headers.get("Content-Length")) || 0;
      if (!response.body || !response.body.getReader) {
        return new Uint8Array(await response.arrayBuffer());
      }
      const reader = response.body.getReader();
      const chunks = [];
      let received = 0;
      for (;;) {
        let result;
        try {
          result = await reader.read();
        } catch (error) {
          throw new LoadError(this.data.msgOffline, { kind: "network" });
        }
        if (result.done) break;
        poke();
        chunks.push(result.value);
        received += result.value.length;
        if (total) this.showStatus(this.data.msgLoading, Math.min(99, Math.round((100 * received) / total)));
      }
      const bytes = new Uint8Array(received);
      let at = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, at);
        at += chunk.length;
      }
      return bytes;
    } finally {
      clearTimeout(stallTimer);
    }
  }

  async serverMessage(response) {
    try {
      const type = response.headers.get("Content-Type") || "";
      if (type.includes("json")) {
        const body = await response.json();
        const message = body && body.error && body.error.message;
        if (message) return String(message);
      }
    } catch (error) {
      // fall through to the generic message
    }
    return this.data.msgError;
  }

  fail(error) {
    if (error instanceof LoadError) console.warn("pdf-viewer:", error.message);
    else console.error("pdf-viewer:", error);
    let message = this.data.msgError;
    let kind = "error";
    let status = 0;
    if (error instanceof LoadError) {
      message = error.message || message;
      kind = error.kind;
      status = error.status;
    }
    this.errorKind = kind;
    this.showStatus(null);
    this.showError(message);
    // Asking again does not change a refusal (403 recalled, 404): no "Try again" then.
    const final = status >= 400 && status < 500 && status !== 408 && status !== 429;
    this.el.retry.hidden = final;
    if (kind === "network") {
      window.addEventListener("online", () => this.retry(), { once: true });
    }
  }

  retry() {
    if (this.el.error.hidden) return;
    if (this.errorKind === "session") {
      window.location.reload();
      return;
    }
    this.open();
  }

  showStatus(text, percent) {
    const { status, statusText, progress } = this.el;
    status.hidden = !text;
    if (!text) return;
    statusText.textContent = text;
    if (typeof percent === "number") progress.value = percent;
    else progress.removeAttribute("value"); // indeterminate
  }

  showError(text) {
    this.el.error.hidden = !text;
    this.el.errorText.textContent = text || "";
    if (text) this.el.main.scrollTop = 0;
  }

  // --- Page layout -------------------------------------------------------------------------

  async setUpPages() {
    const doc = this.doc;
    const first = await doc.getPage(1);
    const base = first.getViewport({ scale: 1 });
    const fragment = document.createDocumentFragment();
    const thumbs = document.createDocumentFragment();
    for (let num = 1; num <= doc.numPages; num += 1) {
      const div = document.createElement("div");
      div.className = "pdfv-page";
      div.dataset.page = String(num);
      div.setAttribute("role", "group");
      div.setAttribute("aria-label", fmt(this.data.msgPage, { n: num, total: doc.numPages }));
      fragment.append(div);
      const page = { num, div, width: base.width, height: base.height, proxy: null, text: null,
        rendered: 0, renderTask: null, textLayer: null, thumb: null, thumbDone: false };
      if (num === 1) page.proxy = first;
      this.pages.push(page);
      thumbs.append(this.makeThumb(page));
    }
    this.el.pages.replaceChildren(fragment);
    this.el.thumbs.replaceChildren(thumbs);
    this.el.pageTotal.textContent = fmt(this.data.msgOfTotal, { total: doc.numPages });
    this.el.pageInput.max = String(doc.numPages);
    for (const control of [this.el.pageInput, this.el.zoomIn, this.el.zoomOut, this.el.fitWidth,
      this.el.searchInput, this.el.thumbsToggle]) {
      control.disabled = false;
    }
    this.root.classList.add("is-ready");
    this.zoom = this.fitZoom();
    this.applyZoom();
    this.observe();
    this.updateCurrentPage(1);
    this.emit("pdfv:pages");
    // Exact sizes for every page (annexes are often landscape), in the background.
    this.loadAllPageSizes();
  }

  async getPage(page) {
    if (!page.proxy) page.proxy = await this.doc.getPage(page.num);
    return page.proxy;
  }

  async loadAllPageSizes() {
    for (const page of this.pages) {
      if (!this.doc) return;
      const proxy = await this.getPage(page);
      const { width, height } = proxy.getViewport({ scale: 1 });
      if (width !== page.width || height !== page.height) {
        const anchor = this.anchor();
        page.width = width;
        page.height = height;
        this.sizePage(page);
        this.sizeThumb(page);
        this.emit("pdfv:pagesize", { page });
        // Only a page above the one being read moves the text under the reader's eyes.
        if (anchor && page.num < anchor.page.num) this.restore(anchor);
      }
    }
  }

  /** The zoom at which the page being read fills the width (a landscape annex does not
   *  shrink the portrait pages around it). */
  fitZoom() {
    const width = this.el.main.clientWidth - 24 - 4; // .pdfv-pages padding, a little air
    const page = this.pages[this.currentPage - 1] || this.pages[0];
    const zoom = width / (page.width * PDF_TO_CSS);
    return clamp(Math.min(zoom, MAX_AUTO_ZOOM), MIN_ZOOM, MAX_ZOOM);
  }

  sizePage(page) {
    const scale = this.zoom * PDF_TO_CSS;
    page.div.style.width = `${Math.floor(page.width * scale)}px`;
    page.div.style.height = `${Math.floor(page.height * scale)}px`;
    page.div.style.setProperty("--scale-factor", String(scale));
  }

  /** Where the reader is: the page at a point of the view, and how far into it. */
  anchor(clientX, clientY) {
    const main = this.el.main;
    const rect = main.getBoundingClientRect();
    const x = clientX === undefined ? main.clientWidth / 2 : clientX - rect.left;
    const y = clientY === undefined ? 0 : clientY - rect.top;
    const page = this.pageAt(main.scrollTop + y) || this.pages[0];
    if (!page) return null;
    const div = page.div;
    return {
      page, x, y,
      fx: (main.scrollLeft + x - div.offsetLeft) / (div.offsetWidth || 1),
      fy: (main.scrollTop + y - div.offsetTop) / (div.offsetHeight || 1),
    };
  }

  restore(anchor) {
    if (!anchor) return;
    const main = this.el.main;
    const div = anchor.page.div;
    main.scrollTop = div.offsetTop + anchor.fy * div.offsetHeight - anchor.y;
    main.scrollLeft = div.offsetLeft + anchor.fx * div.offsetWidth - anchor.x;
  }

  /** The page at a vertical position of the page area's content (binary search). */
  pageAt(y) {
    const pages = this.pages;
    let low = 0;
    let high = pages.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (pages[mid].div.offsetTop <= y) low = mid;
      else high = mid - 1;
    }
    return pages[low];
  }

  // --- Zoom --------------------------------------------------------------------------------

  setZoom(zoom, { fit = false, clientX, clientY } = {}) {
    if (!this.doc) return;
    const next = clamp(zoom, MIN_ZOOM, MAX_ZOOM);
    this.fitWidth = fit;
    if (Math.abs(next - this.zoom) < 0.001) {
      this.updateZoomControls();
      return;
    }
    const anchor = this.anchor(clientX, clientY);
    this.renderingPage?.renderTask?.cancel(); // its picture would be stale
    this.zoom = next;
    this.applyZoom();
    this.restore(anchor);
    this.scheduleRender();
  }

  applyZoom() {
    for (const page of this.pages) this.sizePage(page);
    this.updateZoomControls();
  }

  updateZoomControls() {
    this.el.zoomLevel.textContent = `${Math.round(this.zoom * 100)}%`;
    this.el.zoomIn.disabled = this.zoom >= MAX_ZOOM - 0.001;
    this.el.zoomOut.disabled = this.zoom <= MIN_ZOOM + 0.001;
    this.el.fitWidth.setAttribute("aria-pressed", String(this.fitWidth));
  }

  zoomStep(direction) {
    const steps = direction > 0 ? ZOOM_STEPS : [...ZOOM_STEPS].reverse();
    const next = steps.find((z) => (direction > 0 ? z > this.zoom + 0.001 : z < this.zoom - 0.001));
    if (next) this.setZoom(next);
  }

  // --- Lazy rendering ----------------------------------------------------------------------

  observe() {
    this.pageObserver = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const num = Number(entry.target.dataset.page);
        if (entry.isIntersecting) this.visible.add(num);
        else this.visible.delete(num);
      }
      this.scheduleRender();
    }, { root: this.el.main, rootMargin: "50% 0px" });
    for (const page of this.pages) this.pageObserver.observe(page.div);

    this.thumbObserver = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const num = Number(entry.target.dataset.page);
        if (entry.isIntersecting) this.visibleThumbs.add(num);
        else this.visibleThumbs.delete(num);
      }
      this.renderThumbs();
    }, { root: this.el.thumbs, rootMargin: "100% 0px" });
    for (const page of this.pages) this.thumbObserver.observe(page.thumb);

    // Keep "fit width" true to its name when the tablet turns or the window changes.
    let lastWidth = this.el.main.clientWidth;
    this.resizeObserver = new ResizeObserver(() => {
      const width = this.el.main.clientWidth;
      if (width === lastWidth) return;
      lastWidth = width;
      if (this.fitWidth) this.setZoom(this.fitZoom(), { fit: true });
    });
    this.resizeObserver.observe(this.el.main);
  }

  scheduleRender() {
    if (this.renderQueueBusy) {
      this.renderAgain = true;
      return;
    }
    this.renderQueueBusy = true;
    this.renderAgain = false;
    this.renderLoop().finally(() => {
      this.renderQueueBusy = false;
      if (this.renderAgain) this.scheduleRender();
    });
  }

  async renderLoop() {
    for (;;) {
      const page = this.nextPageToRender();
      if (!page) return;
      this.renderingPage = page;
      try {
        await this.renderPage(page);
      } catch (error) {
        if (error && error.name === "RenderingCancelledException") continue;
        console.error("pdf-viewer: page", page.num, error);
        page.rendered = this.zoom; // do not retry in a loop; a zoom change will
      } finally {
        this.renderingPage = null;
      }
      this.evict();
    }
  }

  nextPageToRender() {
    const current = this.currentPage;
    let best = null;
    for (const num of this.visible) {
      const page = this.pages[num - 1];
      if (page.rendered === this.zoom) continue;
      if (!best || Math.abs(num - current) < Math.abs(best.num - current)) best = page;
    }
    return best;
  }

  async renderPage(page) {
    const zoom = this.zoom;
    const proxy = await this.getPage(page);
    const viewport = proxy.getViewport({ scale: zoom * PDF_TO_CSS });
    const ratio = window.devicePixelRatio || 1;
    const outputScale = Math.min(ratio, Math.sqrt(MAX_CANVAS_PIXELS / (viewport.width * viewport.height)));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.floor(viewport.width * outputScale));
    canvas.height = Math.max(1, Math.floor(viewport.height * outputScale));
    canvas.setAttribute("aria-hidden", "true");
    const task = proxy.render({
      canvas,
      viewport,
      transform: outputScale !== 1 ? [outputScale, 0, 0, outputScale, 0, 0] : null,
    });
    page.renderTask = task;
    try {
      await task.promise;
    } finally {
      page.renderTask = null;
    }
    if (zoom !== this.zoom) {
      canvas.width = canvas.height = 0;
      return; // a newer zoom is queued; this picture is already stale
    }
    const textContent = await this.getText(page);
    const textDiv = document.createElement("div");
    textDiv.className = "textLayer";
    const textLayer = new this.pdfjs.TextLayer({ textContentSource: textContent, container: textDiv, viewport });
    await textLayer.render();
    const end = document.createElement("div");
    end.className = "endOfContent";
    textDiv.append(end);
    this.dropCanvas(page);
    page.div.replaceChildren(canvas, textDiv, ...this.kept(page));
    page.textLayer = textLayer;
    page.rendered = zoom;
    page.div.classList.add("is-rendered");
    this.highlightPage(page);
    this.emit("pdfv:pagerendered", { page });
  }

  /** A page's overlays from other modules, kept when the page is re-rendered or evicted. */
  kept(page) {
    return [...page.div.children].filter((child) => child.hasAttribute("data-pdfv-keep"));
  }

  emit(name, detail = {}) {
    this.root.dispatchEvent(new CustomEvent(name, { detail: { viewer: this, ...detail } }));
  }

  dropCanvas(page) {
    const old = page.div.querySelector("canvas");
    if (old) old.width = old.height = 0; // frees the pixels now, not at garbage collection
  }

  /** Free the canvases of pages far from view: tablets have little canvas memory. */
  evict() {
    const rendered = this.pages.filter((p) => p.rendered && !this.visible.has(p.num));
    const keep = MAX_RENDERED_PAGES - this.visible.size;
    if (rendered.length <= Math.max(0, keep)) return;
    rendered.sort((a, b) => Math.abs(b.num - this.currentPage) - Math.abs(a.num - this.currentPage));
    for (const page of rendered.slice(0, rendered.length - Math.max(0, keep))) {
      page.renderTask?.cancel();
      this.dropCanvas(page);
      page.div.replaceChildren(...this.kept(page));
      page.div.classList.remove("is-rendered");
      page.textLayer = null;
      page.rendered = 0;
      page.proxy?.cleanup();
    }
  }

  async getText(page) {
    if (!page.text) {
      const proxy = await this.getPage(page);
      page.text = await proxy.getTextContent();
    }
    return page.text;
  }

  // --- Thumbnails --------------------------------------------------------------------------

  makeThumb(page) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "pdfv-thumb";
    button.dataset.page = String(page.num);
    button.setAttribute("aria-label", fmt(this.data.msgPage, { n: page.num, total: this.doc.numPages }));
    const frame = document.createElement("span");
    frame.className = "pdfv-thumb-img";
    const label = document.createElement("span");
    label.textContent = String(page.num);
    label.setAttribute("aria-hidden", "true");
    button.append(frame, label);
    button.addEventListener("click", () => {
      this.goToPage(page.num);
      if (window.matchMedia("(max-width: 900px)").matches) this.toggleThumbs(false);
    });
    page.thumb = button;
    this.sizeThumb(page);
    return button;
  }

  sizeThumb(page) {
    page.thumb.firstChild.style.setProperty("--thumb-ratio", String(page.width / page.height));
  }

  toggleThumbs(force) {
    const open = force === undefined ? this.el.thumbs.hidden : force;
    this.el.thumbs.hidden = !open;
    this.el.thumbsToggle.setAttribute("aria-expanded", String(open));
    if (open) {
      this.revealThumb(this.pages[this.currentPage - 1]?.thumb);
      this.renderThumbs();
    }
  }

  /** Scroll the sidebar, and only the sidebar (scrollIntoView would move the whole page too). */
  revealThumb(thumb) {
    const bar = this.el.thumbs;
    if (!thumb || bar.hidden) return;
    if (thumb.offsetTop < bar.scrollTop) bar.scrollTop = thumb.offsetTop - 8;
    else if (thumb.offsetTop + thumb.offsetHeight > bar.scrollTop + bar.clientHeight) {
      bar.scrollTop = thumb.offsetTop + thumb.offsetHeight - bar.clientHeight + 8;
    }
  }

  async renderThumbs() {
    if (this.thumbQueueBusy || this.el.thumbs.hidden || !this.doc) return;
    this.thumbQueueBusy = true;
    try {
      for (;;) {
        const num = [...this.visibleThumbs].find((n) => !this.pages[n - 1].thumbDone);
        if (!num || this.el.thumbs.hidden) break;
        const page = this.pages[num - 1];
        page.thumbDone = true;
        try {
          await this.renderThumb(page);
        } catch (error) {
          console.error("pdf-viewer: thumbnail", num, error);
        }
      }
    } finally {
      this.thumbQueueBusy = false;
    }
  }

  async renderThumb(page) {
    const proxy = await this.getPage(page);
    const base = proxy.getViewport({ scale: 1 });
    const ratio = Math.min(window.devicePixelRatio || 1, 2);
    const viewport = proxy.getViewport({ scale: (THUMB_WIDTH * ratio) / base.width });
    const canvas = document.createElement("canvas");
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    await proxy.render({ canvas, viewport, background: "#fff" }).promise;
    const img = document.createElement("img");
    img.alt = "";
    img.src = canvas.toDataURL("image/jpeg", 0.8); // img-src allows data:, not blob:
    canvas.width = canvas.height = 0;
    page.thumb.firstChild.replaceChildren(img);
  }

  // --- Navigation --------------------------------------------------------------------------

  goToPage(num, { announce = true } = {}) {
    if (!this.doc) return;
    const page = this.pages[clamp(num, 1, this.pages.length) - 1];
    // The last pages may not reach the top of the view: remember which one was asked for.
    this.requestedPage = page.num;
    this.el.main.scrollTop = page.div.offsetTop - 12;
    this.updateCurrentPage(page.num);
    if (announce) this.el.main.focus({ preventScroll: true });
  }

  onScroll() {
    if (this.scrollFrame) return;
    this.scrollFrame = requestAnimationFrame(() => {
      this.scrollFrame = 0;
      const main = this.el.main;
      const page = this.pageAt(main.scrollTop + main.clientHeight / 3);
      if (!page) return;
      let num = page.num;
      const atEnd = main.scrollTop + main.clientHeight >= main.scrollHeight - 2;
      if (atEnd && this.requestedPage > num) num = this.requestedPage;
      else if (!atEnd) this.requestedPage = 0;
      this.updateCurrentPage(num);
    });
  }

  updateCurrentPage(num) {
    const total = this.pages.length;
    const changed = num !== this.currentPage;
    this.currentPage = num;
    if (document.activeElement !== this.el.pageInput) this.el.pageInput.value = String(num);
    this.el.pageInput.title = fmt(this.data.msgPage, { n: num, total });
    this.el.prev.disabled = num <= 1;
    this.el.next.disabled = num >= total;
    if (changed) this.emit("pdfv:pagechange", { num });
    if (changed || !this.currentThumb) {
      this.currentThumb?.removeAttribute("aria-current");
      this.currentThumb = this.pages[num - 1]?.thumb;
      this.currentThumb?.setAttribute("aria-current", "page");
      this.revealThumb(this.currentThumb);
    }
  }

  // --- Search ------------------------------------------------------------------------------

  async runSearch(query) {
    const token = ++this.search.token;
    const ignoreMarks = !hasMarks(query);
    const folded = foldQuery(query, ignoreMarks);
    this.clearHighlights();
    this.search = { query, matches: [], index: -1, token, ignoreMarks, folded };
    this.updateMatchControls();
    if (!folded || !this.doc) return;
    this.setCount(this.data.msgSearching);
    const matches = [];
    for (const page of this.pages) {
      const content = await this.getText(page);
      if (token !== this.search.token) return; // a newer search started
      const key = ignoreMarks ? "indexLoose" : "indexExact";
      if (!page[key]) {
        const items = content.items.filter((item) => item.str !== undefined);
        page[key] = buildIndex(items.map((i) => i.str), items.map((i) => i.hasEOL), ignoreMarks);
      }
      const index = page[key];
      for (let at = index.text.indexOf(folded); at !== -1; at = index.text.indexOf(folded, at + 1)) {
        matches.push({ page: page.num, parts: this.matchParts(index, at, at + folded.length) });
      }
    }
    this.search.matches = matches;
    // Start from the page being read, not from page 1.
    const first = matches.findIndex((m) => m.page >= this.currentPage);
    this.search.index = matches.length ? (first === -1 ? 0 : first) : -1;
    for (const page of this.pages) if (page.textLayer) this.highlightPage(page);
    this.updateMatchControls();
    if (matches.length) this.showMatch();
  }

  /** A match as (item, from, to) ranges over the original item strings. */
  matchParts(index, start, end) {
    const parts = [];
    for (let j = start; j < end; j += 1) {
      const item = index.item[j];
      if (item < 0) continue;
      const last = parts[parts.length - 1];
      const off = index.offset[j];
      if (last && last.item === item) {
        last.from = Math.min(last.from, off);
        last.to = Math.max(last.to, off + 1);
      } else {
        parts.push({ item, from: off, to: off + 1 });
      }
    }
    return parts;
  }

  clearHighlights() {
    for (const page of this.pages) {
      if (!page.highlighted || !page.textLayer) continue;
      const strings = page.textLayer.textContentItemsStr;
      for (const item of page.highlighted) page.textLayer.textDivs[item].textContent = strings[item];
      page.highlighted = null;
    }
  }

  /** Wrap this page's matches in <span class="highlight"> inside the text layer spans. */
  highlightPage(page) {
    const layer = page.textLayer;
    if (!layer) return;
    const strings = layer.textContentItemsStr;
    if (page.highlighted) {
      for (const item of page.highlighted) layer.textDivs[item].textContent = strings[item];
    }
    const byItem = new Map();
    this.search.matches.forEach((match, m) => {
      if (match.page !== page.num) return;
      for (const part of match.parts) {
        if (!byItem.has(part.item)) byItem.set(part.item, []);
        byItem.get(part.item).push({ ...part, selected: m === this.search.index, m });
      }
    });
    page.highlighted = [...byItem.keys()];
    for (const [item, parts] of byItem) {
      const div = layer.textDivs[item];
      const str = strings[item];
      if (!div) continue;
      parts.sort((a, b) => a.from - b.from);
      const nodes = [];
      let at = 0;
      for (const part of parts) {
        if (part.from < at) continue; // overlapping matches: keep the first
        if (part.from > at) nodes.push(document.createTextNode(str.slice(at, part.from)));
        const mark = document.createElement("span");
        mark.className = part.selected ? "highlight selected" : "highlight";
        mark.dataset.match = String(part.m);
        mark.textContent = str.slice(part.from, part.to);
        nodes.push(mark);
        at = part.to;
      }
      if (at < str.length) nodes.push(document.createTextNode(str.slice(at)));
      div.replaceChildren(...nodes);
    }
  }

  stepMatch(direction) {
    const { matches } = this.search;
    if (this.el.searchInput.value !== this.search.query) {
      this.runSearch(this.el.searchInput.value);
      return;
    }
    if (!matches.length) return;
    const old = matches[this.search.index];
    this.search.index = (this.search.index + direction + matches.length) % matches.length;
    if (old) this.refreshPageHighlights(old.page);
    this.showMatch();
  }

  refreshPageHighlights(num) {
    const page = this.pages[num - 1];
    if (page && page.textLayer) this.highlightPage(page);
  }

  async showMatch() {
    const match = this.search.matches[this.search.index];
    this.updateMatchControls();
    if (!match) return;
    const page = this.pages[match.page - 1];
    this.refreshPageHighlights(match.page);
    // Scroll to where the text sits on the page, rendered or not (from the item's position).
    const content = await this.getText(page);
    const proxy = await this.getPage(page);
    const items = content.items.filter((item) => item.str !== undefined);
    const item = items[match.parts[0]?.item];
    const main = this.el.main;
    let top = page.div.offsetTop;
    let left = null;
    if (item) {
      const viewport = proxy.getViewport({ scale: this.zoom * PDF_TO_CSS });
      const [x, y] = viewport.convertToViewportPoint(item.transform[4], item.transform[5]);
      top += y - main.clientHeight / 3;
      left = page.div.offsetLeft + x - 24;
    }
    main.scrollTop = top;
    if (left !== null && (left < main.scrollLeft || left > main.scrollLeft + main.clientWidth - 48)) {
      main.scrollLeft = left;
    }
    this.updateCurrentPage(page.num);
  }

  setCount(text, state) {
    this.el.matchCount.textContent = text || "";
    if (state) this.el.matchCount.dataset.state = state;
    else delete this.el.matchCount.dataset.state;
  }

  updateMatchControls() {
    const { matches, index, folded } = this.search;
    const has = matches.length > 0;
    this.el.matchPrev.disabled = !has;
    this.el.matchNext.disabled = !has;
    if (!folded) this.setCount("");
    else if (!has) this.setCount(this.data.msgNoMatch, "none");
    else this.setCount(fmt(this.data.msgMatch, { current: index + 1, total: matches.length }));
  }

  // --- Input -------------------------------------------------------------------------------

  bindControls() {
    const el = this.el;
    el.retry.addEventListener("click", () => this.retry());
    el.prev.addEventListener("click", () => this.goToPage(this.currentPage - 1, { announce: false }));
    el.next.addEventListener("click", () => this.goToPage(this.currentPage + 1, { announce: false }));
    el.zoomIn.addEventListener("click", () => this.zoomStep(1));
    el.zoomOut.addEventListener("click", () => this.zoomStep(-1));
    el.fitWidth.addEventListener("click", () => this.setZoom(this.fitZoom(), { fit: true }));
    el.thumbsToggle.addEventListener("click", () => this.toggleThumbs());
    el.main.addEventListener("scroll", () => this.onScroll(), { passive: true });

    const jump = () => {
      const num = parseInt(el.pageInput.value, 10);
      if (Number.isFinite(num)) this.goToPage(num, { announce: false });
      el.pageInput.value = String(this.currentPage);
    };
    el.pageInput.addEventListener("change", jump);
    el.pageInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        jump();
        el.pageInput.select();
      }
    });
    el.pageInput.addEventListener("focus", () => el.pageInput.select());

    let debounce = 0;
    el.searchForm.addEventListener("submit", (event) => event.preventDefault());
    el.searchInput.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => this.runSearch(el.searchInput.value), 300);
    });
    el.searchInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        clearTimeout(debounce);
        if (el.searchInput.value !== this.search.query) this.runSearch(el.searchInput.value);
        else this.stepMatch(event.shiftKey ? -1 : 1);
      } else if (event.key === "Escape") {
        el.searchInput.value = "";
        this.runSearch("");
      }
    });
    el.matchNext.addEventListener("click", () => this.stepMatch(1));
    el.matchPrev.addEventListener("click", () => this.stepMatch(-1));

    document.addEventListener("keydown", (event) => this.onKey(event));
    this.bindPinch();
    // Ctrl+wheel (and trackpad pinch on desktops) zooms the document, not the whole page.
    el.main.addEventListener("wheel", (event) => {
      if (!event.ctrlKey || !this.doc) return;
      event.preventDefault();
      const factor = Math.exp(-event.deltaY / 300);
      this.setZoom(this.zoom * factor, { clientX: event.clientX, clientY: event.clientY });
    }, { passive: false });
  }

  onKey(event) {
    if (!this.doc || event.defaultPrevented || event.altKey) return;
    // One viewer answers: the one holding the focus, or the first when nothing has it.
    const active = document.activeElement;
    const inside = this.root.contains(active);
    const idle = !active || active === document.body;
    if (!inside && !(idle && document.querySelector("[data-pdf-viewer]") === this.root)) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key;
    if (mod && (key === "f" || key === "F")) {
      event.preventDefault();
      this.el.searchInput.focus();
      this.el.searchInput.select();
      return;
    }
    if (mod && (key === "+" || key === "=")) { event.preventDefault(); this.zoomStep(1); return; }
    if (mod && key === "-") { event.preventDefault(); this.zoomStep(-1); return; }
    if (mod && key === "0") { event.preventDefault(); this.setZoom(this.fitZoom(), { fit: true }); return; }
    if (mod || isTyping(event.target)) return;
    if (key === "F3") { event.preventDefault(); this.stepMatch(event.shiftKey ? -1 : 1); return; }
    const main = this.el.main;
    // Left and right scroll sideways when the page being read is wider than the view.
    const wide = (this.pages[this.currentPage - 1]?.div.offsetWidth || 0) + 24 > main.clientWidth;
    const onButton = event.target instanceof HTMLButtonElement;
    switch (key) {
      case "ArrowRight":
        if (wide) return;
        event.preventDefault(); this.goToPage(this.currentPage + 1, { announce: !onButton }); break;
      case "ArrowLeft":
        if (wide) return;
        event.preventDefault(); this.goToPage(this.currentPage - 1, { announce: !onButton }); break;
      case "PageDown":
        event.preventDefault(); this.goToPage(this.currentPage + 1, { announce: !onButton }); break;
      case "PageUp":
        event.preventDefault(); this.goToPage(this.currentPage - 1, { announce: !onButton }); break;
      case "Home":
        event.preventDefault(); this.goToPage(1); break;
      case "End":
        event.preventDefault(); this.goToPage(this.pages.length); break;
      case "ArrowDown":
      case "ArrowUp":
        if (active === main) return; // the browser scrolls the focused area itself
        event.preventDefault();
        main.scrollTop += key === "ArrowDown" ? 48 : -48;
        break;
      case "+":
      case "=":
        event.preventDefault(); this.zoomStep(1); break;
      case "-":
        event.preventDefault(); this.zoomStep(-1); break;
      default:
    }
  }

  bindPinch() {
    const main = this.el.main;
    const pagesEl = this.el.pages;
    let pinch = null;
    const distance = (a, b) => Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY);
    main.addEventListener("touchstart", (event) => {
      if (event.touches.length !== 2 || !this.doc) return;
      const [a, b] = event.touches;
      const rect = main.getBoundingClientRect();
      const cx = (a.clientX + b.clientX) / 2;
      const cy = (a.clientY + b.clientY) / 2;
      pinch = {
        start: distance(a, b) || 1, factor: 1, cx, cy,
        // The pinch centre in the content's coordinates, the origin of the preview scaling.
        ox: main.scrollLeft + cx - rect.left, oy: main.scrollTop + cy - rect.top,
      };
      pagesEl.style.transformOrigin = `${pinch.ox}px ${pinch.oy}px`;
      pagesEl.classList.add("is-pinching");
    }, { passive: true });
    main.addEventListener("touchmove", (event) => {
      if (!pinch || event.touches.length !== 2) return;
      if (event.cancelable) event.preventDefault(); // no scrolling or page zoom meanwhile
      const [a, b] = event.touches;
      const wanted = clamp(this.zoom * (distance(a, b) / pinch.start), MIN_ZOOM, MAX_ZOOM);
      pinch.factor = wanted / this.zoom;
      pagesEl.style.transform = `scale(${pinch.factor})`; // cheap preview, no re-render
    }, { passive: false });
    const end = (event) => {
      if (!pinch || event.touches.length >= 2) return;
      const { factor, cx, cy } = pinch;
      pinch = null;
      pagesEl.style.transform = "";
      pagesEl.classList.remove("is-pinching");
      if (Math.abs(factor - 1) > 0.01) this.setZoom(this.zoom * factor, { clientX: cx, clientY: cy });
    };
    main.addEventListener("touchend", end);
    main.addEventListener("touchcancel", end);
    // Safari's own gesture events: keep the browser from zooming the whole page.
    for (const type of ["gesturestart", "gesturechange", "gestureend"]) {
      main.addEventListener(type, (event) => event.preventDefault(), { passive: false });
    }
  }
}

function start() {
  for (const root of document.querySelectorAll("[data-pdf-viewer]")) {
    if (root.dataset.viewerReady) continue;
    root.dataset.viewerReady = "1";
    const viewer = new PdfViewer(root);
    root.pdfViewer = viewer;
    root.dispatchEvent(new CustomEvent("pdfv:created", { detail: { viewer } }));
    viewer.open();
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
