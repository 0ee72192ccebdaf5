// Submit in nbgrader's Assignment List hands in the files on disk. This plugin saves every open,
// modified document of that assignment first, so a submission never holds less than the trainee
// sees; if a save fails, nothing is submitted and the trainee is told why.
const SUBMIT = '#nbgrader-assignment-list #fetched_assignments_list .list_item button';

function assignmentOf(button) {
  const row = button.closest('.list_item');
  const name = row && row.querySelector('.item_name');
  return name ? name.textContent.trim() : '';
}

function unsavedDocuments(app, assignment) {
  const found = [];
  for (const widget of app.shell.widgets('main')) {
    const context = widget.context;
    if (!context || !context.model || !context.model.dirty || found.includes(context)) continue;
    if (context.path.split('/').slice(0, -1).includes(assignment)) found.push(context);
  }
  return found;
}

async function saveThenSubmit(app, button, assignment) {
  const label = button.textContent;
  button.textContent = 'saving...';
  try {
    for (const context of unsavedDocuments(app, assignment)) await context.save();
  } catch (error) {
    button.textContent = label;
    app.commands.execute('apputils:notify', {
      type: 'error',
      message: `Not submitted: saving your work in ${assignment} failed (${error.message || error}). ` +
        'Save it with File > Save, then press Submit again.',
      options: { autoClose: false }
    });
    return;
  }
  button.textContent = label;
  button.dataset.etpSaved = '1';
  button.click(); // nbgrader's own Submit, now on the saved files
}

module.exports = {
  id: 'etp-academy:save-before-submit',
  description: 'Saves the open notebooks of an assignment before nbgrader submits it.',
  autoStart: true,
  activate: (app) => {
    document.addEventListener('click', (event) => {
      const button = event.target.closest && event.target.closest(SUBMIT);
      if (!button || button.textContent.trim() !== 'Submit') return;
      if (button.dataset.etpSaved) {
        delete button.dataset.etpSaved;
        return;
      }
      const assignment = assignmentOf(button);
      if (!assignment || !unsavedDocuments(app, assignment).length) return;
      event.preventDefault();
      event.stopPropagation(); // capture phase: nbgrader's handler waits for the saves
      saveThenSubmit(app, button, assignment);
    }, true);
  }
};
