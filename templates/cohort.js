// The cohort page: DuckDB-WASM runs SQL over the Parquet catalogs in the reader's browser.
// The filters write the SQL; the SQL (and the filters) live in the page URL. The
// statements that turn a query into series, counts and files come from the build
// (archive_builder/cohort/queries.py), the same that `archive-builder cohort` runs.
const page = document.getElementById("cohort");
const settings = JSON.parse(document.getElementById("cohort-settings").textContent);
const Q = settings.queries;
const form = document.getElementById("filters");
const box = document.getElementById("sql");
const problem = document.getElementById("sql-error");
const status = document.getElementById("status");
const result = document.getElementById("result");
const LISTS = ["modality", "region", "sex", "diagnosis", "license", "release", "manufacturer"];
const FIELDS = ["age_min", "age_max", "description", "thickness_min", "thickness_max"];
let conn = null, level = null, counted = null, ran = "", queue = Promise.resolve(), generation = 0;

const here = (path) => new URL(path, document.baseURI).href;
const literal = (v) => `'${String(v).replaceAll("'", "''")}'`;

function humanBytes(n) {
  for (const unit of ["B", "KB", "MB", "GB", "TB"]) {
    if (n < 1000 || unit === "TB") return unit === "B" ? `${n.toFixed(0)} B` : `${n.toFixed(1)} ${unit}`;
    n /= 1000;
  }
}

// The key-value metadata in a Parquet file's footer holds its schema_version: find the key
// as Thrift writes it (field 1: the key, field 2: the value) in the file's last bytes.
function versionIn(bytes) {
  const key = new TextEncoder().encode("schema_version");
  const from = Math.max(0, bytes.length - 65536);
  outer: for (let i = from; i + key.length + 3 < bytes.length; i++) {
    if (bytes[i] !== 0x18 || bytes[i + 1] !== key.length) continue;
    for (let j = 0; j < key.length; j++) if (bytes[i + 2 + j] !== key[j]) continue outer;
    const at = i + 2 + key.length;
    if (bytes[at] !== 0x18) continue;
    return new TextDecoder().decode(bytes.subarray(at + 2, at + 2 + bytes[at + 1]));
  }
  return "none";
}

