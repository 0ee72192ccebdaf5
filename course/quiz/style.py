"""The quiz look, shipped inline with every quiz: no CDN, so it works on offline hubs."""

CSS = """
<style>
.etp-quiz { border: 1px solid var(--jp-border-color1, #ccc); border-left: 6px solid #3b6fb6;
  border-radius: 8px; padding: 12px 16px; margin: 8px 0; background: var(--jp-layout-color1, #fff);
  max-width: 820px; }
.etp-quiz .etp-quiz-kind { font-size: 0.8em; text-transform: uppercase; letter-spacing: .06em;
  color: var(--jp-ui-font-color2, #666); }
.etp-quiz .etp-quiz-prompt { font-size: 1.08em; font-weight: 600; margin: 4px 0 8px; line-height: 1.4; }
.etp-quiz .etp-option.jupyter-button, .etp-quiz .etp-option { height: auto; min-height: 40px;
  white-space: normal; text-align: left; justify-content: flex-start; padding: 8px 14px;
  margin: 3px 0; border: 2px solid var(--jp-border-color1, #bbb); border-radius: 6px;
  background: var(--jp-layout-color2, #f5f7fa); font-size: 1em; line-height: 1.3; }
.etp-quiz .etp-option:hover { border-color: #3b6fb6; }
.etp-quiz .etp-option:focus-visible { outline: 3px solid #f0b429; outline-offset: 1px; }
.etp-quiz .etp-option.etp-selected, .etp-quiz .etp-option.mod-active { border-color: #3b6fb6;
  background: #dbe7f7; color: #123; font-weight: 600; }
.etp-quiz .etp-submit.jupyter-button { min-width: 120px; height: 36px; font-weight: 600; }
.etp-quiz .etp-feedback { margin-top: 8px; }
.etp-quiz .etp-right, .etp-quiz .etp-wrong, .etp-quiz .etp-note, .etp-quiz .etp-error {
  padding: 8px 12px; border-radius: 6px; line-height: 1.4; }
.etp-quiz .etp-right { background: #e3f4e8; border: 2px solid #2e8b57; color: #174d2e; }
.etp-quiz .etp-wrong { background: #fbe9e9; border: 2px solid #c0392b; color: #6b1d16; }
.etp-quiz .etp-note { background: #fff7e0; border: 2px solid #d4a017; color: #5c4300; }
.etp-quiz .etp-error { background: #fbe9e9; border: 2px dashed #c0392b; color: #6b1d16; }
.etp-quiz .etp-explain { margin-top: 6px; color: var(--jp-ui-font-color1, #222); }
.etp-quiz .etp-order-row { align-items: center; }
.etp-quiz .etp-order-label { flex: 1 1 auto; padding: 6px 10px; border-radius: 6px;
  background: var(--jp-layout-color2, #f5f7fa); margin: 2px 6px 2px 0; }
.etp-quiz .etp-order-row .jupyter-button { width: 40px; height: 32px; }
</style>
"""
