// One ETP Express quiz in the browser, drawn from its widget state. Plain DOM, no build step.
//
// - The answer travels inside the Submit message: the kernel grades what the page shows, however
//   fast it was typed or pasted. Enter in a text box submits.
// - Key presses stay inside the quiz, so no notebook shortcut fires while a control has focus.
// - Every control has a plain-words name and exposes its state (aria-checked, aria-pressed).
// - A widget without a kernel (drawn from the state saved in the notebook) is read-only.

const VERDICT_WORDS = { right: "your answer: correct", wrong: "your answer: not correct" };
let drawn = 0; // makes element ids unique when one quiz is shown twice

function badge(verdict) {
  return node("span", { class: `etp-badge etp-badge-${verdict}` },
    node("span", { "aria-hidden": "true", text: verdict === "right" ? "✔ " : "✘ " }),
    VERDICT_WORDS[verdict]);
}

function clearBadges(container) {
  container.querySelectorAll(".etp-badge").forEach((old) => old.remove());
  for (const marked of [container, ...container.querySelectorAll("[data-verdict]")]) {
    delete marked.dataset.verdict;
  }
}

// -- inputs: each returns { element, get(), set(response), mark(verdict), lock(readOnly) } and
//    may add dispose() ------------------------------------------------------------------------

function choiceInput({ fields, kind, ids, changed }) {
  const multiple = kind === "multiple_select";
  const group = node("div", { class: "etp-options", role: multiple ? "group" : "radiogroup",
                              "aria-labelledby": ids.prompt });
  const buttons = fields.options.map((option) => {
    const button = node("button", { type: "button", class: "etp-option", role: multiple ? null : "radio" },
      node("span", { class: "etp-check", "aria-hidden": "true" }),
      node("span", { class: "etp-option-text", text: option }));
    button.addEventListener("click", () => { choose(option); changed(); });
    group.append(button);
    return button;
  });
  let chosen = new Set();

  function paint() {
    buttons.forEach((button, index) => {
      const on = chosen.has(fields.options[index]);
      button.setAttribute(multiple ? "aria-pressed" : "aria-checked", String(on));
      button.classList.toggle("etp-chosen", on);
    });
    if (!multiple) { // one tab stop for the group, on the chosen option (radio group pattern)
      const current = Math.max(0, fields.options.findIndex((option) => chosen.has(option)));
      buttons.forEach((button, index) => { button.tabIndex = index === current ? 0 : -1; });
    }
  }
  function choose(option) {
    if (!multiple) chosen = new Set([option]);
    else if (chosen.has(option)) chosen.delete(option);
    else chosen.add(option);
    paint();
  }
  if (!multiple) {
    group.addEventListener("keydown", (event) => {
      const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
      const index = buttons.indexOf(event.target.closest(".etp-option"));
      if (!step || index < 0) return;
      event.preventDefault();
      const next = (index + step + buttons.length) % buttons.length;
      choose(fields.options[next]);
      changed();
      buttons[next].focus();
    });
  }
  paint();
  return {
    element: group,
    get: () => (multiple ? fields.options.filter((option) => chosen.has(option))
                         : fields.options.find((option) => chosen.has(option)) ?? null),
    set(response) {
      const picked = multiple ? response || [] : response == null ? [] : [response];
      chosen = new Set(picked);
      paint();
    },
    mark(verdict) {
      clearBadges(group);
      if (!verdict) return;
      buttons.forEach((button, index) => {
        if (!chosen.has(fields.options[index])) return;
        button.dataset.verdict = verdict;
        button.append(badge(verdict));
      });
    },
    lock(readOnly) { buttons.forEach((button) => { button.disabled = readOnly; }); },
  };
}

function textInput({ fields, kind, ids, changed }) {
  const numeric = kind === "numeric";
  const input = node("input", { type: "text", class: "etp-text", id: ids.input, // labelled by the prompt
    "aria-describedby": fields.unit ? ids.unit : null,
    placeholder: fields.placeholder, inputmode: numeric ? "decimal" : null,
    autocomplete: "off", spellcheck: "false" });
  const row = node("div", { class: "etp-text-row" }, input);
  if (fields.unit) row.append(node("span", { class: "etp-unit", id: ids.unit, text: fields.unit }));
  input.addEventListener("input", changed);
  return {
    element: row,
    get: () => input.value,
    set(response) { input.value = response == null ? "" : String(response); },
    mark(verdict) {
      clearBadges(row);
      input.removeAttribute("aria-invalid");
      if (!verdict) return;
      row.dataset.verdict = verdict;
      row.append(badge(verdict));
      if (verdict === "wrong") input.setAttribute("aria-invalid", "true");
    },
    lock(readOnly) { input.readOnly = readOnly; input.disabled = readOnly; },
  };
}

