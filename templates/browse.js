// Browse: facets filter a compact JSON index; the search box asks Pagefind. Without
// JavaScript the page is a plain paginated list, so this only enhances it.
// The selection lives in the page's URL (?q=...&modality=CT), so it survives a reload
// and can be shared; facet counts follow the selection.
const root = document.getElementById("browse");
const form = document.getElementById("filters");
const tbody = document.querySelector("#results tbody");
const status = document.getElementById("status");
const more = document.getElementById("more");
const STEP = 100;
const ID = /^don-[a-z0-9]+$/i;
let index = null, pagefind = null, matches = [], shown = 0, generation = 0;

let indexLoading = null;
async function loadIndex() {
  if (!indexLoading) indexLoading = fetch(root.dataset.index).then((r) => r.json());
  index = await indexLoading;
  return index;
}

function loadPagefind() {
  if (!pagefind) pagefind = startPagefind();
  return pagefind;
}

// Pagefind's result id -> public id, one small map per shard (written at build time).
async function startPagefind() {
  const base = new URL(root.dataset.pagefind, document.baseURI).href;
  const shards = root.dataset.shards.split(" ");
  const [first, ...others] = shards;
  const pf = await import(`${base}${first}/pagefind.js`);
  await pf.options({ basePath: `${base}${first}/` });
  await pf.init();
  const maps = shards.map((s) => fetch(`${base}${s}/ids.json`).then((r) => r.json()));
  await Promise.all(others.map((shard) => pf.mergeIndex(`${base}${shard}/`)));
  return { pf, ids: Object.assign({}, ...(await Promise.all(maps))) };
}

// Every match, best first: a donation id is matched exactly, other words by Pagefind.
async function searchIds(query) {
  const words = query.split(/\s+/).filter(Boolean);
  const ids = words.filter((w) => ID.test(w)).map((w) => w.toLowerCase());
  const rest = words.filter((w) => !ID.test(w)).join(" ");
  if (!rest) return ids;
  if (!root.dataset.shards) return [];
  const { pf, ids: byResult } = await loadPagefind();
  const found = (await pf.search(rest)).results.map((r) => byResult[r.id]).filter(Boolean);
  return ids.length ? found.filter((id) => ids.includes(id)) : found;
}

function cell(row, text, href) {
  const td = document.createElement("td");
  if (href) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    td.append(a);
  } else td.textContent = text;
  row.append(td);
}

function showMore() {
  const names = index.facets, values = index.values;
  const label = (n, codes) => codes.map((c) => values[names[n - 1]][c]);
  for (const r of matches.slice(shown, shown + STEP)) {
    const tr = document.createElement("tr");
    cell(tr, r[0], root.dataset.datasets + r[0] + "/index.html");
    cell(tr, label(4, r[4]).join(", "));
    cell(tr, label(3, r[3]).join(", "));
    cell(tr, label(2, r[2]).join(", "));
    cell(tr, label(1, r[1]).join(", "));
    cell(tr, label(5, r[5]).join("; "));
    cell(tr, label(6, r[6]).join(", "));
    cell(tr, label(7, r[7]).join(", "));
    tbody.append(tr);
  }
  shown = Math.min(shown + STEP, matches.length);
  more.hidden = shown >= matches.length;
  more.textContent = `Show ${Math.min(STEP, matches.length - shown)} more of ${matches.length - shown}`;
}

function picked() {
  return index.facets.map((name) => {
    const values = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
    return values.length ? new Set(values.map((v) => index.values[name].indexOf(v))) : null;
  });
}

const keeps = (row, wanted, skip) =>
  wanted.every((set, f) => f === skip || !set || row[f + 1].some((code) => set.has(code)));

// Each facet's counts: the rows that match the query and every other facet's choice.
function recount(rows, wanted) {
  index.facets.forEach((name, f) => {
    const counts = new Map();
    for (const row of rows) {
      if (!keeps(row, wanted, f)) continue;
      for (const code of row[f + 1]) counts.set(code, (counts.get(code) || 0) + 1);
    }
    for (const input of form.querySelectorAll(`input[name="${name}"]`)) {
      const n = counts.get(index.values[name].indexOf(input.value)) || 0;
      input.parentElement.querySelector(".n").textContent = `(${n})`;
    }
  });
}

function remember(query) {
  const params = new URLSearchParams();
  if (query) params.set("q", query);
  for (const input of form.querySelectorAll("input[type=checkbox]:checked")) {
    params.append(input.name, input.value);
  }
  const search = params.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
}

async function update() {
  const mine = ++generation;
  const idx = await loadIndex();
  const query = form.q.value.trim();
  const wanted = picked();
  let rows = idx.rows;
  if (query) {
    const ids = await searchIds(query);
    const order = new Map(ids.map((id, i) => [id, i]));
    rows = rows.filter((r) => order.has(r[0])).sort((a, b) => order.get(a[0]) - order.get(b[0]));
  }
  if (mine !== generation) return;
  remember(query);
  recount(rows, wanted);
  matches = rows.filter((r) => keeps(r, wanted, -1));
  shown = 0;
  tbody.replaceChildren();
  showMore();
  const pages = document.getElementById("pages");
  if (pages) pages.hidden = true;
  status.textContent = `${matches.length} ${matches.length === 1 ? "donation matches" : "donations match"}.`;
}

// A shared URL: tick its facets and fill its query, then show its selection.
function restore() {
  const params = new URLSearchParams(location.search);
  let any = false;
  for (const [name, value] of params) {
    if (name === "q") {
      form.q.value = value;
      any = true;
      continue;
    }
    for (const input of form.querySelectorAll(`input[type=checkbox]`)) {
      if (input.name === name && input.value === value) {
        input.checked = true;
        input.closest("details").open = true;
        any = true;
      }
    }
  }
  if (any) update();
}

form.hidden = false;
// Fetch the index and the search while the reader is still typing their first query.
form.q.addEventListener("focus", () => {
  loadIndex();
  if (root.dataset.shards) loadPagefind().catch(() => { pagefind = null; });
}, { once: true });
form.addEventListener("input", update);
form.addEventListener("submit", (event) => { event.preventDefault(); update(); });
more.addEventListener("click", showMore);
restore();
