// The model explorer page: plain DOM, fetch() against the JSON API of the same server.
// Every text from the API goes through textContent, never innerHTML.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 10;
const STORE_KEY = "recsys.myRatings";

// ------------------------------------------------------------------ helpers
async function api(path, options) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const msg = body && body.detail ? body.detail : `HTTP ${res.status}`;
    throw new Error(msg);
  }
  return body;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function fmt(x, digits = 2) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}

function nRatings(n) {
  return `${n} rating${n === 1 ? "" : "s"}`;
}

// Answers can arrive out of order (a slow first search after a fast second one): each
// view keeps a request counter and drops any answer that is not the latest.
const latest = { user: 0, search: 0, similar: 0, mine: 0 };

function setStatus(node, text, isError) {
  node.textContent = text || "";
  node.classList.toggle("error", Boolean(isError));
}

// The year, unless the title already ends with it ("Toy Story (1995)").
function yearText(item) {
  if (item.year === null || item.year === undefined) return "";
  return item.title.includes(`(${item.year})`) ? "" : String(item.year);
}

// "1995 — Adventure · Animation — 215 ratings": what every movie row says.
function metaText(item) {
  const genres = (item.genres || []).join(" · ");
  return [yearText(item), genres, nRatings(item.n_ratings)].filter(Boolean).join("  —  ");
}

// The TMDB details where the catalogue has them (recsys serve --metadata tmdb): TMDB genres,
// keywords as tags (the first few in a list, all that came in the item view), the overview
// (two lines in a list, whole in the item view).
function tmdbDetails(item, full) {
  const nodes = [];
  if (item.tmdb_genres && item.tmdb_genres.length) {
    nodes.push(el("div", "tmdb-genres", "TMDB: " + item.tmdb_genres.join(" · ")));
  }
  if (item.keywords && item.keywords.length) {
    const box = el("div", "keywords");
    box.dataset.testid = "keywords";
    for (const k of full ? item.keywords : item.keywords.slice(0, 5)) {
      box.appendChild(el("span", "keyword", k));
    }
    nodes.push(box);
  }
  if (item.overview) {
    const text = el("p", full ? "overview" : "overview clamp", item.overview);
    text.dataset.testid = "overview";
    if (!full) text.title = item.overview;
    nodes.push(text);
  }
  return nodes;
}

// One movie row: title (opens the item view), genres, TMDB details, a value badge, extras.
function movieRow(item, opts = {}) {
  const li = el("li", "movie");
  li.dataset.itemId = item.item_id;
  const main = el("div", "movie-main");
  const title = el("button", "title", item.title);
  title.type = "button";
  title.title = CONFIG.capabilities.similar_items ? "Details and similar movies" : "Details";
  title.addEventListener("click", () => showSimilar(item.item_id));
  main.appendChild(title);
  main.appendChild(el("div", "meta", metaText(item)));
  for (const node of tmdbDetails(item, false)) main.appendChild(node);
  if (opts.why) main.appendChild(el("div", "why", opts.why));
  li.appendChild(main);
  if (opts.badge !== undefined) {
    const badge = el("span", "badge", opts.badge);
    if (opts.badgeTitle) badge.title = opts.badgeTitle;
    li.appendChild(badge);
  }
  if (opts.extra) li.appendChild(opts.extra);
  return li;
}

function fill(list, nodes, emptyText) {
  list.replaceChildren(...nodes);
  if (!nodes.length && emptyText) list.appendChild(el("li", "empty", emptyText));
}

// The badge shows the model's score unclipped (clipped ratings would tie at the top of the
// scale), labelled by what it is: a rating model's score is its predicted rating (the
// tooltip gives it clipped to the scale); a ranking model's is no rating at all, and may
// lie anywhere, also outside the rating scale shown in the header.
const SCALE = `${CONFIG.rating_scale[0]}–${CONFIG.rating_scale[1]}`;
const BADGE_LABEL = CONFIG.predicts_ratings
  ? `badge: predicted rating (${SCALE}, before clipping)`
  : "badge: ranking score, not a rating";

function recRow(item) {
  const tip = item.predicted_rating !== null
    ? `score ${fmt(item.score, 3)}; predicted rating ${fmt(item.predicted_rating, 2)}`
    : `score ${fmt(item.score, 3)} (a ranking score, not a rating)`;
  const badge = CONFIG.predicts_ratings ? fmt(item.score) : `score ${fmt(item.score)}`;
  return movieRow(item, { badge, badgeTitle: tip, why: item.explanation });
}

