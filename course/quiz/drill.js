// One inject of an ETP Express incident drill, drawn from its widget state. Plain DOM, no build step.
//
// - The card shows when the inject arrived (BRT), what it is and its raw excerpt, then the night's
//   clock: simulated time, running `speed` times faster than real time, until the decision below
//   the card is committed. The kernel stamps decisions with its own clock; this one is for the eye.
// - The first card tells the kernel when it first comes into view: the drill's clock starts then.
// - Key presses stay inside the card (the excerpt scrolls with the keyboard); Ctrl+S still saves.
// - Without a kernel (drawn from the state saved in the notebook) the clock stands still.

const BRT_OFFSET_MS = 3 * 3600 * 1000; // UTC-3 all year (no daylight saving since 2019)
let drawn = 0;

function brtClock(epochMs) {
  return new Date(epochMs - BRT_OFFSET_MS).toISOString().slice(11, 19);
}

function isSave(event) {
  return (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s";
}

function render({ model, el }) {
  const id = `etp-inject-${model.get("step")}-${++drawn}`;
  const title = node("p", { class: "etp-inject-title", id: `${id}-title` });
  const head = node("p", { class: "etp-inject-head" });
  const briefing = node("p", { class: "etp-inject-briefing" });
  const body = node("pre", { class: "etp-inject-body", tabindex: "0", role: "region" });
  const clock = node("span", { class: "etp-inject-clock", role: "timer", "aria-live": "off" });
  const note = node("p", { class: "etp-inject-note", role: "status" });
  const root = node("section", { class: "etp-inject", "aria-labelledby": `${id}-title`,
                                 "data-step": model.get("step") },
    head, briefing, title, body, node("p", {}, clock), note);
  let ticker = null;
  let offline = false;

  function paintText() {
    head.textContent = `Inject ${model.get("step")} of ${model.get("steps")} · ${model.get("kind")} · `
      + `arrived ${model.get("clock")} BRT`;
    briefing.textContent = model.get("briefing");
    briefing.hidden = !model.get("briefing");
    title.textContent = model.get("title");
    body.textContent = model.get("body");
    body.setAttribute("aria-label", `${model.get("title")}: the raw excerpt`);
  }
  function paintClock() {
    const decided = model.get("decided");
    root.toggleAttribute("data-decided", Boolean(decided));
    if (decided) {
      clock.textContent = decided;
    } else if (model.get("started") && model.get("running_since_ms") > 0) {
      const elapsed = Math.max(0, Date.now() - model.get("running_since_ms"));
      const now = model.get("sim_start_ms") + model.get("speed") * elapsed;
      clock.textContent = `Night's clock: ${brtClock(now)} BRT (${model.get("speed")}× real time)`;
    } else {
      clock.textContent = `Night's clock: stopped at ${brtClock(model.get("sim_start_ms"))} BRT; `
        + "it starts when this card is in view";
    }
    note.textContent = offline
      ? "Shown without its kernel: run this cell to go on with the drill."
      : "";
  }
  function tick() {
    const running = !offline && !model.get("decided") && model.get("started");
    if (running && ticker === null) ticker = setInterval(paintClock, 1000);
    if (!running && ticker !== null) { clearInterval(ticker); ticker = null; }
    paintClock();
  }

  const seen = new IntersectionObserver((entries) => {
    if (offline || model.get("started") || model.get("decided")) return;
    if (entries.some((entry) => entry.isIntersecting)) {
      model.send({ event: "seen" });
      seen.disconnect();
    }
  }, { threshold: 0.3 });
  seen.observe(root);

  focusOnClick(root);
  for (const type of ["keydown", "keypress", "keyup"]) {
    root.addEventListener(type, (event) => {
      if (!isSave(event)) event.stopPropagation(); // no notebook shortcut fires from the card
    });
  }
  for (const name of ["step", "steps", "kind", "clock", "title", "body", "briefing"]) {
    model.on(`change:${name}`, paintText);
  }
  for (const name of ["started", "decided", "sim_start_ms", "running_since_ms", "speed"]) {
    model.on(`change:${name}`, tick);
  }
  const followKernel = () => { offline = el.classList.contains(DISCONNECTED); tick(); };
  const observer = new MutationObserver(followKernel);
  el.classList.add("etp-inject-host");
  observer.observe(el, { attributes: true, attributeFilter: ["class"] });
  paintText();
  followKernel();
  el.append(root);
  return () => {
    observer.disconnect();
    seen.disconnect();
    if (ticker !== null) clearInterval(ticker);
  };
}

export default { render };
