// A metric against step (SVG), the loss by default: training and validation curves of one run, and of a second one to compare.
"use strict";

function niceTicks(low, high, count) {
  const span = high - low || 1;
  const step = Math.pow(10, Math.floor(Math.log10(span / count)));
  const unit = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) || step * 10;
  const ticks = [];
  for (let t = Math.ceil(low / unit) * unit; t <= high + 1e-9; t += unit) ticks.push(+t.toPrecision(6));
  return ticks;
}

// series: [{name, colour, points: [[step, value], ...]}]; sparse series (validation) get a dot at each point.
function lossChart(series, metric = "loss") {
  const width = 900, height = 320, pad = { left: 52, right: 14, top: 24, bottom: 34 };
  const all = series.flatMap((s) => s.points);
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}` });
  if (!all.length) {
    const note = svgElement("text", { x: width / 2, y: height / 2, "text-anchor": "middle", fill: "#6b7585" });
    note.textContent = "no metrics yet: they appear as the run logs them";
    svg.appendChild(note);
    return svg;
  }
  const steps = all.map((p) => p[0]), losses = all.map((p) => p[1]);
  const x0 = Math.min(...steps), x1 = Math.max(...steps, x0 + 1);
  const y0 = Math.min(...losses), y1 = Math.max(...losses, y0 + 1e-3);
  const x = (v) => pad.left + ((v - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - ((v - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  const axis = svgElement("g", { class: "axis" });
  for (const t of niceTicks(y0, y1, 6)) {
    axis.appendChild(svgElement("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(t), y2: y(t) }));
    const label = svgElement("text", { x: pad.left - 6, y: y(t) + 4, "text-anchor": "end" });
    label.textContent = t;
    axis.appendChild(label);
  }
  for (const t of niceTicks(x0, x1, 8)) {
    const label = svgElement("text", { x: x(t), y: height - pad.bottom + 16, "text-anchor": "middle" });
    label.textContent = t;
    axis.appendChild(label);
  }
  const title = svgElement("text", { x: width - pad.right, y: height - 4, "text-anchor": "end" });
  title.textContent = "step";
  axis.appendChild(title);
  const yTitle = svgElement("text", { x: 4, y: 12, "text-anchor": "start" });
  yTitle.textContent = metric;
  axis.appendChild(yTitle);
  axis.appendChild(svgElement("line", { x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }));
  axis.appendChild(svgElement("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: height - pad.bottom }));
  svg.appendChild(axis);
  let legendY = pad.top + 4;
  for (const s of series) {
    if (!s.points.length) continue;
    const line = svgElement("polyline", {
      points: s.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" "),
      stroke: s.colour,
      "data-name": s.name,
    });
    svg.appendChild(line);
    if (s.points.length <= 60) {
      for (const [a, b] of s.points) {
        const dot = svgElement("circle", { cx: x(a).toFixed(1), cy: y(b).toFixed(1), r: 2.5, fill: s.colour });
        const tip = svgElement("title");
        tip.textContent = `${s.name}: ${+b.toPrecision(4)} at step ${a}`;
        dot.appendChild(tip);
        svg.appendChild(dot);
      }
    }
    const key = svgElement("text", { x: width - pad.right - 4, y: legendY + 10, "text-anchor": "end", fill: s.colour, "font-size": 12 });
    key.textContent = s.name;
    svg.appendChild(key);
    legendY += 16;
  }
  return svg;
}
