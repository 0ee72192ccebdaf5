"""Checks computed in the page from its own styles and layout, for the browser tests."""

# WCAG 2 contrast of every piece of text in a quiz against the background it is drawn on (colours
# composited through every translucent layer). Returns [{text, ratio, opacity}].
TEXT_CONTRAST = """(quiz) => {
  const parse = (css) => {
    const parts = (css.match(/rgba?\\(([^)]*)\\)/) || [null, '0 0 0 0'])[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const over = (top, bottom) => ({ r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
                                   b: top.b * top.a + bottom.b * (1 - top.a), a: 1 });
  const background = (element) => {
    const layers = [];
    for (let node = element; node; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a >= 1) break;
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), { r: 255, g: 255, b: 255, a: 1 });
  };
  const luminance = ({ r, g, b }) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x); return (hi + 0.05) / (lo + 0.05); };
  const opacity = (element) => { let product = 1; for (let n = element; n; n = n.parentElement) product *= Number(getComputedStyle(n).opacity); return product; };
  const ownText = (element) => element.matches('select') ? (element.selectedOptions[0] || {}).text || ''
    : element.matches('input') ? element.value || element.placeholder
    : [...element.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('');
  return [...quiz.querySelectorAll('*')]
    .filter((element) => !element.closest('.etp-sr-only, option') && element.getClientRects().length)
    .map((element) => ({ element, text: ownText(element).trim() }))
    .filter(({ text }) => text)
    .map(({ element, text }) => {
      const back = background(element);
      const style = getComputedStyle(element);
      const colour = element.matches('input') && !element.value ? getComputedStyle(element, '::placeholder').color : style.color;
      return { text: text.slice(0, 50), ratio: ratio(over(parse(colour), back), back), opacity: opacity(element) };
    });
}"""

# What does not fit at the current width: quiz parts beyond the quiz or its output area, boxes
# whose text is cut, a chosen answer cut in its drop-down and not written out in full below it.
# Returns a list of problems.
OVERFLOW = """(quiz) => {
  const problems = [];
  const area = (quiz.closest('.jp-OutputArea-output') || quiz.parentElement).getBoundingClientRect();
  const right = Math.min(quiz.getBoundingClientRect().right, area.right) + 1;
  if (quiz.getBoundingClientRect().right > area.right + 1) problems.push('the quiz is wider than its output area');
  for (const element of quiz.querySelectorAll('p, label, span, button, input, select, li')) {
    if (!element.getClientRects().length || element.closest('.etp-sr-only')) continue;
    const name = `${element.tagName.toLowerCase()} "${element.textContent.trim().slice(0, 40)}"`;
    if (element.getBoundingClientRect().right > right) problems.push(`${name} sticks out`);
    const inline = getComputedStyle(element).display === 'inline';
    if (!inline && element.scrollWidth > element.clientWidth + 1) problems.push(`${name} is cut`);
  }
  const context = document.createElement('canvas').getContext('2d');
  for (const select of quiz.querySelectorAll('select')) {
    context.font = getComputedStyle(select).font;
    const chosen = select.value ? context.measureText(select.selectedOptions[0].text).width : 0;
    const writtenOut = select.parentElement.querySelector('.etp-match-full:not([hidden])');
    if (chosen > select.clientWidth - 30 && !(writtenOut && writtenOut.textContent === select.value)) {
      problems.push(`the choice for "${select.labels[0].textContent}" is cut and not written out`);
    }
  }
  return problems;
}"""

# Unicode's private-use area: icon-font glyphs that screen readers read out as gibberish.
PRIVATE_USE = range(0xE000, 0xF900)


def has_icon_glyph(text: str) -> bool:
    return any(ord(char) in PRIVATE_USE for char in text)
