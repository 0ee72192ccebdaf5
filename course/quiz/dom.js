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