// ------------------------------------------------------------------ tabs
function selectTab(name) {
  for (const t of ["user", "me"]) {
    const on = t === name;
    $("tab-" + t).classList.toggle("active", on);
    $("tab-" + t).setAttribute("aria-selected", String(on));
    $("panel-" + t).hidden = !on;
  }
}
$("tab-user").addEventListener("click", () => selectTab("user"));
$("tab-me").addEventListener("click", () => { selectTab("me"); $("search-q").focus(); });

// ------------------------------------------------------------------ an existing user
async function showUser(userId) {
  const k = $("user-k").value;
  const exclude = $("exclude-seen").checked;
  const status = $("user-status");
  const ticket = ++latest.user;
  setStatus(status, "Loading…");
  try {
    const [user, recs] = await Promise.all([
      api(`/users/${encodeURIComponent(userId)}?top=${k}`),
      api(`/users/${encodeURIComponent(userId)}/recommendations?k=${k}&exclude_seen=${exclude}`),
    ]);
    if (ticket !== latest.user) return;
    $("user-summary").textContent =
      `User ${user.user_id}: ${nRatings(user.n_ratings)}, mean ${fmt(user.mean_rating)}`;
    fill($("user-top"), user.top_rated.map((it) => movieRow(it, { badge: "★ " + fmt(it.rating, 1) })),
         "No ratings.");
    $("user-recs-summary").textContent = (exclude
      ? `Top ${recs.items.length}, movies they rated left out`
      : `Top ${recs.items.length}, including movies they rated`) + ` · ${BADGE_LABEL}`;
    fill($("user-recs"), recs.items.map(recRow), "Nothing left to recommend.");
    setStatus(status, "");
  } catch (err) {
    if (ticket !== latest.user) return;
    setStatus(status, err.message, true);
    $("user-summary").textContent = "\u00a0";
    $("user-recs-summary").textContent = "\u00a0";
    fill($("user-top"), []);
    fill($("user-recs"), []);
  }
}

$("user-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = $("user-id").value.trim();
  if (id) showUser(id);
});

$("random-user").addEventListener("click", async () => {
  const page = 1 + Math.floor(Math.random() * CONFIG.n_users);
  try {
    const res = await api(`/users?page=${page}&page_size=1`);
    if (res.users.length) {
      $("user-id").value = res.users[0].user_id;
      showUser(res.users[0].user_id);
    }
  } catch (err) {
    setStatus($("user-status"), err.message, true);
  }
});

// ------------------------------------------------------------------ rate movies yourself
const myRatings = new Map(); // item_id -> {item, rating}
let searchState = { query: "", page: 1, total: 0 };

function loadRatings() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    for (const r of saved) if (r && r.item && typeof r.rating === "number") myRatings.set(r.item.item_id, r);
  } catch (e) { /* ignore a corrupt store */ }
}

function saveRatings() {
  try { localStorage.setItem(STORE_KEY, JSON.stringify([...myRatings.values()])); } catch (e) { /* private mode */ }
}

function stars(item) {
  const box = el("span", "stars");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", `Rate ${item.title}`);
  const current = myRatings.has(item.item_id) ? myRatings.get(item.item_id).rating : 0;
  for (const value of CONFIG.stars) {
    const b = el("button", "star" + (value <= current ? " on" : ""), "★");
    b.type = "button";
    b.title = `${value} star${value === 1 ? "" : "s"}`;
    b.dataset.value = value;
    b.setAttribute("aria-label", b.title);
    b.addEventListener("click", () => rate(item, value));
    box.appendChild(b);
  }
  return box;
}

function rate(item, value) {
  myRatings.set(item.item_id, { item, rating: value });
  saveRatings();
  renderRatings();
  refreshStars(item.item_id);
}

function refreshStars(itemId) {
  const current = myRatings.has(itemId) ? myRatings.get(itemId).rating : 0;
  document.querySelectorAll(`.movie[data-item-id="${itemId}"] .star`).forEach((b) => {
    b.classList.toggle("on", Number(b.dataset.value) <= current);
  });
}

function renderRatings() {
  const rows = [...myRatings.values()].map(({ item, rating }) => {
    const remove = el("button", "remove", "×");
    remove.type = "button";
    remove.title = "Remove this rating";
    remove.addEventListener("click", () => {
      myRatings.delete(item.item_id);
      saveRatings();
      renderRatings();
      refreshStars(item.item_id);
    });
    const wrap = el("span", "rated");
    wrap.appendChild(stars(item));
    wrap.appendChild(remove);
    return movieRow(item, { extra: wrap });
  });
  fill($("my-ratings"), rows);
  $("my-count").textContent = String(myRatings.size);
  $("my-hint").hidden = myRatings.size > 0;
  $("get-recs").disabled = myRatings.size === 0 || !CONFIG.capabilities.new_user;
  $("clear-ratings").disabled = myRatings.size === 0;
}

