// The little JavaScript of the pages: confirmation before erasing, photo uploads with their
// verdicts, and the live view. Every state-changing request carries the session's CSRF token.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

function verdictLine(row) {
  const li = document.createElement("li");
  if (row.enrolled) {
    li.className = "verdict-ok";
    li.textContent = `${row.image}: enrolled` + (row.note ? ` (${row.note})` : "");
  } else {
    li.className = "verdict-no";
    li.textContent = `${row.image}: refused: ${(row.reasons || []).join("; ")}`;
  }
  return li;
}

async function upload(form, files) {
  const out = form.querySelector(".verdicts");
  if (!files.length) return;
  const body = new FormData();
  for (const f of files) body.append("image", f, f.name);
  out.textContent = `checking ${files.length} photo(s)…`;
  try {
    const response = await fetch(form.dataset.url, {
      method: "POST", body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf() },
    });
    const answer = await response.json();
    out.textContent = "";
    if (!response.ok) {
      out.textContent = `refused (${response.status}): ${answer.detail || answer.title}`;
      return;
    }
    const list = document.createElement("ul");
    answer.images.forEach((row) => list.appendChild(verdictLine(row)));
    out.appendChild(list);
    out.dataset.done = "1";
  } catch (err) {
    out.textContent = `upload failed: ${err}`;
  }
}

document.querySelectorAll("form.upload").forEach((form) => {
  const input = form.querySelector('input[type="file"]');
  input.addEventListener("change", () => upload(form, input.files));
  form.addEventListener("submit", (e) => { e.preventDefault(); upload(form, input.files); });
  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("over");
    upload(form, e.dataTransfer.files);
  });
});

// live view: frames drawn by the server arrive as SSE; latency = now - capture time, once shown
const live = document.querySelector("figure.live");
if (live) {
  const img = live.querySelector("img");
  const faces = document.getElementById("faces");
  const latency = document.getElementById("latency");
  window.fsLatencies = [];
  window.fsServerLatencies = [];
  window.fsLabels = [];
  let pending = null;
  img.addEventListener("load", () => {
    if (!pending) return;
    const ms = Date.now() - pending.capture_time * 1000;
    window.fsLatencies.push(ms);
    window.fsServerLatencies.push((pending.sent_time - pending.capture_time) * 1000);
    const sorted = [...window.fsLatencies].sort((a, b) => a - b);
    const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
    latency.textContent = `capture → drawn: ${ms.toFixed(0)} ms (p95 ${p95.toFixed(0)} ms over ${sorted.length} frames)`;
    pending = null;
  });
  const source = new EventSource(live.dataset.stream);
  source.addEventListener("frame", (e) => {
    const data = JSON.parse(e.data);
    pending = data;
    data.faces.forEach((f) => window.fsLabels.push(f.label));
    faces.textContent = data.faces.length
      ? `frame ${data.frame}: ` + data.faces.map((f) => `${f.label || "unknown"} #${f.track_id}`).join(", ")
      : `frame ${data.frame}: no faces`;
    img.src = "data:image/jpeg;base64," + data.jpeg;
  });
}

// activity timelines: bar positions from data attributes (no inline styles: the CSP forbids them)
document.querySelectorAll(".timeline span").forEach((bar) => {
  bar.style.left = bar.dataset.left + "%";
  bar.style.width = bar.dataset.width + "%";
});

// search: who is in the photo, and the look-alikes of its largest face
const searchForm = document.querySelector("form.search");
if (searchForm) {
  const input = searchForm.querySelector('input[type="file"]');
  const who = document.getElementById("who");
  const alike = document.getElementById("lookalikes");
  const base = `/v1/collections/${searchForm.dataset.collection}`;
  const post = async (path, file) => {
    const body = new FormData();
    body.append("image", file, file.name);
    const r = await fetch(base + path, {
      method: "POST", body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() },
    });
    const answer = await r.json();
    if (!r.ok) throw new Error(answer.detail || answer.title);
    return answer;
  };
  const list = (items) => {
    const ul = document.createElement("ul");
    items.forEach((text) => { const li = document.createElement("li"); li.textContent = text; ul.appendChild(li); });
    return ul;
  };
  const run = async (file) => {
    if (!file) return;
    who.textContent = "looking…";
    alike.textContent = "";
    try {
      const found = await post("/identify", file);
      who.textContent = found.faces.length ? "Who:" : "No face found.";
      who.appendChild(list(found.faces.map((f) =>
        f.name ? `${f.name} (score ${f.score.toFixed(2)})` : `unknown (best ${f.score.toFixed(2)})`)));
      if (found.faces.length) {
        const like = await post("/search?k=5", file);
        alike.textContent = "Look-alikes:";
        alike.appendChild(list(like.people.map((p) => `${p.name} (score ${p.score.toFixed(2)})`)));
      }
      searchForm.dataset.done = "1";
    } catch (err) {
      who.textContent = `refused: ${err.message}`;
    }
  };
  input.addEventListener("change", () => run(input.files[0]));
  searchForm.addEventListener("submit", (e) => { e.preventDefault(); run(input.files[0]); });
  searchForm.addEventListener("dragover", (e) => { e.preventDefault(); searchForm.classList.add("over"); });
  searchForm.addEventListener("dragleave", () => searchForm.classList.remove("over"));
  searchForm.addEventListener("drop", (e) => {
    e.preventDefault();
    searchForm.classList.remove("over");
    run(e.dataTransfer.files[0]);
  });
}
