// Reordering the agenda: drag and drop with pointer events (mouse, pen and touch alike: HTML5
// drag and drop does nothing on iPad Safari) and "move up"/"move down" buttons for keyboards
// and screen readers. Each change is POSTed as {"order": [ids...]}; when the server refuses,
// the list goes back to the last order it accepted and the reason is announced.
//
// Markup contract (the page template provides it):
//   <ol id="agenda-list" data-reorder-url="..." data-csrf-token="..."
//       data-msg-saved="..." data-msg-failed="..." [data-msg-moved="... {position} ..."]>
//     <li data-item-id="N" [data-minutes="15"]>
//       [<span class="agenda-pos">1</span>] ...
//       <button type="button" class="drag-handle" aria-label="..."></button>
//       <button type="button" class="move-up" aria-label="..."></button>
//       <button type="button" class="move-down" aria-label="..."></button>
//     </li>
//   </ol>
//   <p id="agenda-status" aria-live="polite"></p>      (created after the list when missing)
//   <span id="agenda-total"></span>                      (optional: sum of data-minutes)
// The move buttons may be submit buttons of a no-script form (one step per request): their
// clicks are taken over here. The dragging styles are in static/css/viewer.css, which this
// module links itself when the page has not.

const SAVE_DELAY_MS = 400; // quick successive button presses become one request
const EDGE_PX = 60; // dragging this close to the window's edge scrolls it

export class AgendaReorder {
  constructor(list) {
    this.list = list;
    this.url = list.dataset.reorderUrl;
    this.token = list.dataset.csrfToken || "";
    this.status = document.getElementById("agenda-status") || this.makeStatus();
    this.confirmed = this.ids(); // the last order the server holds
    this.saving = false;
    this.pendingSave = false;
    this.saveTimer = 0;
    this.drag = null;
    list.classList.add("is-reorderable");
    list.addEventListener("click", (event) => this.onClick(event));
    list.addEventListener("keydown", (event) => this.onKeydown(event));
    list.addEventListener("pointerdown", (event) => this.onPointerDown(event));
    this.refresh();
  }

  makeStatus() {
    const status = document.createElement("p");
    status.id = "agenda-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    this.list.after(status);
    return status;
  }

  items() {
    return [...this.list.children].filter((child) => child.matches("li[data-item-id]"));
  }

  ids() {
    return this.items().map((li) => li.dataset.itemId);
  }

  /** Positions, the disabled ends of the up/down buttons, and the total. */
  refresh() {
    const items = this.items();
    items.forEach((li, index) => {
      const pos = li.querySelector(".agenda-pos");
      if (pos) pos.textContent = String(index + 1);
      const up = li.querySelector(".move-up");
      const down = li.querySelector(".move-down");
      if (up) up.disabled = index === 0;
      if (down) down.disabled = index === items.length - 1;
    });
    const total = document.getElementById("agenda-total");
    if (total && items.some((li) => li.dataset.minutes !== undefined)) {
      const minutes = items.reduce((sum, li) => sum + (parseInt(li.dataset.minutes, 10) || 0), 0);
      total.textContent = String(minutes);
    }
  }

  /** Put the items in this order (ids the page does not show are ignored). */
  applyOrder(ids) {
    const byId = new Map(this.items().map((li) => [li.dataset.itemId, li]));
    const ordered = ids.map((id) => byId.get(String(id))).filter(Boolean);
    const rest = this.items().filter((li) => !ordered.includes(li));
    const focused = document.activeElement;
    for (const li of [...ordered, ...rest]) this.list.append(li);
    if (focused instanceof HTMLElement && this.list.contains(focused)) focused.focus({ preventScroll: true });
    this.refresh();
  }

  announce(text, state) {
    if (!text) return;
    // Clear first, so the same message said twice in a row is read out twice.
    this.status.textContent = "";
    this.status.dataset.state = state || "";
    setTimeout(() => { this.status.textContent = text; }, 30);
  }

  // --- Up and down buttons ------------------------------------------------------------------

