// Browse: facets filter a compact JSON index; the search box asks Pagefind. Without
// JavaScript the page is a plain paginated list, so this only enhances it.
const root = document.getElementById("browse");
const form = document.getElementById("filters");
const tbody = document.querySelector("#results tbody");
const status = document.getElementById("status");
const more = document.getElementById("more");
const STEP = 100, BEST = 50;
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

async function startPagefind() {
  const base = new URL(root.dataset.pagefind, document.baseURI).href;
  const [first, ...others] = root.dataset.shards.split(" ");
  const pf = await import(`${base}${first}/pagefind.js`);
  await pf.options({ basePath: `${base}${first}/` });
  await pf.init();
  await Promise.all(others.map((shard) => pf.mergeIndex(`${base}${shard}/`)));
  return pf;
}

async function searchIds(query) {
  if (!root.dataset.shards) return [];
  const pf = await loadPagefind();
  const found = await pf.search(query);
  const data = await Promise.all(found.results.slice(0, BEST).map((r) => r.data()));
  return data.map((d) => d.meta.id);
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
}

async function update() {
  const mine = ++generation;
  const idx = await loadIndex();
  const query = form.q.value.trim();
  const wanted = idx.facets.map((name) => {
    const picked = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
    return picked.length ? new Set(picked.map((v) => idx.values[name].indexOf(v))) : null;
  });
  let rows = idx.rows.filter((r) =>
    wanted.every((set, f) => !set || r[f + 1].some((code) => set.has(code))));
  if (query) {
    const ids = await searchIds(query);
    const order = new Map(ids.map((id, i) => [id, i]));
    rows = rows.filter((r) => order.has(r[0])).sort((a, b) => order.get(a[0]) - order.get(b[0]));
  }
  if (mine !== generation) return;
  matches = rows;
  shown = 0;
  tbody.replaceChildren();
  showMore();
  const pages = document.getElementById("pages");
  if (pages) pages.hidden = true;
  status.textContent = `${rows.length} ${rows.length === 1 ? "donation matches" : "donations match"}` +
    (query ? ` (best ${BEST} search results at most).` : ".");
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
