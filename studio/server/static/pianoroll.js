// A piano roll drawn from a piece's notes (SVG), with a playhead that follows an <audio> element and
// the pitch name, time and velocity of a note on hover.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, value);
  return element;
}

function showTooltip(event, text) {
  const tip = document.getElementById("tooltip");
  tip.textContent = text;
  tip.hidden = false;
  tip.style.left = event.clientX + 12 + "px";
  tip.style.top = event.clientY + 12 + "px";
}

function hideTooltip() {
  document.getElementById("tooltip").hidden = true;
}

// notes: [{pitch, name, start, end, velocity}], seconds: the piece's length; audio: an <audio> or null.
function pianoRoll(notes, seconds, audio) {
  const width = 1000, height = 220, left = 28;
  const pitches = notes.map((n) => n.pitch);
  const low = Math.max(0, (pitches.length ? Math.min(...pitches) : 60) - 2);
  const high = Math.min(127, (pitches.length ? Math.max(...pitches) : 72) + 2);
  const span = Math.max(seconds, ...notes.map((n) => n.end), 0.1);
  const rowHeight = height / (high - low + 1);
  const x = (t) => left + (t / span) * (width - left);
  const y = (pitch) => (high - pitch) * rowHeight;
  const svg = svgElement("svg", { class: "piano-roll", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" });
  for (let pitch = low; pitch <= high; pitch++) {
    if (pitch % 12 === 0) {
      svg.appendChild(svgElement("line", { class: "octave", x1: left, x2: width, y1: y(pitch) + rowHeight, y2: y(pitch) + rowHeight }));
      const label = svgElement("text", { x: 2, y: y(pitch) + rowHeight });
      label.textContent = `C${pitch / 12 - 1}`;
      svg.appendChild(label);
    }
  }
  for (const note of notes) {
    const rect = svgElement("rect", {
      class: "note",
      x: x(note.start),
      y: y(note.pitch),
      width: Math.max(1.5, x(note.end) - x(note.start)),
      height: Math.max(1, rowHeight - 0.5),
      "fill-opacity": (0.35 + 0.65 * note.velocity / 127).toFixed(2),
      "data-pitch": note.pitch,
    });
    const text = `${note.name}  ${note.start.toFixed(2)}–${note.end.toFixed(2)} s  velocity ${note.velocity}`;
    const title = svgElement("title");
    title.textContent = text;
    rect.appendChild(title);
    rect.addEventListener("mousemove", (event) => showTooltip(event, text));
    rect.addEventListener("mouseleave", hideTooltip);
    svg.appendChild(rect);
  }
  const playhead = svgElement("line", { class: "playhead", x1: left, x2: left, y1: 0, y2: height });
  svg.appendChild(playhead);
  if (audio) {
    const follow = () => {
      const at = x(Math.min(audio.currentTime, span));
      playhead.setAttribute("x1", at);
      playhead.setAttribute("x2", at);
      if (!audio.paused && !audio.ended) requestAnimationFrame(follow);
    };
    audio.addEventListener("play", () => requestAnimationFrame(follow));
    audio.addEventListener("seeked", follow);
    audio.addEventListener("timeupdate", follow);
    // Clicking the roll moves the audio there.
    svg.addEventListener("click", (event) => {
      const box = svg.getBoundingClientRect();
      const fraction = (event.clientX - box.left) / box.width;
      const seconds = ((fraction * width - left) / (width - left)) * span;
      if (seconds >= 0) audio.currentTime = seconds;
    });
  }
  return svg;
}
