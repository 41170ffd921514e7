// The web studio's page: runs, generation panels per task, loss curves and history, over the JSON API.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const state = { tasks: {}, runs: [], run: null, timer: null, controller: null, recorder: null, tickets: {}, historyTimer: null, historyShown: null };
const $ = (id) => document.getElementById(id);

function withToken(url) {
  if (!url || !TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function failure(response) {
  try {
    const body = await response.json();
    return new Error(body.detail || `the server answered ${response.status}`);
  } catch (_) {
    return new Error(`the server answered ${response.status} ${response.statusText}`);
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (TOKEN) headers.Authorization = "Bearer " + TOKEN;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) throw await failure(response);
  return response;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// A number for each new call of `kind`; an older call whose answer comes late sees it is stale and drops it.
function ticket(kind) {
  state.tickets[kind] = (state.tickets[kind] || 0) + 1;
  const mine = state.tickets[kind];
  return () => state.tickets[kind] !== mine;
}

function download(url, label) {
  return element("a", { href: withToken(url), download: "", text: label });
}

// -- runs -----------------------------------------------------------------------------------------
function modelText(model) {
  const parts = [model.cell, model.num_layers && `${model.num_layers}x${model.hidden_size}`, model.bidirectional && "bi", model.loss];
  return parts.filter(Boolean).join(" ");
}

async function loadRuns() {
  const { runs } = await (await api("/api/runs")).json();
  state.runs = runs;
  const body = $("runs").querySelector("tbody");
  body.replaceChildren();
  for (const run of runs) {
    const name = element("td", { text: run.name });
    if (run.training) name.append(element("span", { class: "badge", text: "training" }));
    if (run.bundle) name.append(element("span", { class: "badge bundled", text: "bundled", title: run.card ? run.card.data : "" }));
    const row = element(
      "tr",
      Object.assign({ "data-run": run.name, "data-task": run.task, onclick: () => selectRun(run.name) }, run.bundle ? { "data-bundle": "true" } : {}),
      name,
      element("td", {}, element("span", { class: "task", text: (state.tasks[run.task] || {}).title || run.task })),
      element("td", { class: "model", text: modelText(run.model || {}) }),
      element("td", { text: run.steps }),
      element("td", { text: run.best_val_loss == null ? "–" : run.best_val_loss.toFixed(3) }),
      element("td", { class: "date", text: (run.date || "").slice(5, 16).replace("T", " "), title: run.date || "" }),
    );
    if (state.run && state.run.name === run.name) row.classList.add("selected");
    body.append(row);
  }
  $("runs-empty").hidden = runs.length > 0;
  if (state.run) state.run = runs.find((r) => r.name === state.run.name) || state.run;
  offerComparisons();
}

// Only runs whose loss is counted in the same unit (nats per character, per event, ...) are offered to
// overlay on the chosen run's curves: a loss per event beside one per character would mean nothing.
function offerComparisons() {
  const compare = $("compare-run");
  const unit = state.run ? state.run.loss_unit : null;
  const names = ["", ...state.runs.filter((r) => state.run && r.name !== state.run.name && r.loss_unit === unit).map((r) => r.name)];
  compare.title = unit ? `runs whose loss is in ${unit}` : "";
  if ([...compare.options].map((o) => o.value).join("\n") !== names.join("\n")) {  // an open picker stays open
    const chosen = compare.value;
    compare.replaceChildren(...names.map((name) => element("option", { value: name, text: name || "(none)" })));
    compare.value = names.includes(chosen) ? chosen : "";
  }
}

function selectRun(name) {
  const run = state.runs.find((r) => r.name === name);
  if (!run) return;
  state.run = run;
  showError("");
  for (const row of $("runs").querySelectorAll("tbody tr")) row.classList.toggle("selected", row.dataset.run === name);
  $("work").hidden = false;
  // Only the checkpoints the run has can be chosen (a run early in training may have no best yet).
  const roles = run.checkpoints || ["last", "best"];
  for (const option of $("checkpoint").options) option.disabled = !roles.includes(option.value);
  if (!roles.includes($("checkpoint").value) && roles.length) $("checkpoint").value = roles[0];
  $("chosen").textContent = `${run.name} (${$("checkpoint").value})`;
  // Each panel names the tasks it serves: the run's task picks the panel.
  for (const panel of document.querySelectorAll("form.panel[data-task]")) panel.hidden = !panel.dataset.task.split(" ").includes(run.task);
  $("midi-density").hidden = !(run.controls && run.controls.density);
  $("midi-pitch").hidden = !(run.controls && run.controls.pitch);
  $("midi-instruments").hidden = !run.instruments;
  if (run.task === "unreadable") showError(run.error || `${run.name}: its checkpoint cannot be read`);
  $("output").replaceChildren();
  $("history-view").replaceChildren();
  if (typeof liveRunChosen === "function") liveRunChosen(run);  // live.js: a duet belongs to one checkpoint
  offerComparisons();
  refreshMetrics();
  loadHistory();
}

// -- generation results ---------------------------------------------------------------------------
function resultBox(title, files) {
  const head = element("div", { class: "result-head" }, element("span", { text: title }));
  for (const [name, url] of Object.entries(files || {})) if (url) head.append(download(url, name));
  return element("div", { class: "result" }, head);
}

// `named`: the page's own output, whose parts carry ids (a replay in History does not).
function textResult(index, text, file, named = true) {
  const box = resultBox(`sample ${index + 1}`, file ? { [file.split("/").pop()]: file } : {});
  const pre = element("pre", named ? { class: "text-sample", id: `text-sample-${index}` } : { class: "text-sample" });
  pre.textContent = text;
  const copy = element("button", { type: "button", text: "copy", onclick: () => copyText(pre, copy) });
  box.firstChild.append(copy);
  box.append(pre);
  return box;
}

// The clipboard API needs a secure page (https or localhost); elsewhere the selection is copied instead.
async function copyText(pre, button) {
  try {
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(pre.textContent);
    else {
      const range = document.createRange();
      range.selectNodeContents(pre);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      if (!document.execCommand("copy")) throw new Error("the browser refused");
    }
    button.textContent = "copied";
    setTimeout(() => { button.textContent = "copy"; }, 1200);
  } catch (error) {
    showError("could not copy the text: " + error.message);
  }
}

// How each task's results are drawn: a table keyed by the task's name (the record the server sends says which).
const RENDERERS = {
  text(generation, into, named, note) {
    generation.texts.forEach((text, i) => {
      const box = textResult(i, text, generation.files[`sample_${i + 1}.txt`], named);
      box.querySelector(".result-head span").textContent += note;
      into.append(box);
    });
  },
  midi(generation, into, named, note) {
    for (const piece of generation.pieces) {
      const box = resultBox(`piece ${piece.index}: ${piece.seconds.toFixed(1)} s, ${piece.notes.length} notes${note}`, piece.files);
      const audio = piece.files.wav ? element("audio", { controls: "", preload: "auto", src: withToken(piece.files.wav) }) : null;
      box.append(pianoRoll(piece.notes, piece.seconds, audio));
      if (audio) box.append(audio);
      into.append(box);
    }
  },
  speech_tagging(generation, into, named) {
    const box = resultBox(`${generation.spans.length} labels, ${(generation.duration || 0).toFixed(2)} s`, savedFiles(generation));
    box.append(waveformWithLabels(generation.waveform, generation.spans, generation.duration, named));
    into.append(box);
  },
  classification(generation, into, named) {
    generation.predictions.forEach((prediction, i) => {
      const box = resultBox(`${prediction.name}: ${prediction.label}`, i === 0 ? savedFiles(generation) : {});
      box.append(classBars(prediction, named ? `class-bars-${i}` : null));
      into.append(box);
    });
  },
  text_tagging(generation, into, named) {
    const box = resultBox(`${generation.tagged.length} text(s) tagged`, savedFiles(generation));
    generation.tagged.forEach((item, i) => box.append(taggedWords(item, named ? `tagged-${i}` : null)));
    box.append(tagLegend(generation.tagged));
    into.append(box);
  },
};

// What the history list says of a generation, per task.
const SUMMARIES = {
  text: (g, s) => `${(g.texts || []).length} text(s), ${JSON.stringify(s.prompt || "")}, seed ${s.seed ?? 0}`,
  midi: (g, s) => `${g.pieces.length} piece(s), ${s.seconds} s, seed ${s.seed ?? 0}`
    + (s.notes_per_second != null ? `, ${s.notes_per_second} notes/s` : "")
    + (s.pitch_class_histogram ? `, pitch classes ${[].concat(s.pitch_class_histogram).join(",")}` : ""),
  speech_tagging: (g) => `${(g.spans || []).length} labels`,
  classification: (g) => g.predictions.map((p) => p.label).join(", "),
  text_tagging: (g) => `${g.tagged.reduce((n, t) => n + t.spans.length, 0)} span(s) in ${g.tagged.length} text(s)`,
};

function savedFiles(generation) {
  return Object.fromEntries(Object.entries(generation.files).filter(([name]) => name !== "settings.json"));
}

function renderGeneration(generation, into) {
  into.replaceChildren();
  const render = RENDERERS[generation.task];
  if (!render) return showError(`this studio cannot show ${generation.task} results: update the page`);
  render(generation, into, into.id === "output", generation.interrupted ? " (stopped early)" : "");
}

// -- text: streamed ---------------------------------------------------------------------------------
async function generateText(event) {
  event.preventDefault();
  showError("");
  const body = {
    run: state.run.name,
    checkpoint: $("checkpoint").value,
    prompt: $("text-prompt").value,
    length: +$("text-length").value,
    temperature: +$("text-temperature").value,
    top_k: +$("text-top-k").value,
    top_p: +$("text-top-p").value,
    seed: +$("text-seed").value,
    num_samples: +$("text-num").value,
  };
  const output = $("output");
  output.replaceChildren();
  const samples = [];
  state.controller = new AbortController();
  $("text-generate").disabled = true;
  $("text-stop").disabled = false;
  try {
    const response = await api("/api/text", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: state.controller.signal,
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        if (!line.trim()) continue;
        const message = JSON.parse(line);
        if (message.event === "chunk") {
          if (!samples[message.sample]) {
            samples[message.sample] = textResult(message.sample, "", null);
            output.append(samples[message.sample]);
          }
          samples[message.sample].querySelector("pre").textContent += message.text;
        } else if (message.event === "done") {
          renderGeneration(message.generation, output);
          loadHistory();
        } else if (message.event === "error") {
          showError(message.message);
        }
      }
    }
  } catch (error) {
    if (error.name === "AbortError") setTimeout(loadHistory, 500);  // the server saved what it had
    else showError(error.message);
  } finally {
    $("text-generate").disabled = false;
    $("text-stop").disabled = true;
    state.controller = null;
  }
}

// -- MIDI and tagging: one request each -----------------------------------------------------------
async function submitForm(path, form, button) {
  showError("");
  $("busy").hidden = false;
  button.disabled = true;
  try {
    const generation = await (await api(path, { method: "POST", body: form })).json();
    renderGeneration(generation, $("output"));
    loadHistory();
  } catch (error) {
    showError(error.message);
  } finally {
    $("busy").hidden = true;
    button.disabled = false;
  }
}

function pitchWeights() {
  return [...$("midi-keys").querySelectorAll("input")].map((input) => input.value).join(",");
}

function generateMidi(event) {
  event.preventDefault();
  const form = new FormData();
  const fields = {
    run: state.run.name, checkpoint: $("checkpoint").value, seconds: $("midi-seconds").value,
    temperature: $("midi-temperature").value, top_k: $("midi-top-k").value, top_p: $("midi-top-p").value,
    seed: $("midi-seed").value, num_samples: $("midi-num").value,
    beam_size: $("midi-beam").value, branch_factor: $("midi-branch").value, steps_per_iteration: $("midi-steps").value,
  };
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  if (!$("midi-density").hidden && $("midi-density-on").checked) form.append("notes_per_second", $("midi-density-value").value);
  if (!$("midi-pitch").hidden && $("midi-pitch-on").checked) form.append("pitch_class_histogram", pitchWeights());
  if (!$("midi-instruments").hidden && $("midi-programs").value.trim()) form.append("programs", $("midi-programs").value.trim());
  if (!$("midi-instruments").hidden && $("midi-new-part").value.trim()) form.append("new_part", $("midi-new-part").value.trim());
  const primer = $("midi-primer").files[0];
  if (primer) form.append("primer", primer, primer.name);
  submitForm("/api/midi", form, $("midi-generate"));
}

function tagAudio(file) {
  const form = new FormData();
  form.append("run", state.run.name);
  form.append("checkpoint", $("checkpoint").value);
  form.append("beam_width", $("tag-beam").value);
  form.append("audio", file, file.name);
  submitForm("/api/tag", form, $("tag-generate"));
}

function tagUpload(event) {
  event.preventDefault();
  const file = $("tag-file").files[0];
  if (!file) return showError("choose a WAV file to tag (or record one)");
  tagAudio(file);
}

async function toggleRecording() {
  const button = $("tag-record");
  try {
    if (!state.recorder) {
      state.recorder = await startRecording();
      button.textContent = "Stop recording";
      state.recorder.done.then(tagAudio, (error) => showError(error.message));
    } else {
      state.recorder.stop();
      state.recorder = null;
      button.textContent = "Record";
    }
  } catch (error) {
    state.recorder = null;
    button.textContent = "Record";
    showError(error.message);
  }
}

function buildKeyboard() {
  const names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
  const keys = $("midi-keys");
  names.forEach((name, i) => {
    const black = name.includes("#");
    keys.append(element("label", { class: "key" + (black ? " black" : "") },
      element("input", { type: "range", min: "0", max: "3", step: "0.5", value: "1", "aria-label": name, "data-pc": i }),
      element("span", { text: name })));
  });
  for (const preset of document.querySelectorAll("[data-preset]")) {
    preset.addEventListener("click", () => {
      const weights = preset.dataset.preset.split(",");
      keys.querySelectorAll("input").forEach((input, i) => { input.value = weights[i]; });
      $("midi-pitch-on").checked = true;
    });
  }
  $("midi-density-value").addEventListener("input", (e) => { $("midi-density-out").textContent = e.target.value; });
}

// -- metrics and history --------------------------------------------------------------------------
const LOSSES = { train_loss: "train", val_loss: "val" };
const PALETTE = [["#2f6fde", "#e07a1f"], ["#1b9e77", "#9b59b6"]];  // [run, compared run] x [first, second series]

async function metricsOf(name) {
  const { series, training } = await (await api(`/api/runs/${encodeURIComponent(name)}/metrics`)).json();
  return { name, training, series: series || {} };
}

// The picker offers the loss (training and validation together) and every other series the runs log.
function offerMetrics(runs) {
  const others = [...new Set(runs.flatMap((r) => Object.keys(r.series)))].filter((n) => !(n in LOSSES)).sort();
  const wanted = ["loss", ...others];
  const select = $("metric");
  if ([...select.options].map((o) => o.value).join("\n") === wanted.join("\n")) return;  // an open picker stays open
  const chosen = select.value;
  select.replaceChildren(...wanted.map((n) => element("option", { value: n, text: n })));
  select.value = wanted.includes(chosen) ? chosen : "loss";
}

async function refreshMetrics() {
  clearTimeout(state.timer);
  if (!state.run) return;
  const stale = ticket("metrics");
  try {
    const names = [state.run.name];
    const other = $("compare-run").value;
    if (other && other !== state.run.name) names.push(other);
    const runs = await Promise.all(names.map(metricsOf));
    if (stale()) return;
    offerMetrics(runs);
    const metric = $("metric").value;
    const keys = metric === "loss" ? Object.keys(LOSSES) : [metric];
    const series = runs.flatMap((run, i) =>
      keys.map((key, j) => ({ name: `${run.name} ${LOSSES[key] || key}`, colour: PALETTE[i][j], points: run.series[key] || [] })));
    $("loss-chart").replaceChildren(lossChart(series, metric === "loss" && state.run.loss_unit ? `loss (${state.run.loss_unit})` : metric));
    const live = runs.some((r) => r.training);
    $("live").hidden = !live;
    if (live) {
      state.timer = setTimeout(() => {
        refreshMetrics();
        loadRuns().catch((error) => showError(error.message));
      }, 3000);
    }
  } catch (error) {
    if (!stale()) showError(error.message);
  }
}

// While the history tab is open it is looked at again every few seconds: a generation stopped from
// the page is saved by the server a moment after the page stops waiting for it.
async function loadHistory() {
  clearTimeout(state.historyTimer);
  if (!state.run) return;
  const list = $("history");
  const stale = ticket("history");
  try {
    const { generations } = await (await api(`/api/runs/${encodeURIComponent(state.run.name)}/history`)).json();
    if (stale()) return;
    if (!$("tab-history").hidden) state.historyTimer = setTimeout(loadHistory, 3000);
    const seen = JSON.stringify([state.run.name, generations.map((g) => [g.time, g.interrupted])]);
    if (seen === state.historyShown) return;  // unchanged: the buttons stay under the pointer
    state.historyShown = seen;
    list.replaceChildren();
    for (const generation of generations) {
      const summary = SUMMARIES[generation.task];
      const what = summary ? summary(generation, generation.settings || {}) : "";
      const title = (state.tasks[generation.task] || {}).title || generation.task;
      list.append(element("li", {},
        element("span", { text: new Date(generation.time * 1000).toLocaleString() }),
        element("span", { class: "what", text: `${title}: ${what}${generation.interrupted ? ", stopped early" : ""}` }),
        element("button", { type: "button", text: "replay", onclick: () => renderGeneration(generation, $("history-view")) })));
    }
    if (!generations.length) list.append(element("li", { class: "muted", text: "nothing generated from this run yet" }));
  } catch (error) {
    if (!stale()) showError(error.message);
  }
}

// -- wiring ---------------------------------------------------------------------------------------
function showTab(name) {
  for (const button of document.querySelectorAll(".tabs button")) button.classList.toggle("active", button.dataset.tab === name);
  for (const tab of ["generate", "metrics", "history"]) $(`tab-${tab}`).hidden = tab !== name;
  if (name === "metrics") refreshMetrics();
  if (name === "history") loadHistory();
}

function start() {
  for (const button of document.querySelectorAll(".tabs button")) button.addEventListener("click", () => showTab(button.dataset.tab));
  $("text-panel").addEventListener("submit", generateText);
  $("text-stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("midi-panel").addEventListener("submit", generateMidi);
  $("tag-panel").addEventListener("submit", tagUpload);
  $("tag-record").addEventListener("click", toggleRecording);
  $("compare-run").addEventListener("change", refreshMetrics);
  $("metric").addEventListener("change", refreshMetrics);
  $("checkpoint").addEventListener("change", () => state.run && selectRun(state.run.name));
  $("classify-panel").addEventListener("submit", (event) => readTexts(event, "classify", $("classify-text"), $("classify-file"), $("classify-generate")));
  $("words-panel").addEventListener("submit", (event) => readTexts(event, "tag", $("words-text"), $("words-file"), $("words-generate")));
  buildKeyboard();
  loadTasks().then(loadRuns).then(openNewest).catch((error) => showError(error.message));
}

// The page opens on the newest run (a bundled model when there is none of the user's), or says to pick one.
function openNewest() {
  if (!state.run && state.runs.length) selectRun(state.runs[0].name);
}

async function loadTasks() {
  state.tasks = (await (await api("/api/tasks")).json()).tasks;
}

// Classification and text tagging: the pasted text, or a dropped file, sent to the task's route.
function readTexts(event, method, textarea, fileInput, button) {
  event.preventDefault();
  const form = new FormData();
  form.append("run", state.run.name);
  form.append("checkpoint", $("checkpoint").value);
  const file = fileInput.files[0];
  if (file) form.append("file", file, file.name);
  else if (textarea.value.trim()) form.append("text", textarea.value);
  else return showError("paste some text, or choose a file");
  submitForm(`/api/${method}`, form, button);
}

start();
