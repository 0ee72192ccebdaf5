// DOM helpers shared by quiz.js and drill.js: each widget's module is this file followed by its own.

const DISCONNECTED = "jupyter-widgets-disconnected"; // ipywidgets' class for a model with no kernel

// An element with attributes (false/null/undefined left out, "text" sets its text) and children.
function node(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children);
  return element;
}


// A click on a widget's text (not on one of its controls) puts the focus in the widget, so the next
// key press stays there instead of reaching the notebook's command mode (`b` would insert a cell).
function focusOnClick(root) {
  root.tabIndex = -1;
  root.addEventListener("click", () => {
    if (!root.contains(document.activeElement)) root.focus({ preventScroll: true });
  });
}
