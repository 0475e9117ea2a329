// The explorer page: every control calls one route, and every route one library call (see app.py).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { chosen: null, around: null, frames: [], playing: null };
// This launch's token, from the URL `dcgan explore` printed: every API call carries it (app.py's Guard).
const TOKEN = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("dcgan-token") || "";
sessionStorage.setItem("dcgan-token", TOKEN);
const HEADERS = { "X-Dcgan-Token": TOKEN };

function status(text, kind) {
  const s = $("status");
  s.textContent = text;
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

function fail(e) { status(String(e.message || e), "failed"); }

function img(b64) { return "data:image/png;base64," + b64; }

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
    const el = document.createElement("img");
    el.src = img(data.images[i]);
    el.className = "tile";
    el.dataset.seed = seed;
    el.title = data.names[i];
    el.alt = data.names[i];
    el.addEventListener("click", () => choose(seed, el, data.names[i]));
    grid.appendChild(el);
  });
  $("grid-caption").textContent = `${data.lines[0]} (${Math.round(performance.now() - t0)} ms)`;
  if (state.chosen !== null && state.around === null) refreshDetail();
}

async function refreshDetail() {
  const p = common();
  p.set("trunc", $("trunc").value);
  p.set("seeds", String(state.chosen.seed));
  if (state.chosen.around !== null) { p.set("around", state.chosen.around); p.set("radius", state.chosen.radius); }
  const data = await getJSON("/api/samples?" + p);
  $("detail-img").src = img(data.images[0]);
}

function choose(seed, el, name) {
  document.querySelectorAll("#grid img.chosen").forEach((x) => x.classList.remove("chosen"));
  el.classList.add("chosen");
  state.chosen = { seed, around: state.around, radius: $("radius").value };
  $("detail-panel").hidden = false;
  $("detail-seed").textContent = name;
  $("detail-img").src = el.src;
  $("read-lines").textContent = "";
  $("neighbours-lines").textContent = "";
  $("neighbours-img").hidden = true;
}

function useAs(which) {
  if (state.chosen.around !== null) { status("a sample around a seed has no seed of its own: pick one from the seed grid", "failed"); return; }
  $(which).value = "seed:" + state.chosen.seed;
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
  $("interp-lines").textContent = data.lines.join("\n");
  $("frame").hidden = false;
  showFrame();
}

function showFrame() {
  const i = Number($("t").value);
  const n = state.frames.length;
  if (!n) return;
  $("frame").src = img(state.frames[i]);
  $("t-value").textContent = (i / (n - 1)).toFixed(2);
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
  $("interp-lines").textContent = data.lines.concat(data.written.map((w) => "wrote " + w)).join("\n");
}

async function arithmetic() {
  $("verdict").textContent = "";
  const r = await job("arithmetic", { expression: $("expr").value, method: $("method").value, anchor: $("anchor").value });
  $("verdict").textContent = r.lines.join("\n");
  $("arith-figure").src = img(r.figure);
  $("arith-figure").hidden = false;
  const box = $("arith-results");
  box.replaceChildren();
  r.results.forEach((b64, i) => {
    const el = document.createElement("img");
    el.src = img(b64);
    el.title = `result ${i + 1}: click to use it as A (z:${r.ids[i]})`;
    el.addEventListener("click", () => { $("end-a").value = "z:" + r.ids[i]; $("anchor").value = "z:" + r.ids[i]; status(`result ${i + 1} is A and the anchor`); });
    box.appendChild(el);
  });
}

async function projectUpload() {
  const f = $("file").files[0];
  if (!f) { status("choose a picture first", "failed"); return; }
  const up = await fetch("/api/upload", { method: "POST", body: f, headers: { ...HEADERS, "X-Filename": f.name } });
  const u = await up.json();
  if (!up.ok) throw new Error(u.error);
  const r = await job("project", { upload: "z:" + u.id });
  $("project-lines").textContent = r.lines.join("\n") + `\n\nits z is z:${r.id}: use it as A, B or the anchor`;
  $("project-figure").src = img(r.figure);
  $("project-figure").hidden = false;
  $("end-a").value = "z:" + r.id;
  $("anchor").value = "z:" + r.id;
}

async function showRun() {
  const p = common();
  const run = await getJSON("/api/run?" + p);
  p.set("token", TOKEN);  // the pictures are fetched by <img>, which sends no header
  $("run-name").textContent = run.run || "";
  $("generator").disabled = !run.has_ema;
  $("words").textContent = run.words.length ? "words: " + run.words.join(", ") : "this data set has no labels: define concepts by seeds with the CLI's --define";
  $("config").textContent = JSON.stringify(run.info, null, 1);
  $("pictures").replaceChildren();
  for (const rel of run.pictures) {
    const a = document.createElement("a");
    a.href = "/files/" + rel.split("/").map(encodeURIComponent).join("/") + "?" + p;
    a.target = "_blank";
    if (/\.mp4$/i.test(rel)) { a.textContent = rel; } else {
      const el = document.createElement("img");
      el.src = a.href; el.alt = rel; el.title = rel; el.loading = "lazy";
      a.appendChild(el);
    }
    $("pictures").appendChild(a);
  }
  return run;
}

async function load() {
  const run = await showRun();
  for (const c of run.checkpoints) {
    const o = document.createElement("option");
    o.value = c.name; o.textContent = c.name;
    if (c.name === run.default) o.selected = true;
    $("ckpt").appendChild(o);
  }
  for (const m of run.methods) {
    const o = document.createElement("option");
    o.value = m; o.textContent = m;
    $("method").appendChild(o);
  }
  await showSamples();
}

function on(id, event, fn) { $(id).addEventListener(event, () => fn().catch(fail)); }

$("trunc").addEventListener("input", () => { $("trunc-value").textContent = Number($("trunc").value).toFixed(2); });
$("radius").addEventListener("input", () => { $("radius-value").textContent = Number($("radius").value).toFixed(2); });
on("trunc", "change", showSamples);
on("radius", "change", showSamples);
on("show-seeds", "click", showSamples);
on("ckpt", "change", async () => { await showRun(); await showSamples(); });
on("generator", "change", showSamples);
on("more-like", "click", async () => {
  if (state.chosen.around !== null) { status("already around a seed: move the radius", ""); return; }
  state.around = state.chosen.seed;
  $("around-box").hidden = false;
  $("back-to-seeds").hidden = false;
  await showSamples();
});
on("back-to-seeds", "click", async () => { state.around = null; $("around-box").hidden = true; $("back-to-seeds").hidden = true; await showSamples(); });
$("use-a").addEventListener("click", () => useAs("end-a"));
$("use-b").addEventListener("click", () => useAs("end-b"));
on("read", "click", async () => {
  const c = state.chosen;
  const r = await job("read", { seed: c.seed, trunc: $("trunc").value, around: c.around, radius: c.radius });
  $("read-lines").textContent = r.lines.slice(1).join("\n");
});
on("neighbours", "click", async () => {
  if (state.chosen.around !== null) { status("nearest images are searched for seeds: pick one from the seed grid", "failed"); return; }
  const r = await job("neighbours", { seed: state.chosen.seed });
  $("neighbours-img").src = img(r.figure);
  $("neighbours-img").hidden = false;
  $("neighbours-lines").textContent = r.lines.join("\n");
});
on("walk", "click", walk);
$("t").addEventListener("input", showFrame);
$("play").addEventListener("click", play);
on("export", "click", exportWalk);
on("run-arith", "click", arithmetic);
$("expr").addEventListener("keydown", (e) => { if (e.key === "Enter") arithmetic().catch(fail); });
on("project", "click", projectUpload);
load().catch(fail);