function orderingInput({ fields, ids, changed, announce }) {
  let order = [...fields.items];
  let readOnly = false;
  const list = node("ol", { class: "etp-order", "aria-labelledby": ids.prompt });
  const wrapper = node("div", { class: "etp-order-wrap" }, list);
  const rows = order.map((_, index) => {
    const label = node("span", { class: "etp-order-label" });
    const up = node("button", { type: "button", class: "etp-move" },
      node("span", { "aria-hidden": "true", text: "↑ " }), "Up");
    const down = node("button", { type: "button", class: "etp-move" },
      node("span", { "aria-hidden": "true", text: "↓ " }), "Down");
    up.addEventListener("click", () => move(index, -1));
    down.addEventListener("click", () => move(index, +1));
    const row = node("li", { class: "etp-order-row" }, label,
      node("span", { class: "etp-move-buttons" }, up, down));
    list.append(row);
    return { row, label, up, down };
  });

  function paint() {
    rows.forEach(({ label, up, down }, index) => {
      label.textContent = order[index];
      up.setAttribute("aria-label", `Move "${order[index]}" up`);
      down.setAttribute("aria-label", `Move "${order[index]}" down`);
      up.disabled = readOnly || index === 0;
      down.disabled = readOnly || index === order.length - 1;
    });
  }
  function move(index, offset) {
    const target = index + offset;
    if (target < 0 || target >= order.length) return;
    [order[index], order[target]] = [order[target], order[index]];
    paint();
    changed();
    const moved = rows[target]; // focus follows the item, so the next press moves it again
    const same = offset < 0 ? moved.up : moved.down;
    (same.disabled ? (offset < 0 ? moved.down : moved.up) : same).focus();
    announce(`"${order[target]}" is now step ${target + 1} of ${order.length}.`);
  }
  paint();
  return {
    element: wrapper,
    get: () => [...order],
    set(response) {
      const same = Array.isArray(response) && [...response].sort().join("\u001f") === [...fields.items].sort().join("\u001f");
      if (same) { order = [...response]; paint(); }
    },
    mark(verdict) {
      clearBadges(wrapper);
      if (!verdict) return;
      wrapper.dataset.verdict = verdict;
      wrapper.append(badge(verdict));
    },
    lock(locked) { readOnly = locked; paint(); },
  };
}

function textWidth(element, text) {
  textWidth.context = textWidth.context || document.createElement("canvas").getContext("2d");
  textWidth.context.font = getComputedStyle(element).font;
  return textWidth.context.measureText(text).width;
}

function matchingInput({ fields, ids, changed }) {
  const group = node("div", { class: "etp-match", role: "group", "aria-labelledby": ids.prompt });
  const wrapper = node("div", { class: "etp-match-wrap" }, group);
  const selects = fields.left.map((item, index) => {
    const id = `${ids.base}-match-${index}`;
    const select = node("select", { id, class: "etp-select" },
      node("option", { value: "", text: "— choose —" }),
      ...fields.right.map((choice) => node("option", { value: choice, text: choice })));
    // A drop-down cannot wrap its text: when the choice does not fit, it is also written out below.
    const full = node("p", { class: "etp-match-full", "aria-hidden": "true", hidden: true });
    const fit = () => {
      const narrow = select.value && textWidth(select, select.value) > select.clientWidth - 36;
      full.textContent = narrow ? select.value : "";
      full.hidden = !narrow;
      select.title = select.value;
    };
    select.addEventListener("change", () => { fit(); changed(); });
    group.append(node("div", { class: "etp-match-row" },
      node("label", { for: id, class: "etp-match-label", text: item }), select, full));
    return { item, select, fit };
  });
  const fitAll = () => selects.forEach(({ fit }) => fit());
  const resized = new ResizeObserver(fitAll);
  resized.observe(group);
  return {
    element: wrapper,
    get: () => Object.fromEntries(selects.map(({ item, select }) => [item, select.value || null])),
    set(response) {
      selects.forEach(({ item, select }) => {
        const value = response && response[item];
        select.value = fields.right.includes(value) ? value : "";
      });
      fitAll();
    },
    mark(verdict) {
      clearBadges(wrapper);
      if (!verdict) return;
      wrapper.dataset.verdict = verdict;
      wrapper.append(badge(verdict));
    },
    lock(readOnly) { selects.forEach(({ select }) => { select.disabled = readOnly; }); },
    dispose() { resized.disconnect(); },
  };
}

