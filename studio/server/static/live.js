// Play with a MIDI model: the person plays (on-screen piano, computer keys, a MIDI keyboard), the page
// sounds it at once and sends it over the duet WebSocket (see studio/server/live.py for the protocol);
// the model's answer comes back as notes stamped on the page's audio clock and is scheduled there.
// Everything lives in this closure: app.js's globals (state, $, element, withToken, loadHistory,
// savedFiles) are used, and only liveRunChosen, liveMidiMessage and studioLive are added to window.
"use strict";

(() => {
  const LOW = 48, HIGH = 72;  // the on-screen piano: C3 to C5
  const ROLL_SECONDS = 15, ROLL_AHEAD = 1;  // the roll shows the last 15 s and the next second
  const COLOURS = { person: "#2f6fde", model: "#e07a1f" };
  // The tracker layout by physical key (event.code), so it is the same two rows on any keyboard layout.
  const KEYS = {};
  ["KeyZ", "KeyS", "KeyX", "KeyD", "KeyC", "KeyV", "KeyG", "KeyB", "KeyH", "KeyN", "KeyJ", "KeyM"]
    .forEach((code, i) => { KEYS[code] = 48 + i; });
  ["KeyQ", "Digit2", "KeyW", "Digit3", "KeyE", "KeyR", "Digit5", "KeyT", "Digit6", "KeyY", "Digit7", "KeyU", "KeyI"]
    .forEach((code, i) => { KEYS[code] = 60 + i; });
  const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

  const live = {
    ctx: null, out: null, socket: null, session: null, closing: false, lastError: "",
    down: new Map(),       // pitch -> how many sources (keys, pointers, MIDI) hold it
    sources: new Map(),    // "key:KeyZ", "pointer:1", "midi:60" -> the pitch it holds
    voices: new Map(),     // pitch -> the person's sounding voice
    pedal: false,
    turn: 0, answering: false, cutTurn: 0,
    answer: [],            // the model's scheduled voices of the current answer
    open: new Map(),       // pitch -> the model's voice waiting for its "off"
    notes: [],             // what the roll draws: {who, pitch, start, end}
    midi: null,
  };
  const counts = { scheduled: 0, heard: 0, played: 0, cut: 0, sent: {} };
  window.studioLive = counts;
  const byId = (id) => document.getElementById(id);

  // -- sound ----------------------------------------------------------------------------------------
  function audio() {
    if (!live.ctx) {
      live.ctx = new AudioContext();
      const compressor = live.ctx.createDynamicsCompressor();
      live.out = live.ctx.createGain();
      live.out.gain.value = 0.5;
      live.out.connect(compressor).connect(live.ctx.destination);
    }
    if (live.ctx.state === "suspended") live.ctx.resume();
    return live.ctx;
  }

  const now = () => (live.ctx ? live.ctx.currentTime : 0);
  const frequency = (pitch) => 440 * Math.pow(2, (pitch - 69) / 12);

  // Two detuned oscillators through a low-pass filter, a fast attack and an exponential decay (a piano
  // fades while held). The envelope uses only setTargetAtTime after the attack, so a release can take
  // over from any point of it.
  function voice(pitch, velocity, at, timbre) {
    const ctx = audio();
    const f = frequency(pitch);
    const gain = ctx.createGain();
    const filter = ctx.createBiquadFilter();
    filter.type = "lowpass";
    filter.frequency.value = Math.min(12000, f * timbre.brightness);
    const oscillators = timbre.waves.map((wave, i) => {
      const osc = ctx.createOscillator();
      osc.type = wave;
      osc.frequency.value = f;
      osc.detune.value = i ? timbre.detune : -timbre.detune;
      osc.connect(filter);
      osc.start(at);
      return osc;
    });
    filter.connect(gain).connect(live.out);
    const peak = 0.05 + 0.25 * (velocity / 127);
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(peak, at + 0.005);
    gain.gain.setTargetAtTime(0, at + 0.005, timbre.decay);
    oscillators[0].onended = () => gain.disconnect();
    return { pitch, start: at, end: null, gain, oscillators, stopped: false };
  }

  const PERSON = { waves: ["triangle", "triangle"], detune: 4, brightness: 6, decay: 0.9 };
  const MODEL = { waves: ["sine", "square"], detune: 7, brightness: 3, decay: 0.6 };

  function release(v, at) {
    const g = v.gain.gain;
    if (g.cancelAndHoldAtTime) g.cancelAndHoldAtTime(at);
    else g.cancelScheduledValues(at);
    g.setTargetAtTime(0, at, 0.06);
    for (const osc of v.oscillators) osc.stop(at + 0.5);  // a later stop() replaces an earlier one
    v.end = at;
  }

  // A voice that has not started yet never sounds.
  function silence(v, at) {
    for (const osc of v.oscillators) osc.stop(Math.max(at, v.start));
    v.stopped = true;
    v.end = v.start;
  }

  // -- the person's notes ---------------------------------------------------------------------------
  function press(source, pitch, velocity) {
    if (live.sources.has(source)) return;
    live.sources.set(source, pitch);
    const held = live.down.get(pitch) || 0;
    live.down.set(pitch, held + 1);
    if (held) return;  // already down from another source
    const at = audio().currentTime;
    cutAnswer(at, live.turn);
    stopPerson(pitch, at);  // a note still sustained by the pedal, struck again
    const v = voice(pitch, velocity, at, PERSON);
    live.voices.set(pitch, v);
    live.notes.push({ who: "person", pitch, start: at, end: null, voice: v });
    counts.played += 1;
    highlight(pitch, true);
    send({ type: "note_on", pitch, velocity, time: at });
  }

  function lift(source) {
    const pitch = live.sources.get(source);
    if (pitch === undefined) return;
    live.sources.delete(source);
    const held = live.down.get(pitch) - 1;
    if (held > 0) return live.down.set(pitch, held);
    live.down.delete(pitch);
    highlight(pitch, false);
    const at = now();
    send({ type: "note_off", pitch, time: at });
    if (!live.pedal) stopPerson(pitch, at);
  }

  function stopPerson(pitch, at) {
    const v = live.voices.get(pitch);
    if (!v) return;
    live.voices.delete(pitch);
    release(v, at);
    const note = live.notes.find((n) => n.voice === v);
    if (note) note.end = at;
  }

  function setPedal(down) {
    if (down === live.pedal) return;
    live.pedal = down;
    const at = now();
    send({ type: "pedal", down, time: at });
    if (!down) for (const pitch of [...live.voices.keys()]) if (!live.down.has(pitch)) stopPerson(pitch, at);
  }

  function liftAll(prefix) {
    for (const source of [...live.sources.keys()]) if (source.startsWith(prefix)) lift(source);
  }

  // -- the model's answer ---------------------------------------------------------------------------
  function scheduleNotes(message) {
    if (message.turn <= live.cutTurn) return;  // drawn before the server heard the cut
    for (const event of message.events) {
      if (event.kind === "on") {
        const at = Math.max(event.time, now());
        const v = voice(event.pitch, event.velocity, at, MODEL);
        live.answer.push(v);
        live.open.set(event.pitch, v);
        live.notes.push({ who: "model", pitch: event.pitch, start: at, end: null, voice: v });
        counts.scheduled += 1;
      } else {
        const v = live.open.get(event.pitch);
        if (!v) continue;
        live.open.delete(event.pitch);
        release(v, Math.max(event.time, v.start + 0.02));
        const note = live.notes.find((n) => n.voice === v);
        if (note) note.end = v.end;
      }
    }
  }

  // The person played at `at`: what the answer had left to sound stops there, without waiting for the
  // server's `cut` (which comes a round trip later).
  function cutAnswer(at, turn) {
    const sounding = live.answer.some((v) => !v.stopped && (v.end === null || v.end > at));
    if (!sounding && !(live.answering && turn === live.turn)) return;
    if (turn > live.cutTurn) counts.cut += 1;
    live.cutTurn = Math.max(live.cutTurn, turn);
    live.answering = false;
    for (const v of live.answer) {
      if (v.stopped || (v.end !== null && v.end <= at)) continue;
      if (v.start >= at) silence(v, at);
      else release(v, at);
    }
    live.notes = live.notes.filter((n) => !(n.voice && n.voice.stopped));
    for (const n of live.notes) if (n.who === "model" && n.voice) n.end = n.voice.end;
    live.answer = [];
    live.open.clear();
  }

  // -- the WebSocket --------------------------------------------------------------------------------
  function send(message) {
    if (!live.socket || live.socket.readyState !== WebSocket.OPEN) return;
    live.socket.send(JSON.stringify(message));
    counts.sent[message.type] = (counts.sent[message.type] || 0) + 1;
  }

  // A run trained with controls is steered by the MIDI panel's own density and pitch-class controls
  // (shown above for such runs), so a duet's answers follow the same settings as a generated piece.
  function settings() {
    const number = (id) => Number(byId(id).value);
    const density = !byId("midi-density").hidden && byId("midi-density-on").checked;
    const pitches = !byId("midi-pitch").hidden && byId("midi-pitch-on").checked;
    return {
      type: "settings",
      pause_ms: number("play-pause"),
      answer_seconds: number("play-length"),
      temperature: number("play-temperature"),
      seed: Math.trunc(number("play-seed")),
      notes_per_second: density ? number("midi-density-value") : null,
      pitch_class_histogram: pitches ? [...byId("midi-keys").querySelectorAll("input")].map((input) => Number(input.value)) : null,
    };
  }

  function status(text, error = false) {
    const line = byId("play-status");
    line.textContent = text;
    line.classList.toggle("failed", error);
  }

  function connect() {
    if (!state.run) return;
    audio();
    const checkpoint = $("checkpoint").value;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const path = `/api/live/${encodeURIComponent(state.run.name)}?checkpoint=${encodeURIComponent(checkpoint)}`;
    const socket = new WebSocket(withToken(`${scheme}://${location.host}${path}`));
    Object.assign(live, { socket, session: { run: state.run.name, checkpoint }, closing: false, lastError: "" });
    Object.assign(live, { turn: 0, cutTurn: 0, answering: false });
    status(`connecting to ${state.run.name}…`);
    byId("play-start").textContent = "Stop";
    socket.onopen = () => send(settings());
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      if (live.socket !== socket) return;
      live.socket = null;
      byId("play-start").textContent = "Start";
      byId("play-save").disabled = true;
      if (live.closing) status("stopped: press Start to play again");
      else status(live.lastError || `the duet ended (${event.reason || "connection closed"}): press Start to play again`, true);
    };
  }

  function disconnect() {
    if (!live.socket) return;
    live.closing = true;
    cutAnswer(now(), live.turn);
    live.socket.close();
  }

  function receive(message) {
    switch (message.type) {
      case "ready":
        byId("play-save").disabled = false;
        return status(`listening: play a phrase, then pause; ${message.run} answers after ${byId("play-pause").value} ms`);
      case "answer":
        Object.assign(live, { turn: message.turn, answering: true, answer: [], lastError: "" });
        return status(`the model is answering (turn ${message.turn})`);
      case "notes":
        return scheduleNotes(message);
      case "answered":  // all drawn; it may sound for a while yet
        if (message.turn !== live.turn || !live.answering) return;
        live.answering = false;
        setTimeout(() => {
          if (live.turn === message.turn && message.turn > live.cutTurn) status("listening: your turn");
        }, Math.max(0, message.end - now()) * 1000);
        return;
      case "cut":
        cutAnswer(message.at, message.turn);
        return status("listening: you played over the answer, the model stopped there");
      case "saved":
        return showSaved(message.generation);
      case "error":
        live.lastError = message.detail;
        return status(message.detail, true);
    }
  }

  function showSaved(generation) {
    const links = byId("play-saved");
    links.replaceChildren(element("span", { class: "muted", text: `saved ${generation.folder}: ` }));
    for (const [name, url] of Object.entries(savedFiles(generation))) {
      if (/\.(mid|wav)$/.test(name)) links.append(element("a", { href: withToken(url), download: "", text: name }), " ");
    }
    status("saved: listening");
    loadHistory();
  }

  // -- input: on-screen piano, computer keys, Web MIDI ----------------------------------------------
  function buildPiano() {
    const piano = byId("play-piano");
    const letters = Object.fromEntries(Object.entries(KEYS).map(([code, p]) => [p, code.slice(-1)]));
    const whites = [];
    for (let p = LOW; p <= HIGH; p++) if (!NAMES[p % 12].includes("#")) whites.push(p);
    const width = 100 / whites.length;
    for (let p = LOW; p <= HIGH; p++) {
      const black = NAMES[p % 12].includes("#");
      const left = black ? whites.indexOf(p - 1) * width + width * 0.68 : whites.indexOf(p) * width;
      const key = element("div", {
        class: black ? "pkey black" : "pkey",
        "data-pitch": p,
        title: `${NAMES[p % 12]}${Math.floor(p / 12) - 1} (${letters[p]})`,
        style: `left: ${left}%; width: ${black ? width * 0.64 : width}%`,
      }, element("span", { text: letters[p] }));
      piano.append(key);
    }
    piano.addEventListener("pointerdown", (event) => {
      const key = event.target.closest(".pkey");
      if (!key) return;
      event.preventDefault();
      const box = key.getBoundingClientRect();  // nearer the front of the key sounds louder
      const velocity = Math.round(50 + 70 * Math.min(1, Math.max(0, (event.clientY - box.top) / box.height)));
      press(`pointer:${event.pointerId}`, +key.dataset.pitch, velocity);
    });
    // Sliding along the keys with a button down plays each key it enters (a glissando).
    piano.addEventListener("pointerover", (event) => {
      const key = event.target.closest(".pkey");
      if (!key || !(event.buttons & 1) || event.pointerType === "touch") return;
      if (live.sources.get(`pointer:${event.pointerId}`) === +key.dataset.pitch) return;  // onto its own label
      lift(`pointer:${event.pointerId}`);
      press(`pointer:${event.pointerId}`, +key.dataset.pitch, 80);
    });
    piano.addEventListener("pointerleave", (event) => lift(`pointer:${event.pointerId}`));
    for (const kind of ["pointerup", "pointercancel"]) window.addEventListener(kind, (event) => lift(`pointer:${event.pointerId}`));
  }

  function highlight(pitch, down) {
    const key = document.querySelector(`#play-piano [data-pitch="${pitch}"]`);
    if (key) key.classList.toggle("down", down);
  }

  function playing() {
    return !byId("play-panel").hidden && byId("play").open;
  }

  function typing(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  function keyPitch(event) {
    if (event.code in KEYS) return KEYS[event.code];
    const code = event.key && event.key.length === 1 ? (/\d/.test(event.key) ? "Digit" : "Key") + event.key.toUpperCase() : "";
    return KEYS[code];
  }

  // A key let go always lifts its note, even when the focus moved into a field while it was down.
  function onKey(event) {
    const pitch = keyPitch(event);
    if (pitch === undefined) return;
    if (event.type === "keyup") return lift(`key:${pitch}`);
    if (!playing() || typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    if (!event.repeat) press(`key:${pitch}`, pitch, 90);
  }

  // A MIDI message from a keyboard (event.data: status, data1, data2), any channel.
  function midiMessage(event) {
    const [statusByte, first, second] = event.data;
    const kind = statusByte & 0xf0;
    if (kind === 0x90 && second > 0) press(`midi:${first}`, first, second);
    else if (kind === 0x80 || kind === 0x90) lift(`midi:${first}`);
    else if (kind === 0xb0 && first === 64) setPedal(second >= 64);
  }

  function chooseMidiInput() {
    if (!live.midi) return;
    const chosen = byId("play-midi-input").value;
    for (const input of live.midi.inputs.values()) input.onmidimessage = input.id === chosen ? midiMessage : null;
    liftAll("midi:");
  }

  function listMidiInputs() {
    const select = byId("play-midi-input");
    const inputs = [...live.midi.inputs.values()];
    const chosen = select.value;
    select.replaceChildren(...inputs.map((input) => element("option", { value: input.id, text: input.name || input.id })));
    if (inputs.some((input) => input.id === chosen)) select.value = chosen;
    select.disabled = !inputs.length;
    byId("play-midi").textContent = inputs.length ? "" : "no MIDI keyboard connected: plug one in and it appears here";
    chooseMidiInput();
  }

  function askForMidi() {
    if (live.midi !== null) return;
    live.midi = false;  // asked once
    const note = byId("play-midi");
    if (!navigator.requestMIDIAccess) {
      note.textContent = "this browser has no Web MIDI (it needs Chrome, Edge or Firefox, and https or localhost): use the keys";
      return;
    }
    navigator.requestMIDIAccess().then((access) => {
      live.midi = access;
      access.onstatechange = listMidiInputs;
      listMidiInputs();
    }, (error) => {
      note.textContent = `Web MIDI is not available (${error.message}): use the keys`;
    });
  }

  // -- the live piano roll --------------------------------------------------------------------------
  function drawRoll() {
    requestAnimationFrame(drawRoll);
    if (!playing()) return;
    const canvas = byId("play-roll");
    const scale = window.devicePixelRatio || 1;
    const width = canvas.clientWidth * scale, height = canvas.clientHeight * scale;
    if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, width, height);
    const t = now(), from = t - ROLL_SECONDS, to = t + ROLL_AHEAD;
    live.notes = live.notes.filter((n) => n.end === null || n.end > from - 5);
    const shown = live.notes.filter((n) => n.start < to && (n.end === null || n.end > from));
    const pitches = shown.map((n) => n.pitch);
    const low = Math.min(LOW, ...pitches) - 1, high = Math.max(HIGH, ...pitches) + 1;
    const row = height / (high - low + 1);
    const x = (time) => ((time - from) / (to - from)) * width;
    g.strokeStyle = "#e8ecf2";
    g.fillStyle = "#6b7585";
    g.font = `${9 * scale}px system-ui, sans-serif`;
    for (let p = low; p <= high; p++) {
      if (p % 12) continue;
      const y = (high - p + 1) * row;
      g.beginPath(); g.moveTo(0, y); g.lineTo(width, y); g.stroke();
      g.fillText(`C${p / 12 - 1}`, 2, y - 2);
    }
    const drawn = { person: 0, model: 0 };
    for (const n of shown) {
      if (n.who === "model" && !n.counted && n.start <= t) { n.counted = true; counts.heard += 1; }
      const end = n.end === null ? Math.max(t, n.start + 0.05) : n.end;
      g.fillStyle = COLOURS[n.who];
      g.fillRect(x(n.start), (high - n.pitch) * row + 1, Math.max(2, x(end) - x(n.start)), Math.max(2, row - 2));
      drawn[n.who] += 1;
    }
    counts.drawn = drawn;
    g.strokeStyle = "#b3261e";  // now
    g.beginPath(); g.moveTo(x(t), 0); g.lineTo(x(t), height); g.stroke();
  }

  // -- wiring ---------------------------------------------------------------------------------------
  function start() {
    buildPiano();
    byId("play-panel").addEventListener("submit", (event) => event.preventDefault());
    byId("play-start").addEventListener("click", () => (live.socket ? disconnect() : connect()));
    byId("play-save").addEventListener("click", () => { status("saving…"); send({ type: "save" }); });
    for (const id of ["play-pause", "play-length", "play-temperature", "play-seed"]) byId(id).addEventListener("change", () => send(settings()));
    for (const id of ["midi-density", "midi-pitch"]) byId(id).addEventListener("change", () => send(settings()));
    byId("play-midi-input").addEventListener("change", chooseMidiInput);
    byId("play").addEventListener("toggle", () => { if (byId("play").open) askForMidi(); else liftAll(""); });
    window.addEventListener("keydown", onKey);
    window.addEventListener("keyup", onKey);
    window.addEventListener("blur", () => liftAll("key:"));
    requestAnimationFrame(drawRoll);
  }

  // app.js calls this when a run (or its checkpoint) is chosen: a duet belongs to one checkpoint.
  window.liveRunChosen = (run) => {
    const session = live.session;
    if (live.socket && (session.run !== run.name || session.checkpoint !== $("checkpoint").value)) disconnect();
    byId("play-saved").replaceChildren();
  };
  window.liveMidiMessage = midiMessage;
  start();
})();
