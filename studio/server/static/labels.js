// Labels in the page: a classifier's probabilities as a bar per class, and tagged words coloured by label.
"use strict";

const LABEL_COLOURS = ["#2f6fde", "#e07a1f", "#1b9e77", "#9b59b6", "#d6336c", "#0f9d9a", "#b08900", "#5c6bc0", "#8d6e63", "#43a047"];

// One bar per class, the likeliest first; the predicted class is marked.
function classBars(prediction, id) {
  const list = element("ol", Object.assign({ class: "class-bars" }, id ? { id } : {}));
  const ranked = Object.entries(prediction.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [label, p] of ranked) {
    const bar = element("span", { class: "bar" });
    bar.style.width = `${Math.max(0.5, 100 * p).toFixed(1)}%`;
    list.append(element("li", { class: label === prediction.label ? "predicted" : "", "data-label": label, "data-p": p.toFixed(4) },
      element("span", { class: "name", text: label }),
      element("span", { class: "track" }, bar),
      element("span", { class: "p", text: `${(100 * p).toFixed(1)}%` })));
  }
  return list;
}

// The entity type of a BIO label ("B-PER" and "I-PER" are both PER); plain labels are their own type.
function labelType(label) {
  return /^[BIES]-/.test(label) ? label.slice(2) : label;
}

function colourOf(type, types) {
  return LABEL_COLOURS[types.indexOf(type) % LABEL_COLOURS.length];
}

function typesOf(items) {
  return [...new Set(items.flatMap((item) => item.labels.map(labelType)).filter((t) => t !== "O"))].sort();
}

// The words of one text, each coloured by its label's type, with the label as a tooltip and a small tag under spans.
function taggedWords(item, id) {
  const types = typesOf([item]);
  const line = element("p", Object.assign({ class: "tagged-words" }, id ? { id } : {}));
  item.words.forEach((word, i) => {
    const label = item.labels[i];
    const type = labelType(label);
    const span = element("span", { class: "word", title: label, "data-label": label, text: word });
    if (type !== "O") {
      span.style.background = colourOf(type, types) + "33";
      span.style.borderBottom = `2px solid ${colourOf(type, types)}`;
    }
    line.append(span, " ");
  });
  return line;
}

function tagLegend(items) {
  const types = typesOf(items);
  const legend = element("div", { class: "tag-legend" });
  for (const type of types) {
    const swatch = element("span", { class: "swatch" });
    swatch.style.background = colourOf(type, types);
    legend.append(element("span", {}, swatch, type));
  }
  return legend;
}
