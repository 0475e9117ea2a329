// The explorer page: every control calls one route, and every route one library call (see app.py).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { chosen: null, around: null, frames: [], playing: null, steer: null };
// This launch's token, from the URL `dcgan explore` printed: every API call carries it (app.py's Guard).
const TOKEN = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("dcgan-token") || "";
sessionStorage.setItem("dcgan-token", TOKEN);
const HEADERS = { "X-Dcgan-Token": TOKEN };
const MAX_SEED = 2n ** 63n - 1n;
// Controls in names from files (bidi overrides, zero-width marks, line separators, escapes) shown as
// visible escapes, as the terminal shows them (core/results.py's shown): a class folder named
// green\u202etxt.exe must not read as greenexe.txt. Newlines and tabs stay: the panels print lines.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]/g;
function shown(text) {
  return String(text).replace(CONTROL, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

function status(text, kind) {
  const s = $("status");
  s.textContent = shown(text);
  s.className = kind || "";
}

function common() {
  const p = new URLSearchParams();
  if ($("ckpt").value) p.set("ckpt", $("ckpt").value);
  if ($("generator").value) p.set("generator", $("generator").value);
  return p;
}

async function getJSON(url) {
  const r = await fetch(url, { headers: HEADERS });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

// A slow call: start the job, then poll until it is done, showing its progress.
async function job(kind, payload) {
  const body = Object.fromEntries(common());
  Object.assign(body, payload);
  const r = await fetch("/api/jobs/" + kind, { method: "POST", body: JSON.stringify(body), headers: { ...HEADERS, "Content-Type": "application/json" } });
  const started = await r.json();
  if (!r.ok) throw new Error(started.error);
  for (;;) {
    const j = await getJSON("/api/job/" + started.job);
    if (j.state === "done") { status(""); return j.result; }
    if (j.state === "failed") throw new Error(j.error);
    const of = j.total ? ` ${j.done}/${j.total}` : "";
    status(`${kind}: ${j.phase || j.state}${of}`, "busy");
    await new Promise((res) => setTimeout(res, 300));
  }
}

// An error is said in the header and beside the control that raised it: a panel lower on the page
// would otherwise fail out of view.
function fail(e, el) {
  const text = String(e.message || e);
  status(text, "failed");
  const section = el && el.closest ? el.closest("section") : null;
  if (!section) return;
  let box = section.querySelector(".panel-error");
  if (!box) {
    box = document.createElement("p");
    box.className = "panel-error";
    box.setAttribute("role", "alert");
  }
  (el.closest(".controls, label") || el).after(box);
  box.textContent = shown(text);
  box.hidden = false;
}

function clearError(el) {  // a new action: the last one's error is no longer the news
  const box = el.closest("section") && el.closest("section").querySelector(".panel-error");
  if (box) box.hidden = true;
  if ($("status").className === "failed") status("");
}

function failedAt(id) { return (e) => fail(e, $(id)); }

function img(b64) { return "data:image/png;base64," + b64; }

function figure(src, caption, cls) {
  const box = document.createElement("figure");
  const el = document.createElement("img");
  el.src = src;
  el.alt = shown(caption);
  if (cls) el.className = cls;
  const cap = document.createElement("figcaption");
  cap.textContent = shown(caption);
  box.append(el, cap);
  return [box, el];
}

// --- samples: the grid redraws while a slider is dragged; a redraw asked for while one is
// drawing waits, and only the newest ask is drawn (requests coalesce, the newest wins)
const redraw = { busy: false, again: false };

async function liveSamples() {
  if (redraw.busy) { redraw.again = true; return; }
  redraw.busy = true;
  try {
    do { redraw.again = false; await showSamples(); } while (redraw.again);
  } finally { redraw.busy = false; }
}

async function showSamples() {
  const p = common();
  p.set("trunc", $("trunc").value);
  if (state.around !== null) {
    p.set("around", state.around);
    p.set("radius", $("radius").value);
    p.set("seeds", "1-32");
  } else {
    p.set("seeds", $("seeds").value);
  }
  const t0 = performance.now();
  const data = await getJSON("/api/samples?" + p);
  const grid = $("grid");
  grid.replaceChildren();
  data.seeds.forEach((seed, i) => {
    const [box, el] = figure(img(data.images[i]), data.names[i], "tile");
    el.dataset.seed = seed;
    el.title = shown(data.names[i]);
    if (state.chosen && state.chosen.seed === seed && state.chosen.around === state.around) el.classList.add("chosen");
    el.addEventListener("click", () => choose(seed, el, data.names[i]));
    grid.appendChild(box);
  });
  $("grid-caption").textContent = shown(`${data.lines[0]}; G drew them in ${Math.round(data.model_ms)} ms, shown in ${Math.round(performance.now() - t0)} ms`);
  if (state.chosen !== null) await refreshDetail();
}

// The seeds box as a page: "a-b" (or one seed) -> [first, count]; a list has no next page.
function page() {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec($("seeds").value);
  if (!m) return null;
  const lo = BigInt(m[1]), hi = BigInt(m[2] || m[1]);
  return hi >= lo ? [lo, hi - lo + 1n] : null;
}

function setPage(lo, n) {
  if (lo < 0n) lo = 0n;
  if (lo + n - 1n > MAX_SEED) lo = MAX_SEED - n + 1n;
  $("seeds").value = n === 1n ? String(lo) : `${lo}-${lo + n - 1n}`;
  return showSamples();
}

async function stepPage(dir) {
  const p = page() || [0n, 64n];
  await setPage(p[0] + BigInt(dir) * p[1], p[1]);
}

async function randomPage() {
  const n = (page() || [0n, 64n])[1];
  await setPage(BigInt(Math.floor(Math.random() * 1e9)) * n, n);
}

async function findLabel() {
  const phrase = $("label-phrase").value.trim();
  if (!phrase) { status("type what to show, e.g. a class word of this data set", "failed"); return; }
  const per = (page() || [0n, 32n])[1];
  const n = Number(per > 256n ? 256n : per);
  const r = await job("label", { phrase, n, trunc: $("trunc").value });
  state.around = null;
  $("seeds").value = r.seeds.join(",");
  await showSamples();
  $("grid-caption").textContent = shown(r.lines.join(" ")) + " \u2014 " + $("grid-caption").textContent;
}

// --- one sample

async function refreshDetail() {
  const c = state.chosen;
  if (state.steer && state.steer.trunc !== $("trunc").value) {  // a slider made at another truncation: gone
    state.steer = null;
    $("steer-box").hidden = true;
  }
  if (state.steer) { showSteer(); return; }
  // the grid just drawn holds it when the chosen seed is on this page: no second request per redraw
  const tile = c.around === state.around && [...document.querySelectorAll("#grid img.tile")].find((t) => t.dataset.seed === String(c.seed));
  if (tile) { $("detail-img").src = tile.src; $("detail-seed").textContent = tile.alt; return; }
  const p = common();
  p.set("trunc", $("trunc").value);
  p.set("seeds", String(c.seed));
  if (c.around !== null) { p.set("around", c.around); p.set("radius", c.radius); }
  const data = await getJSON("/api/samples?" + p);
  $("detail-img").src = img(data.images[0]);
  $("detail-seed").textContent = shown(data.names[0]);
}

function clearDetail() {
  $("read-lines").textContent = "";
  $("neighbours-lines").textContent = "";
  $("neighbours-img").hidden = true;
  $("steer-box").hidden = true;
  state.steer = null;
}

function choose(seed, el, name) {
  document.querySelectorAll("#grid img.chosen").forEach((x) => x.classList.remove("chosen"));
  el.classList.add("chosen");
  state.chosen = { seed, around: state.around, radius: $("radius").value };
  $("detail-panel").hidden = false;
  $("detail-seed").textContent = shown(name);
  $("detail-img").src = el.src;
  clearDetail();
}

async function stepSeed(dir) {
  const c = state.chosen;
  if (!c) return;
  const next = BigInt(c.seed) + BigInt(dir);
  if (next < 0n || next > BigInt(Number.MAX_SAFE_INTEGER)) return;  // a page's numbers are exact to 2^53
  c.seed = Number(next);
  document.querySelectorAll("#grid img.chosen").forEach((x) => x.classList.remove("chosen"));
  const tile = [...document.querySelectorAll("#grid img.tile")].find((t) => t.dataset.seed === String(c.seed) && c.around === state.around);
  if (tile) tile.classList.add("chosen");
  clearDetail();
  await refreshDetail();
}

function useAs(which) {
  if (state.chosen.around !== null) { status("a sample around a seed has no seed of its own: pick one from the seed grid", "failed"); return; }
  setEnd(which, "seed:" + state.chosen.seed);
}

// --- a concept slider: the pictures of the whole path are made once, so dragging only shows them

async function steer() {
  const c = state.chosen;
  if (c.around !== null) { status("a concept slider starts from a seed: pick one from the seed grid", "failed"); return; }
  const concept = $("concept").value;
  const trunc = $("trunc").value;
  const r = await job("steer", { ref: "seed:" + c.seed, concept, trunc });
  state.steer = Object.assign(r, { trunc });
  const s = $("steer-pos");
  s.max = String(r.positions.length - 1);
  s.value = String((r.positions.length - 1) / 2);
  const strip = $("steer-strip");
  strip.replaceChildren();
  r.frames.forEach((b64, i) => {
    const [box, el] = figure(img(b64), r.reads[i]);
    el.addEventListener("click", () => { s.value = String(i); showSteer(); });
    strip.appendChild(box);
  });
  $("steer-box").hidden = false;
  $("steer-lines").textContent = shown(r.lines.join("\n"));
  showSteer();
}

function showSteer() {
  const r = state.steer;
  if (!r) return;
  const i = Number($("steer-pos").value);
  $("detail-img").src = img(r.frames[i]);
  const at = r.positions[i];
  $("steer-value").textContent = (at > 0 ? "+" : "") + at.toFixed(2);
  const also = r.reads[i].startsWith(r.concept + " ") ? "" : ` (${r.concept} ${Math.round(100 * r.probs[i])}%)`;
  $("steer-read").textContent = `${at === 0 ? "the sample" : (at > 0 ? "more " : "less ") + r.concept}: `
    + `the classifier reads ${r.reads[i]}${also}; z moved ${r.distances[i].toFixed(2)} of a typical |z|`;
  [...$("steer-strip").children].forEach((box, k) => box.classList.toggle("current", k === i));
}

// --- interpolation: the walk's strip, its current frame enlarged

function setEnd(which, value) {
  $(which).value = value;
  clearWalk();
}

function clearWalk() {  // a walk shown between ends that changed would be a walk between other ends
  state.frames = [];
  $("frame").hidden = true;
  $("strip").replaceChildren();
  $("interp-lines").textContent = "";
}

function walkParams() {
  const p = common();
  p.set("a", $("end-a").value);
  p.set("b", $("end-b").value);
  p.set("steps", $("steps").value);
  p.set("trunc", $("trunc").value);
  if ($("path").value) p.set("method", $("path").value);
  return p;
}

async function walk() {
  const data = await getJSON("/api/interpolate?" + walkParams());
  state.frames = data.frames;
  $("t").max = String(data.frames.length - 1);
  $("t").value = "0";
  $("interp-lines").textContent = shown(data.lines.join("\n"));
  $("frame").hidden = false;
  const strip = $("strip");
  strip.replaceChildren();
  const n = data.frames.length;
  data.frames.forEach((b64, i) => {
    const [box, el] = figure(img(b64), "t " + (i / (n - 1)).toFixed(2));
    el.addEventListener("click", () => { $("t").value = String(i); showFrame(); });
    strip.appendChild(box);
  });
  showFrame();
}

function showFrame() {
  const i = Number($("t").value);
  const n = state.frames.length;
  if (!n) return;
  $("frame").src = img(state.frames[i]);
  $("t-value").textContent = (i / (n - 1)).toFixed(2);
  [...$("strip").children].forEach((box, k) => box.classList.toggle("current", k === i));
}

function play() {
  if (state.playing) { clearInterval(state.playing); state.playing = null; $("play").textContent = "Play"; return; }
  if (!state.frames.length) return;
  let dir = 1;
  $("play").textContent = "Stop";
  state.playing = setInterval(() => {
    let i = Number($("t").value) + dir;
    if (i >= state.frames.length || i < 0) { dir = -dir; i += 2 * dir; }
    $("t").value = String(i);
    showFrame();
  }, 150);
}

async function exportWalk() {
  const body = Object.fromEntries(walkParams());
  const r = await fetch("/api/export", { method: "POST", body: JSON.stringify(body), headers: { ...HEADERS, "Content-Type": "application/json" } });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  $("interp-lines").textContent = shown(data.lines.concat(data.written.map((w) => "wrote " + w)).join("\n"));
}

// --- arithmetic and your image

async function arithmetic() {
  $("verdict").textContent = "";
  const r = await job("arithmetic", { expression: $("expr").value, method: $("method").value, anchor: $("anchor").value });
  $("verdict").textContent = shown(r.lines.join("\n"));
  $("arith-figure").src = img(r.figure);
  $("arith-figure").hidden = $("arith-figure-title").hidden = $("arith-results-title").hidden = false;
  const box = $("arith-results");
  box.replaceChildren();
  r.results.forEach((b64, i) => {
    const [fig, el] = figure(img(b64), `result ${i + 1}`, "tile");
    el.title = `result ${i + 1}: click to use it as A and the anchor (z:${r.ids[i]})`;
    el.addEventListener("click", () => { setEnd("end-a", "z:" + r.ids[i]); $("anchor").value = "z:" + r.ids[i]; status(`result ${i + 1} is A and the anchor`); });
    box.appendChild(fig);
  });
}

async function projectUpload() {
  const f = $("file").files[0];
  if (!f) { status("choose a picture first", "failed"); return; }
  const up = await fetch("/api/upload", { method: "POST", body: f, headers: { ...HEADERS, "X-Filename": f.name } });
  const u = await up.json();
  if (!up.ok) throw new Error(u.error);
  const r = await job("project", { upload: "z:" + u.id });
  $("project-lines").textContent = shown(r.lines.join("\n") + `\n\nits z is z:${r.id}: use it as A, B or the anchor`);
  $("project-figure").src = img(r.figure);
  $("project-figure").hidden = false;
  setEnd("end-a", "z:" + r.id);
  $("anchor").value = "z:" + r.id;
}

// --- the run: its settings as tables, its pictures at their size with captions

function table(title, rows) {
  const t = document.createElement("table");
  const cap = document.createElement("caption");
  cap.textContent = shown(title);
  t.appendChild(cap);
  for (const [k, v] of rows) {
    const tr = t.insertRow();
    tr.insertCell().textContent = shown(k);
    tr.insertCell().textContent = shown(v === null || v === undefined ? "\u2014" : typeof v === "object" ? JSON.stringify(v) : String(v));
  }
  return t;
}

function showConfig(info) {
  const top = Object.entries(info).filter(([, v]) => v === null || typeof v !== "object" || Array.isArray(v));
  const tables = [table("checkpoint", top.concat(Object.entries(info.parameters || {}).map(([k, v]) => [k + " parameters", v.toLocaleString()])))];
  for (const section of ["model", "train", "dataset", "metrics"]) {
    const rows = Object.entries(info[section] || {}).filter(([k]) => k !== "groups");
    if (rows.length) tables.push(table(section, rows.map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v])));
  }
  $("config").replaceChildren(...tables);
}

const KINDS = [[/^progress\/.*\.gif$/i, "training progress, one frame per saved grid"], [/^progress\//i, "samples of fixed seeds during training"],
  [/curves/i, "training curves"], [/real.*fake|fake.*real/i, "real images beside generated ones"], [/evaluat/i, "an evaluation"],
  [/interpolat/i, "an interpolation"], [/arithmetic/i, "vector arithmetic"], [/nn.?search|nearest/i, "nearest training images"]];

function caption(rel) {
  const kind = KINDS.find(([re]) => re.test(rel));
  return kind ? `${rel}: ${kind[1]}` : rel;
}

async function showRun() {
  const p = common();
  const run = await getJSON("/api/run?" + p);
  p.set("token", TOKEN);  // the pictures are fetched by <img>, which sends no header
  $("run-name").textContent = shown(run.run || "");
  $("generator").disabled = !run.has_ema;
  $("words").textContent = shown(run.words.length ? "words: " + run.words.join(", ") : "this data set has no labels: define concepts by seeds with the CLI's --define");
  $("concept").replaceChildren(...run.concepts.map((w) => Object.assign(document.createElement("option"), { value: w, textContent: shown(w) })));
  $("concept-box").hidden = $("label-box").hidden = !run.concepts.length;
  showConfig(run.info);
  $("pictures").replaceChildren();
  for (const rel of run.pictures) {
    const href = "/files/" + rel.split("/").map(encodeURIComponent).join("/") + "?" + p;
    const a = document.createElement("a");
    a.href = href;
    a.target = "_blank";
    if (/\.mp4$/i.test(rel)) { a.textContent = shown(caption(rel)); } else {
      const [box, el] = figure(href, caption(rel));
      el.loading = "lazy";
      a.appendChild(box);
    }
    $("pictures").appendChild(a);
  }
  return run;
}

async function load() {
  const run = await showRun();
  for (const c of run.checkpoints) {
    const o = document.createElement("option");
    o.value = c.name; o.textContent = shown(c.name);
    if (c.name === run.default) o.selected = true;
    $("ckpt").appendChild(o);
  }
  for (const m of run.methods) {
    const o = document.createElement("option");
    o.value = m; o.textContent = shown(m);
    $("method").appendChild(o);
  }
  await showSamples();
}

function on(id, event, fn) { $(id).addEventListener(event, () => { clearError($(id)); fn().catch(failedAt(id)); }); }

function setTrunc(value) {  // the slider and the number field are one setting
  const typed = value === "" ? NaN : Number(value);
  const v = Number.isFinite(typed) ? Math.min(1.5, Math.max(0, typed)) : Number($("trunc").value);  // a cleared field keeps it
  $("trunc").value = String(v);
  $("trunc-num").value = v.toFixed(2);
  liveSamples().catch(failedAt("trunc"));
}
$("trunc").addEventListener("input", () => setTrunc($("trunc").value));
$("trunc-num").addEventListener("change", () => setTrunc($("trunc-num").value));
$("radius").addEventListener("input", () => { $("radius-value").textContent = Number($("radius").value).toFixed(2); liveSamples().catch(failedAt("radius")); });
on("show-seeds", "click", showSamples);
$("seeds").addEventListener("keydown", (e) => { if (e.key === "Enter") showSamples().catch(failedAt("seeds")); });
on("prev-page", "click", () => stepPage(-1));
on("next-page", "click", () => stepPage(1));
on("random-page", "click", randomPage);
on("find-label", "click", findLabel);
$("label-phrase").addEventListener("keydown", (e) => { if (e.key === "Enter") findLabel().catch(failedAt("label-phrase")); });
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
  const act = { ArrowLeft: () => stepPage(-1), ArrowRight: () => stepPage(1), r: randomPage }[e.key];
  if (act && state.around === null) { e.preventDefault(); act().catch(failedAt("seeds")); }
});
on("ckpt", "change", async () => { await showRun(); clearDetail(); await showSamples(); });
on("generator", "change", async () => { clearDetail(); await showSamples(); });
on("more-like", "click", async () => {
  if (state.chosen.around !== null) { status("already around a seed: move the radius", ""); return; }
  state.around = state.chosen.seed;
  $("around-box").hidden = false;
  $("back-to-seeds").hidden = false;
  await showSamples();
});
on("back-to-seeds", "click", async () => { state.around = null; $("around-box").hidden = true; $("back-to-seeds").hidden = true; await showSamples(); });
on("prev-seed", "click", () => stepSeed(-1));
on("next-seed", "click", () => stepSeed(1));
$("use-a").addEventListener("click", () => useAs("end-a"));
$("use-b").addEventListener("click", () => useAs("end-b"));
$("end-a").addEventListener("input", clearWalk);
$("end-b").addEventListener("input", clearWalk);
on("read", "click", async () => {
  const c = state.chosen;
  const r = await job("read", { seed: c.seed, trunc: $("trunc").value, around: c.around, radius: c.radius });
  $("read-lines").textContent = shown(r.lines.slice(1).join("\n"));
});
on("neighbours", "click", async () => {
  if (state.chosen.around !== null) { status("nearest images are searched for seeds: pick one from the seed grid", "failed"); return; }
  const r = await job("neighbours", { seed: state.chosen.seed, trunc: $("trunc").value });
  $("neighbours-img").src = img(r.figure);
  $("neighbours-img").hidden = false;
  $("neighbours-lines").textContent = shown(r.lines.join("\n"));
});
on("steer", "click", steer);
$("steer-pos").addEventListener("input", showSteer);
on("walk", "click", walk);
$("t").addEventListener("input", showFrame);
$("play").addEventListener("click", play);
on("export", "click", exportWalk);
on("run-arith", "click", arithmetic);
$("expr").addEventListener("keydown", (e) => { if (e.key === "Enter") arithmetic().catch(failedAt("expr")); });
on("project", "click", projectUpload);
load().catch((e) => fail(e));