async function fetchBytes(url, range) {
  const response = await fetch(url, range ? { headers: { Range: range } } : {});
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function start() {
  page.querySelector("#needs").hidden = true;
  form.hidden = false;
  status.textContent = "Loading the query engine (about 19 MB, once)...";
  const engine = here(settings.engine);
  // While the engine compiles: the small catalogs whole (they are held in memory anyway),
  // the footer of the large one (it is read on demand, only the columns a query needs).
  const small = ["donations", "series"];
  const whole = Promise.all(small.flatMap((t) => settings.tables[t].map(async (f) => [f, await fetchBytes(here(f))])));
  const tails = Promise.all(settings.tables.instances.map(async (f) => [f, await fetchBytes(here(f), "bytes=-65536")]));
  const duckdb = await import(engine + "duckdb-browser.mjs");
  const db = new duckdb.AsyncDuckDB(new duckdb.VoidLogger(), new Worker(engine + "duckdb-browser-eh.worker.js"));
  await db.instantiate(engine + "duckdb-eh.wasm");
  conn = await db.connect();
  status.textContent = "Reading the catalogs...";
  const files = [...(await whole), ...(await tails)];
  const wrong = files.map(([file, bytes]) => [file, versionIn(bytes)]).filter(([, v]) => v !== settings.schema);
  if (wrong.length) {
    const [file, v] = wrong[0];
    throw new Error(`The catalog ${file} has schema version ${v}; this page expects schema version ${settings.schema}. Reload the page, or use the archive-builder version that wrote that catalog.`);
  }
  const names = new Map();
  for (const [file, bytes] of await whole) {
    names.set(file, `catalog-${names.size}.parquet`);
    await db.registerFileBuffer(names.get(file), bytes);
  }
  for (const [table, list] of Object.entries(settings.tables)) {
    const source = `read_parquet([${list.map((f) => literal(names.get(f) || here(f))).join(", ")}])`;
    const kind = small.includes(table) ? "TABLE" : "VIEW";
    await conn.query(`CREATE ${kind} ${table} AS SELECT * FROM ${source}`);
  }
}

function picked(name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

function filterSql() {
  const where = [];
  const among = (column, name) => {
    const values = picked(name);
    if (values.length) where.push(`${column} IN (${values.map(literal).join(", ")})`);
  };
  const number = (name) => {
    const value = form.elements[name].value.trim();
    return value === "" || Number.isNaN(Number(value)) ? null : Number(value);
  };
  among("s.Modality", "modality");
  among("d.anatomical_region", "region");
  if (number("age_min") !== null) where.push(`d.age >= ${number("age_min")}`);
  if (number("age_max") !== null) where.push(`d.age <= ${number("age_max")}`);
  among("d.sex", "sex");
  const codes = picked("diagnosis");
  if (codes.length) where.push(`list_has_any(d.diagnosis_codes, [${codes.map(literal).join(", ")}])`);
  among("d.license", "license");
  among("d.release_added", "release");
  const text = form.elements.description.value.trim();
  if (text) where.push(`contains(lower(s.SeriesDescription), lower(${literal(text)}))`);
  if (number("thickness_min") !== null) where.push(`s.SliceThickness >= ${number("thickness_min")}`);
  if (number("thickness_max") !== null) where.push(`s.SliceThickness <= ${number("thickness_max")}`);
  among("s.Manufacturer", "manufacturer");
  return "SELECT s.public_id, s.folder\nFROM series s JOIN donations d USING (public_id)" +
    (where.length ? `\nWHERE ${where.join("\n  AND ")}` : "");
}

function remember(sql) {
  const params = new URLSearchParams();
  for (const name of LISTS) for (const value of picked(name)) params.append(name, value);
  for (const name of FIELDS) if (form.elements[name].value.trim()) params.set(name, form.elements[name].value.trim());
  params.set("sql", sql);
  history.replaceState(null, "", `?${params}`);
}

function restore() {
  const params = new URLSearchParams(location.search);
  for (const name of LISTS) {
    const wanted = params.getAll(name);
    for (const input of form.querySelectorAll(`input[name="${name}"]`)) input.checked = wanted.includes(input.value);
  }
  for (const name of FIELDS) form.elements[name].value = params.get(name) || "";
  return params.get("sql");
}

const rows = (table) => table.toArray().map((row) => row.toJSON());
const plain = (value) => (typeof value === "bigint" ? Number(value) : value);

const fill = (template, sql) => template.replaceAll("{query}", sql.trim().replace(/;+$/, "").trim());

// The filters' own query selects series; any other query says by its columns what it selects.
async function select(sql, fromFilters) {
  if (fromFilters) level = "folder";
  else {
    const columns = (await conn.query(fill(Q.columns, sql))).schema.fields.map((f) => f.name);
    level = Q.levels.find((name) => columns.includes(name));
    if (!level || !columns.includes("public_id")) {
      throw new Error("The query must return a public_id column (and folder to select series, or path to select files); " +
        `it returns ${columns.join(", ") || "no column"}.`);
    }
  }
  const found = rows(await conn.query(fill(Q.shown[level], sql)));
  const first = found[0];
  const counts = { donations: first.n_donations, series: first.n_series, files: first.n_files, bytes: first.n_bytes };
  return [counts, found.filter((r) => r.public_id !== null)];
}

function cell(tr, text, href) {
  const td = document.createElement("td");
  if (href) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    td.append(a);
  } else td.textContent = text ?? "";
  tr.append(td);
}

function show(counts, shown, ms) {
  for (const name of ["donations", "series", "files"]) {
    document.getElementById(`n-${name}`).textContent = plain(counts[name]).toLocaleString("en");
  }
  document.getElementById("n-bytes").textContent = humanBytes(plain(counts.bytes));
  document.getElementById("w-donations").textContent = plain(counts.donations) === 1 ? "donation" : "donations";
  document.getElementById("w-files").textContent = plain(counts.files) === 1 ? "DICOM file" : "DICOM files";
  const tbody = document.querySelector("#shown tbody");
  tbody.replaceChildren(...shown.map((r) => {
    const tr = document.createElement("tr");
    cell(tr, r.public_id, here(`../datasets/${r.public_id}/index.html`));
    for (const key of ["folder", "Modality", "SeriesDescription", "anatomical_region", "age", "sex", "files"]) cell(tr, plain(r[key]));
    cell(tr, humanBytes(plain(r.bytes)));
    return tr;
  }));
  result.hidden = false;
  const n = plain(counts.series);
  status.textContent = `${n.toLocaleString("en")} series selected (${Math.round(ms)} ms).`;
}

function run(sql, keep = true, fromFilters = false) {
  const mine = ++generation;
  queue = queue.then(async () => {
    if (mine !== generation) return; // a newer query is waiting
    const t0 = performance.now();
    try {
      const [counts, shown] = await select(sql, fromFilters);
      if (mine !== generation) return;
      problem.textContent = "";
      box.removeAttribute("aria-invalid");
      ran = sql;
      counted = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, plain(v)]));
      show(counts, shown, performance.now() - t0);
      if (keep) remember(sql);
    } catch (error) {
      if (mine !== generation) return;
      problem.textContent = String(error.message || error);
      box.setAttribute("aria-invalid", "true");
      result.hidden = true;
      status.textContent = "The query did not run; see the message beside the box.";
    }
  });
  return queue;
}