  onClick(event) {
    const button = event.target.closest("button");
    if (!button || !this.list.contains(button)) return;
    const li = button.closest("li[data-item-id]");
    if (!li) return;
    const step = button.classList.contains("move-up") ? -1 : button.classList.contains("move-down") ? 1 : 0;
    if (!step) return;
    // The buttons may be the submit buttons of a no-script form: the script takes over.
    event.preventDefault();
    this.moveBy(li, step, button);
  }

  onKeydown(event) {
    if (this.drag && event.key === "Escape") {
      event.preventDefault();
      this.endDrag(false);
      return;
    }
    // Arrow keys on the drag handle move the item too.
    const handle = event.target.closest?.(".drag-handle");
    if (!handle || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    event.preventDefault();
    this.moveBy(handle.closest("li[data-item-id]"), event.key === "ArrowUp" ? -1 : 1, handle);
  }

  moveBy(li, step, button) {
    const sibling = step < 0 ? li.previousElementSibling : li.nextElementSibling;
    if (!sibling || !sibling.matches("li[data-item-id]")) return;
    if (step < 0) sibling.before(li);
    else sibling.after(li);
    this.refresh();
    // Keep the focus on the control that moved; at either end, on the other arrow.
    let target = button;
    if (button.disabled) {
      target = li.querySelector(button.classList.contains("move-up") ? ".move-down" : ".move-up") || button;
    }
    target.focus({ preventScroll: true });
    li.scrollIntoView({ block: "nearest" });
    this.flash(li);
    const moved = this.list.dataset.msgMoved;
    if (moved) this.announce(moved.replace("{position}", String(this.items().indexOf(li) + 1)));
    this.scheduleSave(SAVE_DELAY_MS);
  }

  flash(li) {
    li.classList.remove("is-moved");
    void li.offsetWidth; // restart the animation
    li.classList.add("is-moved");
  }

  // --- Dragging ----------------------------------------------------------------------------

  onPointerDown(event) {
    const handle = event.target.closest?.(".drag-handle");
    if (!handle || !this.list.contains(handle) || this.drag) return;
    if (event.pointerType === "mouse" && event.button !== 0) return;
    const li = handle.closest("li[data-item-id]");
    if (!li) return;
    event.preventDefault(); // no text selection, no native drag
    handle.setPointerCapture?.(event.pointerId);
    this.drag = {
      li, handle, pointerId: event.pointerId,
      // Positions in document coordinates, so scrolling during the drag changes nothing.
      startY: event.clientY + window.scrollY,
      originTop: li.getBoundingClientRect().top + window.scrollY,
      clientY: event.clientY, before: this.ids(), moved: false, frame: 0,
    };
    this.onMove = (e) => this.onPointerMove(e);
    this.onUp = (e) => this.onPointerUp(e);
    // On window, not on the handle: the pointer often leaves the handle during a drag.
    window.addEventListener("pointermove", this.onMove, { passive: false });
    window.addEventListener("pointerup", this.onUp);
    window.addEventListener("pointercancel", this.onUp);
  }

  onPointerMove(event) {
    const drag = this.drag;
    if (!drag || event.pointerId !== drag.pointerId) return;
    event.preventDefault();
    drag.clientY = event.clientY;
    if (!drag.moved) {
      if (Math.abs(event.clientY + window.scrollY - drag.startY) < 4) return; // a tap is not a drag
      drag.moved = true;
      drag.li.classList.add("is-dragged");
      this.list.classList.add("is-dragging");
    }
    this.follow();
    this.autoScroll();
  }

  /** Keep the item under the finger; it changes place once its middle passes a neighbour's. */
  follow() {
    const drag = this.drag;
    const { li } = drag;
    const wantedTop = drag.originTop + (drag.clientY + window.scrollY - drag.startY);
    const middle = wantedTop + li.offsetHeight / 2;
    const middleOf = (el) => {
      const rect = el.getBoundingClientRect();
      return rect.top + window.scrollY + rect.height / 2;
    };
    const isItem = (el) => el && el.matches("li[data-item-id]");
    let changed = false;
    // Neighbours move around the dragged item, never the item itself: taking it out of the
    // document, even for an instant, would end its pointer capture.
    for (;;) {
      const prev = li.previousElementSibling;
      const next = li.nextElementSibling;
      if (isItem(prev) && middle < middleOf(prev)) li.after(prev);
      else if (isItem(next) && middle > middleOf(next)) li.before(next);
      else break;
      changed = true;
    }
    li.style.transform = "";
    const naturalTop = li.getBoundingClientRect().top + window.scrollY;
    li.style.transform = `translateY(${wantedTop - naturalTop}px)`;
    if (changed) this.refresh();
  }

  autoScroll() {
    const drag = this.drag;
    if (!drag || drag.frame) return;
    const step = () => {
      drag.frame = 0;
      if (this.drag !== drag) return;
      const y = drag.clientY;
      let dy = 0;
      if (y < EDGE_PX) dy = -Math.ceil((EDGE_PX - y) / 4);
      else if (y > window.innerHeight - EDGE_PX) dy = Math.ceil((y - (window.innerHeight - EDGE_PX)) / 4);
      if (!dy) return;
      const before = window.scrollY;
      window.scrollBy(0, dy);
      if (window.scrollY === before) return;
      this.follow();
      drag.frame = requestAnimationFrame(step);
    };
    drag.frame = requestAnimationFrame(step);
  }

  onPointerUp(event) {
    const drag = this.drag;
    if (!drag || event.pointerId !== drag.pointerId) return;
    this.endDrag(event.type === "pointerup");
  }

  endDrag(keep) {
    const drag = this.drag;
    if (!drag) return;
    this.drag = null;
    const { li, handle } = drag;
    if (drag.frame) cancelAnimationFrame(drag.frame);
    window.removeEventListener("pointermove", this.onMove);
    window.removeEventListener("pointerup", this.onUp);
    window.removeEventListener("pointercancel", this.onUp);
    if (handle.hasPointerCapture?.(drag.pointerId)) handle.releasePointerCapture(drag.pointerId);
    li.style.transform = "";
    li.classList.remove("is-dragged");
    this.list.classList.remove("is-dragging");
    if (!keep) {
      this.applyOrder(drag.before);
      return;
    }
    if (this.ids().join() !== drag.before.join()) {
      this.refresh();
      this.flash(li);
      handle.focus({ preventScroll: true });
      this.scheduleSave(0);
    }
  }

  // --- Saving ------------------------------------------------------------------------------

  scheduleSave(delay) {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.save(), delay);
  }