async function search(query, page) {
  const summary = $("search-summary");
  const ticket = ++latest.search;
  try {
    const res = await api(`/items?query=${encodeURIComponent(query)}&page=${page}&page_size=${PAGE_SIZE}`);
    if (ticket !== latest.search) return;
    summary.classList.remove("error");
    searchState = { query, page, total: res.total };
    const rows = res.items.map((item) => movieRow(item, {
      extra: item.in_model ? stars(item) : el("span", "note", "not in the model"),
    }));
    fill($("search-results"), rows, `No title contains “${query}”.`);
    const pages = Math.max(1, Math.ceil(res.total / PAGE_SIZE));
    summary.textContent = query
      ? `${res.total} movie${res.total === 1 ? "" : "s"} match “${query}”`
      : `All ${res.total} movies, most rated first`;
    $("search-pager").hidden = pages <= 1;
    $("search-page").textContent = `page ${page} of ${pages}`;
    $("search-prev").disabled = page <= 1;
    $("search-next").disabled = page >= pages;
  } catch (err) {
    if (ticket !== latest.search) return;
    summary.textContent = err.message;
    summary.classList.add("error");
  }
}

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  search($("search-q").value.trim(), 1);
});
$("search-prev").addEventListener("click", () => search(searchState.query, searchState.page - 1));
$("search-next").addEventListener("click", () => search(searchState.query, searchState.page + 1));

$("clear-ratings").addEventListener("click", () => {
  const ids = [...myRatings.keys()];
  myRatings.clear();
  saveRatings();
  renderRatings();
  ids.forEach(refreshStars);
  fill($("my-recs"), []);
  $("my-recs-summary").textContent = "\u00a0";
});

$("get-recs").addEventListener("click", async () => {
  const summary = $("my-recs-summary");
  const ticket = ++latest.mine;
  summary.classList.remove("error");
  summary.textContent = "Loading…";
  const ratings = [...myRatings.values()].map(({ item, rating }) => ({ item_id: item.item_id, rating }));
  try {
    const res = await api("/recommendations", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ratings, k: 10 }),
    });
    if (ticket !== latest.mine) return;
    summary.textContent =
      `From your ${res.n_ratings} rating${res.n_ratings === 1 ? "" : "s"}, no retraining · ${BADGE_LABEL}`;
    fill($("my-recs"), res.items.map(recRow), "Nothing to recommend.");
  } catch (err) {
    if (ticket !== latest.mine) return;
    summary.textContent = err.message;
    summary.classList.add("error");
  }
});

// ------------------------------------------------------------------ similar movies
async function showSimilar(itemId) {
  const dialog = $("similar-dialog");
  const list = $("similar-list");
  const ticket = ++latest.similar;
  $("similar-title").textContent = "Loading…";
  $("similar-meta").textContent = "\u00a0";
  $("similar-details").replaceChildren();
  fill(list, []);
  if (!dialog.open) dialog.showModal();
  try {
    const item = await api(`/items/${itemId}`);
    if (ticket !== latest.similar) return;
    $("similar-title").textContent = item.title;
    $("similar-meta").textContent = metaText(item);
    $("similar-details").replaceChildren(...tmdbDetails(item, true));
    if (!CONFIG.capabilities.similar_items) {
      fill(list, [], `${CONFIG.model} has no item-item similarity.`);
      return;
    }
    if (!item.in_model) {
      fill(list, [], "No one rated this movie in the training data.");
      return;
    }
    const res = await api(`/items/${itemId}/similar?k=10`);
    if (ticket !== latest.similar) return;
    fill(list, res.items.map((it) => movieRow(it, {
      badge: fmt(it.similarity, 3), badgeTitle: "similarity", why: it.shared,
    })), "No similar movies.");
  } catch (err) {
    if (ticket === latest.similar) fill(list, [], err.message);
  }
}

$("similar-close").addEventListener("click", () => $("similar-dialog").close());
$("similar-dialog").addEventListener("click", (ev) => {
  if (ev.target === $("similar-dialog")) $("similar-dialog").close(); // backdrop click
});

// ------------------------------------------------------------------ start
loadRatings();
renderRatings();
if (CONFIG.first_user !== null) showUser(CONFIG.first_user);
search("", 1);