// The downloads: the same bytes as archive_builder/cohort/manifests.py writes.
const quote = (s) => (s === "" ? "''" : /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\"'\"'")}'`);
const csvField = (v) => {
  const s = v === null || v === undefined ? "" : String(plain(v));
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

async function files() {
  let found = [];
  await (queue = queue.then(async () => { found = rows(await conn.query(fill(Q.files[level], ran))); }));
  return found;
}

function script(list, sql, counts) {
  const lines = [
    "#!/bin/sh",
    `# A cohort of ${settings.archive}: ${counts.donations} donations, ${counts.series} series, ${counts.files} files, ${counts.bytes} bytes.`,
    "# Selected with this SQL over the archive's catalogs:",
    ...sql.trim().split(/\r\n|\r|\n/).map((line) => `#   ${line}`),
    "# Needs DataLad and git-annex: pip install datalad git-annex",
    "# (in an active virtual environment). Usage: sh cohort.sh [FOLDER]",
    "set -eu",
    `datalad clone ${quote(settings.store + "#~archive")} "\${1:-archive}"`,
    'cd "${1:-archive}"',
  ];
  let current = null, paths = [];
  for (const row of [...list, { public_id: null, path: "" }]) {
    if (row.public_id !== current && paths.length) {
      lines.push("datalad get " + paths.map(quote).join(" "));
      paths = [];
    }
    current = row.public_id;
    if (current !== null) paths.push(`${current}/${row.path}`);
  }
  return lines.join("\n") + "\n";
}

function save(name, text) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function download(kind) {
  status.textContent = "Listing the files...";
  const list = await files();
  if (kind === "script") save("cohort.sh", script(list, ran, counted));
  if (kind === "csv") {
    const columns = ["public_id", "path", "size", "sha256", "annex_key", "url"];
    save("cohort.csv", [columns.join(","), ...list.map((f) => columns.map((c) => csvField(f[c])).join(","))].join("\n") + "\n");
  }
  if (kind === "urls") save("cohort-urls.txt", list.filter((f) => f.url).map((f) => `${f.url}\n`).join(""));
  status.textContent = `${list.length.toLocaleString("en")} files listed.`;
}

async function main() {
  try {
    await start();
  } catch (error) {
    problem.textContent = String(error.message || error);
    status.textContent = "The cohort page cannot query the catalogs; see the message beside the box.";
    return;
  }
  const shared = restore();
  box.value = shared || filterSql();
  await run(box.value, Boolean(shared), box.value === filterSql());
  form.addEventListener("input", (event) => {
    if (event.target === box) return;
    box.value = filterSql();
    run(box.value, true, true);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(box.value);
  });
  document.getElementById("get-script").addEventListener("click", () => download("script"));
  document.getElementById("get-csv").addEventListener("click", () => download("csv"));
  document.getElementById("get-urls").addEventListener("click", () => download("urls"));
}

main();