const INPUTS = {
  single_choice: choiceInput,
  multiple_select: choiceInput,
  numeric: textInput,
  short_text: textInput,
  ordering: orderingInput,
  matching: matchingInput,
};
const LABELLED = { numeric: true, short_text: true };

// -- the quiz -------------------------------------------------------------------------------

function isSave(event) {
  return (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s";
}

function render({ model, el }) {
  const qid = model.get("qid");
  const base = `etp-${qid.replace(/[^A-Za-z0-9_-]/g, "_")}-${++drawn}`;
  const ids = { base, prompt: `${base}-prompt`, input: `${base}-input`, unit: `${base}-unit` };
  const kind = model.get("kind");
  const spoken = node("p", { class: "etp-sr-only", "aria-live": "polite" });
  const input = INPUTS[kind]({
    fields: model.get("fields"), kind, ids,
    changed: () => input.mark(""), // a changed answer is no longer the one that was judged
    announce: (text) => { spoken.textContent = text; },
  });
  const submit = node("button", { type: "button", class: "etp-submit", text: "Submit answer" });
  const status = node("p", { class: "etp-status", role: "status" });
  const feedback = node("div", { class: "etp-feedback" });
  const root = node("section", { class: "etp-quiz", "aria-labelledby": ids.prompt,
                                 "data-qid": qid, "data-kind": kind },
    node("div", { class: "etp-quiz-kind", text: `Quiz · ${model.get("kind_label")}` }), // qid: data-qid
    // A text box's prompt is its <label>: a real label, not only a reference or a description.
    node(LABELLED[kind] ? "label" : "p", { class: "etp-quiz-prompt", id: ids.prompt,
                                           for: LABELLED[kind] ? ids.input : null, text: model.get("prompt") }),
    input.element,
    node("div", { class: "etp-actions" }, submit, status),
    feedback, spoken);
  let readOnly = false;
  let waiting = false;

  function paint() {
    input.lock(readOnly);
    submit.disabled = readOnly || model.get("locked");
    submit.setAttribute("aria-disabled", String(waiting || submit.disabled)); // keeps focus while saving
    root.toggleAttribute("data-readonly", readOnly);
    root.toggleAttribute("data-waiting", waiting);
    if (readOnly) status.textContent = model.get("response") != null || model.get("verdict")
      ? "Your saved answer, shown read-only: run this cell to answer again."
      : "Shown read-only without its kernel: run this cell to answer.";
    else if (waiting) status.textContent = "Saving your answer…";
    else status.textContent = "";
  }
  function showCommitted() {
    input.set(model.get("response"));
    input.mark(model.get("verdict"));
  }
  function commit() {
    if (readOnly || waiting || model.get("locked")) return;
    waiting = true;
    paint();
    model.send({ event: "submit", response: input.get() });
  }

  submit.addEventListener("click", commit);
  focusOnClick(root);
  for (const type of ["keydown", "keypress", "keyup"]) {
    root.addEventListener(type, (event) => {
      if (isSave(event)) return; // Ctrl+S / Cmd+S still saves the notebook
      event.stopPropagation(); // JupyterLab handles keys as they bubble: none reaches the notebook
      const enterInText = event.key === "Enter" && event.target.matches("input.etp-text");
      if (type === "keydown" && enterInText && !event.isComposing) {
        event.preventDefault();
        commit();
      }
    });
  }
  model.on("msg:custom", (message) => {
    if (message && message.event === "done") {
      waiting = false;
      if (message.recorded) showCommitted();
      paint();
    }
  });
  model.on("change:response", showCommitted);
  model.on("change:verdict", showCommitted);
  model.on("change:feedback", () => { feedback.innerHTML = model.get("feedback"); });
  model.on("change:locked", paint);

  const followKernel = () => { readOnly = el.classList.contains(DISCONNECTED); paint(); };
  const observer = new MutationObserver(followKernel); // the kernel can go (restart, shutdown)
  el.classList.add("etp-quiz-host");
  observer.observe(el, { attributes: true, attributeFilter: ["class"] });
  feedback.innerHTML = model.get("feedback");
  showCommitted();
  followKernel();
  el.append(root);
  return () => {
    observer.disconnect();
    if (input.dispose) input.dispose();
  };
}

export default { render };
