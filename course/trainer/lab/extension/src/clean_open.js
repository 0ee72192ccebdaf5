// Opening a worked notebook is not an edit. With widget state saved in the notebook, ipywidgets marks
// a notebook modified for every widget it restores on open, so closing it would ask to save an
// unchanged file. This plugin clears that mark while nothing but restored widgets changed: the
// cells and metadata are as last loaded or saved, and the trainee has not clicked or typed in it.

function content(model) {
  const { metadata, ...rest } = model.toJSON();
  const { widgets, ...kept } = metadata || {}; // written by ipywidgets at save time only
  return JSON.stringify({ ...rest, metadata: kept });
}

function keepCleanWhileUntouched(panel, context) {
  let touched = false;
  let loaded = null;
  for (const type of ['keydown', 'mousedown', 'paste', 'drop']) {
    panel.node.addEventListener(type, () => { touched = true; }, true);
  }
  const remember = () => { touched = false; loaded = content(context.model); };
  context.ready.then(() => {
    remember();
    context.saveState.connect((_, state) => { if (state === 'completed') remember(); });
    context.model.stateChanged.connect((model, change) => {
      if (change.name !== 'dirty' || !change.newValue || touched || loaded === null) return;
      if (content(model) === loaded) model.dirty = false;
    });
  });
}

module.exports = {
  id: 'etp-academy:clean-open',
  description: 'Opening a notebook with saved widgets does not mark it modified.',
  autoStart: true,
  activate: (app) => {
    app.docRegistry.addWidgetExtension('Notebook', { createNew: keepCleanWhileUntouched });
  }
};