  async save() {
    if (this.saving) {
      this.pendingSave = true; // one more round once this one is answered
      return;
    }
    const order = this.ids();
    if (order.join() === this.confirmed.join()) return;
    this.saving = true;
    this.list.classList.add("is-saving");
    this.list.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(this.url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": this.token,
        },
        body: JSON.stringify({ order: order.map((id) => (/^\d+$/.test(id) ? Number(id) : id)) }),
      });
      let body = null;
      try {
        body = await response.json();
      } catch (error) {
        body = null;
      }
      if (!response.ok || !body || body.ok !== true) {
        const reason = body && body.error && body.error.message;
        throw new Error(reason || "");
      }
      this.confirmed = Array.isArray(body.order) ? body.order.map(String) : order;
      if (!this.pendingSave && this.confirmed.join() !== this.ids().join() && !this.drag) {
        this.applyOrder(this.confirmed); // the server's order is the truth
      }
      this.announce(this.list.dataset.msgSaved, "ok");
    } catch (error) {
      this.pendingSave = false;
      if (this.drag) this.endDrag(false);
      this.applyOrder(this.confirmed);
      const failed = this.list.dataset.msgFailed || "";
      this.announce(error.message ? `${failed} ${error.message}`.trim() : failed, "error");
    } finally {
      this.saving = false;
      this.list.classList.remove("is-saving");
      this.list.removeAttribute("aria-busy");
      if (this.pendingSave) {
        this.pendingSave = false;
        this.save();
      }
    }
  }
}

function linkStylesheet() {
  const href = new URL("../css/viewer.css", import.meta.url).href;
  const present = [...document.querySelectorAll('link[rel="stylesheet"]')].some((link) => link.href === href);
  if (present) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}

function start() {
  const list = document.getElementById("agenda-list");
  if (!list || !list.dataset.reorderUrl || list.classList.contains("is-reorderable")) return;
  linkStylesheet();
  new AgendaReorder(list);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
