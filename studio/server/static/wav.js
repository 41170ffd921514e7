// Audio in the page: a recording encoded as a 16-bit PCM WAV file, and a waveform with its labels on a timeline.
"use strict";

// An AudioBuffer as a mono 16-bit PCM WAV Blob.
function encodeWav(buffer) {
  const rate = buffer.sampleRate, length = buffer.length;
  const mono = new Float32Array(length);
  for (let channel = 0; channel < buffer.numberOfChannels; channel++) {
    const data = buffer.getChannelData(channel);
    for (let i = 0; i < length; i++) mono[i] += data[i] / buffer.numberOfChannels;
  }
  const bytes = new DataView(new ArrayBuffer(44 + 2 * length));
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) bytes.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); bytes.setUint32(4, 36 + 2 * length, true); text(8, "WAVE");
  text(12, "fmt "); bytes.setUint32(16, 16, true); bytes.setUint16(20, 1, true); bytes.setUint16(22, 1, true);
  bytes.setUint32(24, rate, true); bytes.setUint32(28, rate * 2, true); bytes.setUint16(32, 2, true); bytes.setUint16(34, 16, true);
  text(36, "data"); bytes.setUint32(40, 2 * length, true);
  for (let i = 0; i < length; i++) {
    const s = Math.max(-1, Math.min(1, mono[i]));
    bytes.setInt16(44 + 2 * i, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([bytes], { type: "audio/wav" });
}

// Record from the microphone until stop() is called; resolves to a WAV File.
async function startRecording() {
  if (!navigator.mediaDevices || !window.MediaRecorder) throw new Error("this browser cannot record here (it needs https or localhost, and a microphone)");
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream);
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  const done = new Promise((resolve, reject) => {
    recorder.onstop = async () => {
      stream.getTracks().forEach((track) => track.stop());
      try {
        const context = new AudioContext();
        const decoded = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
        resolve(new File([encodeWav(decoded)], "recording.wav", { type: "audio/wav" }));
      } catch (error) {
        reject(new Error("the recording could not be decoded: " + error.message));
      }
    };
  });
  recorder.start();
  return { stop: () => recorder.stop(), done };
}

// The waveform from [min, max] pairs, and the labels as blocks on a timeline under it.
// `named`: the page's own output, whose timeline has the id #tag-labels (a replay in History does not).
function waveformWithLabels(pairs, spans, duration, named = true) {
  const box = document.createElement("div");
  const width = 1000, height = 110, mid = height / 2;
  if (pairs && pairs.length) {
    const svg = svgElement("svg", { class: "waveform", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" });
    const step = width / pairs.length;
    let top = "", bottom = "";
    pairs.forEach(([low, high], i) => {
      top += `${i ? "L" : "M"}${(i * step).toFixed(1)},${(mid - high * mid).toFixed(1)} `;
      bottom = `L${(i * step).toFixed(1)},${(mid - low * mid).toFixed(1)} ` + bottom;
    });
    svg.appendChild(svgElement("path", { d: top + bottom + "Z" }));
    box.appendChild(svg);
  }
  const timeline = document.createElement("div");
  timeline.className = "timeline";
  if (named) timeline.id = "tag-labels";
  const total = duration || Math.max(0.01, ...spans.map((s) => s.end));
  for (const span of spans) {
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = span.label;
    label.title = `${span.label}  ${span.start.toFixed(3)}–${span.end.toFixed(3)} s`;
    label.style.left = (100 * span.start) / total + "%";
    label.style.width = Math.max(0.3, (100 * (span.end - span.start)) / total) + "%";
    timeline.appendChild(label);
  }
  box.appendChild(timeline);
  return box;
}
