// Ballot pages, progressively enhanced (every page works without this script):
// - the answer form: the comment box of a question opens for "Ý kiến khác" (where it is required)
//   and otherwise stays behind an "add a comment" link unless it already holds text;
// - the drafting form: add and remove question boxes without posting the form back;
// - the result: the live response bar, following `ballot.progress` on the shared socket
//   (window.cabinet.socket, see app.js). No inline scripts (CSP): strings come in data-* attributes.

const OTHER = "other";

// --- the answer form --------------------------------------------------------------------------

function enhanceQuestion(fieldset) {
  const box = fieldset.querySelector("[data-comment]");
  const textarea = box && box.querySelector("textarea");
  if (!textarea) return;
  const radios = [...fieldset.querySelectorAll("input[data-choice]")];
  const add = document.createElement("button");
  add.type = "button";
  add.className = "add-comment";
  add.textContent = fieldset.closest("form")?.dataset.msgAddComment || "+";
  box.after(add);

  function update(focus) {
    const other = radios.some((r) => r.checked && r.value === OTHER);
    fieldset.classList.toggle("is-other", other);
    textarea.required = other;
    const show = other || textarea.value.trim() !== "" || fieldset.classList.contains("has-error");
    box.hidden = !show;
    add.hidden = show;
    if (other && focus && textarea.value.trim() === "") textarea.focus({ preventScroll: false });
  }
  radios.forEach((r) => r.addEventListener("change", () => update(true)));
  add.addEventListener("click", () => {
    box.hidden = false;
    add.hidden = true;
    textarea.focus();
  });
  update(false);
}

document.querySelectorAll("[data-answer-form] [data-question]").forEach(enhanceQuestion);

// --- the drafting form: the list of questions ------------------------------------------------------

function enhanceQuestions(fieldset) {
  const list = fieldset.querySelector("[data-question-list]");
  const addButton = fieldset.querySelector("[data-add-question]");
  if (!list || !addButton) return;
  const labelFor = (n) => (fieldset.dataset.msgLabel || "Question {n}").replace("{n}", String(n));
  let next = list.querySelectorAll("textarea").length;

  function renumber() {
    const entries = [...list.querySelectorAll("[data-question-entry]")];
    entries.forEach((entry, index) => {
      entry.querySelector("[data-question-label]").textContent = labelFor(index + 1);
      const remove = entry.querySelector("[data-remove-question]");
      if (remove) remove.hidden = entries.length <= 1;
    });
  }

  function addRemove(entry) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn btn-danger";
    remove.dataset.removeQuestion = "";
    remove.textContent = fieldset.dataset.msgRemove || "Remove";
    remove.addEventListener("click", () => {
      entry.remove();
      renumber();
      list.querySelector("textarea")?.focus();
    });
    entry.querySelector(".question-row").append(remove);
  }

  list.querySelectorAll("[data-question-entry]").forEach(addRemove);

  addButton.addEventListener("click", (event) => {
    event.preventDefault();
    const template = list.querySelector("[data-question-entry]");
    const entry = template.cloneNode(true);
    // WTForms reads questions-<n> in index order and tolerates gaps: a fresh index is enough.
    const id = `questions-${next++}`;
    const textarea = entry.querySelector("textarea");
    textarea.id = id;
    textarea.name = id;
    textarea.value = "";
    textarea.removeAttribute("aria-invalid");
    entry.querySelector("label").htmlFor = id;
    entry.querySelectorAll(".error, [data-remove-question]").forEach((el) => el.remove());
    list.append(entry);
    addRemove(entry);
    renumber();
    textarea.focus();
  });
  renumber();
}

document.querySelectorAll("[data-questions]").forEach(enhanceQuestions);

// --- the live response bar ------------------------------------------------------------------------

function liveBar(section) {
  const ballotId = Number(section.dataset.ballotId);
  const bar = section.querySelector("[data-role=bar]");
  const responded = section.querySelector("[data-role=responded]");
  const recipients = section.querySelector("[data-role=recipients]");
  const percent = section.querySelector("[data-role=percent]");
  const live = section.querySelector("[data-role=live]");
  const changed = section.querySelector("[data-role=changed]");
  const initialStatus = section.dataset.status;

  function show(progress) {
    if (!progress || progress.ballot_id !== ballotId) return;
    const total = Number(progress.recipients) || 0;
    const count = Number(progress.responded) || 0;
    bar.max = total || 1;
    bar.value = count;
    bar.textContent = `${count}/${total}`;
    responded.textContent = String(count);
    recipients.textContent = String(total);
    percent.textContent = String(total ? Math.round((100 * count) / total) : 0);
    if (!changed) return;
    if (progress.status && progress.status !== initialStatus) {
      changed.textContent = section.dataset.msgChanged;
      changed.hidden = false;
    } else if (count !== Number(section.dataset.rendered) && document.getElementById("result")) {
      // The bar follows live; the per-question counts below were rendered with the page.
      changed.textContent = section.dataset.msgNewAnswers;
      changed.hidden = false;
    }
  }

  function setLive(state) {
    if (!live) return;
    live.dataset.state = state;
    live.textContent = state === "live" ? section.dataset.msgLive : section.dataset.msgOffline;
  }

  function watch(socket) {
    socket.emit("ballot.watch", { ballot_id: ballotId }, (ack) => {
      if (ack && ack.ok) {
        setLive("live");
        show(ack);
      } else {
        setLive("offline");
      }
    });
  }

  function attach(socket) {
    if (!socket) return;
    socket.on("ballot.progress", show);
    // Every (re)connection joins the room again: the server forgets rooms with the connection.
    socket.on("connect", () => watch(socket));
    socket.on("disconnect", () => setLive("offline"));
    if (socket.connected) watch(socket);
  }

  const socket = window.cabinet && window.cabinet.socket;
  if (socket) attach(socket);
  else document.addEventListener("cabinet:socket", (event) => attach(event.detail), { once: true });
}

document.querySelectorAll("[data-ballot-progress]").forEach(liveBar);
