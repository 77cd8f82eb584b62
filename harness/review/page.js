// The review page: renders the cards from the embedded JSON, records one decision per track in
// localStorage as the user goes, and offers them as label_fixes.csv through a Blob link.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const storeKey = data.page_id;
  const main = document.getElementById("cards");
  const exportLink = document.getElementById("export");
  let decisions = {};
  try { decisions = JSON.parse(localStorage.getItem(storeKey) || "{}") || {}; } catch (e) { decisions = {}; }
  let current = 0;
  const elements = [];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clip(name) {
    const t = data.tracks[name] || {};
    const box = el("div", { class: "clip" });
    const length = t.audio ? " · excerpt " + t.seconds.toFixed(1) + " s" : "";
    box.append(el("div", { class: "facts" }, "track " + name + " · " + (t.label || "no label") + " · " + (t.split || "?") + length));
    box.append(el("div", { class: "facts" }, [t.artist, t.album, t.title].filter(Boolean).join(" — ")));
    if (t.audio) {
      box.append(el("img", { src: t.picture, alt: "log-mel of " + name, loading: "lazy" }));
      box.append(el("audio", { src: t.audio, controls: "", preload: "none", "data-track": name }));
    } else {
      box.append(el("div", { class: "nodecode" }, "this clip does not decode: nothing to play"));
    }
    if (t.top3 && t.top3.length) {
      box.append(el("div", { class: "top3" }, "model top-3: " + t.top3.map(([g, p]) => g + " " + p.toFixed(2)).join(", ")));
    }
    return box;
  }

  function describe(d) {
    if (!d) return "";
    if (d.action === "relabel") return "relabel to " + d.new_label;
    if (d.action === "duplicate-of") return "duplicate of " + d.duplicate_of;
    return d.action;
  }

  function decide(index, action, label) {
    const card = data.cards[index];
    if (action === null) {
      delete decisions[card.track];
    } else {
      const note = elements[index].querySelector("input.note").value;
      decisions[card.track] = {
        track_id: card.track, action: action,
        new_label: action === "relabel" ? label : "",
        duplicate_of: action === "duplicate-of" ? card.other : "",
        check: card.check, note: note, time: new Date().toISOString(),
      };
    }
    localStorage.setItem(storeKey, JSON.stringify(decisions));
    refresh();
  }

  function build(card, index) {
    const node = el("section", { class: "card", id: "card-" + index, "data-key": card.key, "data-track": card.track });
    const head = el("h2");
    head.append(el("span", { class: "kind" }, card.kind));
    head.append(el("span", {}, card.other ? card.track + " & " + card.other : card.track));
    head.append(el("span", { class: "score" }, "sureness " + card.score.toFixed(2)));
    node.append(head);
    node.append(el("p", { class: "evidence" }, card.evidence));
    const clips = el("div", { class: "clips" });
    clips.append(clip(card.track));
    if (card.other) clips.append(clip(card.other));
    node.append(clips);
    const controls = el("div", { class: "controls" });
    const keep = el("button", { type: "button", "data-action": "keep" }, "keep (a)");
    const select = el("select", { class: "genre", "aria-label": "new genre" });
    const given = (data.tracks[card.track] || {}).label;
    // the check's own suggestion, else the model's most probable other genre
    const suggested = card.suggested || ((data.tracks[card.track] || {}).top3 || []).map((x) => x[0]).find((g) => g !== given);
    for (const g of data.genres) {
      const o = el("option", { value: g }, g);
      if (g === suggested) o.selected = true;
      select.append(o);
    }
    const relabel = el("button", { type: "button", "data-action": "relabel" }, "relabel (r)");
    const drop = el("button", { type: "button", "data-action": "drop" }, "drop (d)");
    controls.append(keep, select, relabel, drop);
    if (card.other) controls.append(el("button", { type: "button", "data-action": "duplicate-of" }, "duplicate of " + card.other + " (u)"));
    controls.append(el("button", { type: "button", "data-action": "clear" }, "clear (x)"));
    controls.append(el("input", { class: "note", placeholder: "note", size: "24" }));
    controls.append(el("span", { class: "decision" }));
    controls.addEventListener("click", (ev) => {
      const action = ev.target.getAttribute && ev.target.getAttribute("data-action");
      if (!action) return;
      current = index;
      decide(index, action === "clear" ? null : action, select.value);
    });
    node.append(controls);
    node.addEventListener("click", () => { current = index; mark(); });
    return node;
  }

  function csv() {
    const quote = (v) => { const s = String(v == null ? "" : v); return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
    const rows = [data.columns.join(",")];
    for (const track of Object.keys(decisions).sort()) rows.push(data.columns.map((c) => quote(decisions[track][c])).join(","));
    return rows.join("\n") + "\n";
  }

  function refresh() {
    data.cards.forEach((card, i) => {
      const d = decisions[card.track];
      const node = elements[i];
      node.classList.toggle("decided", !!d);
      node.querySelector(".decision").textContent = describe(d);
      node.querySelectorAll("button[data-action]").forEach((b) => b.classList.toggle("on", !!d && b.getAttribute("data-action") === d.action));
      if (d && d.note && !node.querySelector("input.note").value) node.querySelector("input.note").value = d.note;
    });
    const n = Object.keys(decisions).length;
    document.getElementById("progress").textContent = n + " decided";
    if (exportLink.href.startsWith("blob:")) URL.revokeObjectURL(exportLink.href);
    exportLink.href = URL.createObjectURL(new Blob([csv()], { type: "text/csv" }));
    filter();
  }

  function fillSelect(id, values) {
    const select = document.getElementById(id);
    for (const v of [...new Set(values)].filter(Boolean).sort()) select.append(el("option", { value: v }, v));
    select.addEventListener("change", filter);
  }

  function visible(i) { return !elements[i].hidden; }

  function filter() {
    const kind = document.getElementById("filter-kind").value;
    const genre = document.getElementById("filter-genre").value;
    const split = document.getElementById("filter-split").value;
    const state = document.getElementById("filter-state").value;
    data.cards.forEach((card, i) => {
      const t = data.tracks[card.track] || {};
      const done = !!decisions[card.track];
      elements[i].hidden = (kind && card.kind !== kind) || (genre && !(t.label || "").split(", ").includes(genre)) ||
        (split && t.split !== split) || (state === "open" && done) || (state === "done" && !done);
    });
    mark();
  }

  function mark() {
    elements.forEach((n, i) => n.classList.toggle("current", i === current));
  }

  function move(step) {
    for (let i = current + step; i >= 0 && i < elements.length; i += step) {
      if (visible(i)) { current = i; mark(); elements[i].scrollIntoView({ block: "nearest" }); return; }
    }
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.target.matches("input, select, textarea") || ev.ctrlKey || ev.metaKey || ev.altKey || !elements.length) return;
    const card = data.cards[current];
    const select = elements[current].querySelector("select.genre");
    const key = ev.key;
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (key === "a") decide(current, "keep");
    else if (key === "r") decide(current, "relabel", select.value);
    else if (/^[1-9]$/.test(key) && data.genres[+key - 1]) { select.value = data.genres[+key - 1]; decide(current, "relabel", select.value); }
    else if (key === "d") decide(current, "drop");
    else if (key === "u" && card.other) decide(current, "duplicate-of");
    else if (key === "x") decide(current, null);
    else if (key === "e") exportLink.click();
    else if (key === " ") {
      const audio = elements[current].querySelector("audio");
      if (audio) { if (audio.paused) audio.play(); else audio.pause(); }
    } else return;
    ev.preventDefault();
  });

  const fragment = document.createDocumentFragment();
  data.cards.forEach((card, i) => { const node = build(card, i); elements.push(node); fragment.append(node); });
  main.append(fragment);
  fillSelect("filter-kind", data.cards.map((c) => c.kind));
  fillSelect("filter-split", Object.values(data.tracks).map((t) => t.split));
  document.getElementById("filter-genre").addEventListener("change", filter);
  document.getElementById("filter-state").addEventListener("change", filter);
  refresh();
  document.body.setAttribute("data-rendered", String(elements.length));
  document.body.setAttribute("data-rendered-ms", performance.now().toFixed(1));
})();
