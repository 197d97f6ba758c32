// The dashboard's page: vanilla JavaScript, no build step, nothing loaded from elsewhere.
//
// It reads the services' APIs through this server's same-origin proxy (/api/<service>/...) with
// the bearer token the user gives (kept in localStorage; "#token=..." in the address prefills it
// and is then removed from the address bar). Every value from an API reaches the page through
// textContent or an attribute, never as HTML. <body data-state> says where the current view is:
// "loading", "ready" (every fetch finished, whatever it answered), "error" (some fetch failed)
// or "needs-token", so a browser test can wait on it.

const TOKEN_KEY = "atoz.dashboard.token";
const SVG_NS = "http://www.w3.org/2000/svg";
const TABS = [
  ["action_required", "Action required"],
  ["under_review", "Under review"],
  ["option_to_appeal", "Option to appeal"],
  ["all", "All"],
];
// each deadline: its name while it runs, and how it reads once its moment has passed
const DEADLINES = [
  ["respond_by", "Respond by", "response window closed"],
  ["replacement_due_by", "Replacement due", "replacement was due"],
  ["appeal_by", "Appeal by", "appeal window closed"],
  ["hold_until", "Held until", "hold ended"],
];
const CHANNELS = { seller_fulfilled: "Seller-fulfilled", platform_fulfilled: "Platform-fulfilled" };
const SELLERS_PAGE = 50;
const LIST_LIMIT = 500; // the APIs' largest page: counts shown are of what one read returns

const state = {
  token: "",
  view: "operator",
  seller: "",
  tab: "action_required",
  offset: 0,
  generation: 0,
  queues: null, // the seller's claims by tab, kept so switching tabs needs no new read
};

// ---- small helpers -----------------------------------------------------------------------

function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  return decorate(element, props, children);
}

function s(tag, props = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  return decorate(element, props, children);
}

function decorate(element, props, children) {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "testid") element.setAttribute("data-testid", value);
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child)); // strings become text nodes
  }
  return element;
}

// A failed read: "message" is the full sentence (said once, in the banner), "brief" the few
// words its card shows in place of the figures.
class ApiError extends Error {
  constructor(status, service, body) {
    super(describe(status, service, body));
    this.status = status;
    this.service = service;
    this.brief = briefly(status, service);
  }
}

function describe(status, service, body) {
  // Every service (and this dashboard's proxy) says what went wrong in "message".
  const detail = body && typeof body.message === "string" ? body.message : "";
  switch (status) {
    case 401:
      return "The token was refused (401): paste a valid token at the top right.";
    case 403: // the services' own detail names a role ("a seller reads only…"): not repeated
      return "This token may not read this (403).";
    case 404:
      return detail || `Not found (404) at ${service}.`;
    case 502: // the dashboard's own detail names the service and where it was looked for
      return detail ? `${detail} (502).` : `${service} cannot be reached (502).`;
    case 504:
      return detail ? `${detail} (504).` : `${service} did not answer in time (504).`;
    default:
      return `${service} answered ${status}${detail ? `: ${detail}` : ""}.`;
  }
}

function briefly(status, service) {
  switch (status) {
    case 0:
      return "the dashboard server is down";
    case 401:
      return "the token was refused (401)";
    case 403:
      return "this token may not read it (403)";
    case 404:
      return "not found (404)";
    case 502:
      return `${service} cannot be reached (502)`;
    case 504:
      return `${service} did not answer in time (504)`;
    default:
      return `${service} answered ${status}`;
  }
}

async function api(service, path) {
  let response;
  try {
    response = await fetch(`/api/${service}/${path}`, {
      headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" },
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "the dashboard", { message: `the dashboard server is down (${error})` });
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null; // an empty or non-JSON answer: the status says enough
  }
  if (!response.ok) throw new ApiError(response.status, service, body);
  return body;
}

// Rates arrive as exact decimal strings ("0.01923076923076923076923076923"). They are shown as
// percentages rounded half up on the decimal digits themselves, never through a float, so the
// figure on the page is the one Decimal arithmetic gives for the API's value.
function parseDecimal(text) {
  const match = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(text).trim());
  if (!match) return null;
  const whole = match[1] || "";
  const fraction = match[2] || "";
  return { digits: BigInt(whole + fraction || "0"), exponent: Number(match[3] || 0) - fraction.length };
}

function scaledHalfUp(numerator, denominator, power) {
  // round(numerator / denominator * 10^power), halves up, on non-negative integers
  let top = numerator;
  let bottom = denominator;
  if (power >= 0) top *= 10n ** BigInt(power);
  else bottom *= 10n ** BigInt(-power);
  return (2n * top + bottom) / (2n * bottom);
}

function withPlaces(integer, places) {
  const text = integer.toString().padStart(places + 1, "0");
  return places ? `${text.slice(0, -places)}.${text.slice(-places)}` : text;
}

export function percent(rate, places = 2) {
  const parsed = parseDecimal(rate);
  if (!parsed) return "–";
  return `${withPlaces(scaledHalfUp(parsed.digits, 1n, parsed.exponent + 2 + places), places)}%`;
}

function share(count, total, places = 1) {
  if (!total) return "–";
  return `${withPlaces(scaledHalfUp(BigInt(count), BigInt(total), 2 + places), places)}%`;
}

function integer(value) {
  return Number(value).toLocaleString("en-US");
}

function money(amount) {
  if (!amount) return "–";
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency: amount.currency }).format(
      Number(amount.amount),
    );
  } catch {
    return `${amount.amount} ${amount.currency}`;
  }
}

function when(iso) {
  if (!iso) return "–";
  const moment = new Date(iso);
  const text = moment.toLocaleString("en-GB", {
    day: "2-digit",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: "UTC",
  });
  return text; // every time on the page is UTC, as the column headers say
}

function day(iso) {
  if (!iso) return "–";
  return new Date(`${iso.slice(0, 10)}T00:00:00Z`).toLocaleDateString("en-GB", {
    day: "2-digit",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  });
}

// a moment on two lines: when, then how long ago or ahead
function stamp(iso) {
  return [when(iso), h("span", { class: "second" }, relative(iso))];
}

function relative(iso) {
  const minutes = Math.round((new Date(iso).getTime() - Date.now()) / 60000);
  const span = Math.abs(minutes);
  const text =
    span < 60 ? `${span} min` : span < 2880 ? `${Math.round(span / 60)} h` : `${Math.round(span / 1440)} d`;
  return minutes >= 0 ? `in ${text}` : `${text} ago`;
}

function label(code) {
  return code ? String(code).replaceAll("_", " ") : "–";
}

// Where a rate sits on the colour scale, relative to the target (1% by default).
function scale(rate, target) {
  const ratio = Number(rate) / Number(target || "0.01");
  if (ratio >= 2) return "scale-danger";
  if (ratio >= 1) return "scale-risk";
  if (ratio >= 0.5) return "scale-watch";
  return "scale-ok";
}

function accent(rate, target) {
  const tone = scale(rate, target);
  return tone === "scale-danger" ? "accent-danger" : tone === "scale-risk" ? "accent-risk" : "accent-ok";
}

function statusBadge(status) {
  return h("span", { class: `badge ${status}`, testid: "status-badge" }, label(status));
}

function rateBar(rate, target) {
  // the track spans three times the target, so the target marker sits at a third
  const top = Number(target || "0.01") * 3;
  const fill = h("span", { class: `fill ${scale(rate, target)}` });
  fill.style.width = `${Math.min(100, (Number(rate) / top) * 100)}%`;
  const mark = h("span", { class: "mark", title: `target ${percent(target, 0)}` });
  mark.style.left = `${100 / 3}%`;
  return h(
    "div",
    { class: "ratebar" },
    h("span", { class: `num ${scale(rate, target)}` }, percent(rate)),
    h("span", { class: "track" }, fill, mark),
  );
}

function card(title, subtitle, ...body) {
  const heading = h("h2", {}, title, subtitle ? h("span", { class: "sub" }, subtitle) : null);
  return h("section", { class: "card" }, heading, ...body);
}

// A card whose read failed: a quiet error state, since the banner above the view says why,
// once. A token refused or not allowed concerns every card, so those cards only point up.
function errorBox(error) {
  const said = error.status === 401 || error.status === 403;
  return h(
    "div",
    { class: "error-box", testid: "error", title: error.message || String(error) },
    h("b", {}, "Not loaded"),
    ` · ${said ? "see the message above" : error.brief || error.message || String(error)}`,
  );
}

// a KPI's note when its read failed: never "nothing waiting" for what could not be read
function notLoaded() {
  return h("span", { class: "failed" }, "not loaded");
}

function table(headers, rows, empty) {
  if (!rows.length) return h("div", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, headers.map(([text, cls]) => h("th", { class: cls || null }, text)))),
      h("tbody", {}, rows),
    ),
  );
}

function sellerLink(sellerId) {
  return h(
    "a",
    { href: `#seller=${encodeURIComponent(sellerId)}`, class: "mono", testid: "seller-link" },
    sellerId,
  );
}

function openSeller(sellerId) {
  location.hash = `seller=${encodeURIComponent(sellerId)}`;
}

// ---- the banner, the token and the address ----------------------------------------------

// One banner per view: each distinct message once, one line each (none hides it).
function banner(messages, kind = "error") {
  const lines = [...new Set([messages].flat().filter(Boolean))];
  const element = document.getElementById("banner");
  element.hidden = !lines.length;
  element.className = `banner ${kind === "info" ? "info" : ""}`;
  element.replaceChildren(...lines.map((line) => h("div", {}, line)));
}

// What the banner says about a view's failed reads: a refused token is all that matters; a
// read this token may not make is said without naming whose token it is.
function bannerFor(errors) {
  const refused = errors.find((error) => error.status === 401);
  if (refused) return [[refused.message], "error"];
  const forbidden =
    state.view === "operator"
      ? "This token may not read the operator view (403). A seller token reads its own seller view."
      : `This token may not read the seller ${state.seller} (403). A seller token reads only its own seller view.`;
  const messages = errors.map((error) => (error.status === 403 ? forbidden : error.message));
  return [messages, errors.every((error) => error.status === 403) ? "info" : "error"];
}

function readFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    state.token = token;
    localStorage.setItem(TOKEN_KEY, token);
    params.delete("token");
    // keep the token out of the address bar, the history and any copied link
    const rest = params.toString();
    history.replaceState(null, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  }
  const seller = params.get("seller");
  if (seller) state.seller = seller; // "#view=seller" alone reopens the last seller shown
  state.view = seller || params.get("view") === "seller" ? "seller" : "operator";
  const tab = params.get("tab");
  if (tab && TABS.some(([key]) => key === tab)) state.tab = tab;
  const offset = Number(params.get("offset") || 0);
  state.offset = Number.isInteger(offset) && offset > 0 ? offset : 0;
}

function setupToken() {
  state.token = localStorage.getItem(TOKEN_KEY) || "";
  const input = document.getElementById("token-input");
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = input.value.trim();
    if (state.token) localStorage.setItem(TOKEN_KEY, state.token);
    else localStorage.removeItem(TOKEN_KEY);
    render();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    state.token = "";
    input.value = "";
    localStorage.removeItem(TOKEN_KEY);
    render();
  });
}

// ---- rendering ---------------------------------------------------------------------------

async function render() {
  const generation = ++state.generation;
  document.body.dataset.state = "loading";
  document.getElementById("token-input").value = state.token;
  for (const link of document.querySelectorAll(".view-link")) {
    link.classList.toggle("active", link.dataset.view === state.view);
  }
  const operator = document.getElementById("view-operator");
  const seller = document.getElementById("view-seller");
  operator.hidden = state.view !== "operator";
  seller.hidden = state.view !== "seller";
  banner("");
  if (!state.token) {
    const target = state.view === "seller" ? seller : operator;
    target.replaceChildren(
      card(
        "A token is needed",
        null,
        h(
          "div",
          { class: "notice-box", testid: "needs-token" },
          "Paste a bearer token at the top right (the development tokens are in .devstack/tokens.json)." +
            " A reviewer, agent or service token opens every view; a seller token opens its own seller view.",
        ),
      ),
    );
    document.body.dataset.state = "needs-token";
    return;
  }
  let errors;
  try {
    errors =
      state.view === "seller" ? await renderSeller(seller, generation) : await renderOperator(operator, generation);
  } catch (error) {
    // an answer of a shape this page does not know: say so instead of spinning for ever
    if (generation !== state.generation) return;
    console.error(error);
    banner(`The page could not show this answer: ${error}`);
    document.body.dataset.state = "error";
    return;
  }
  if (generation !== state.generation) return; // a newer render took over
  if (errors.length) banner(...bannerFor(errors));
  document.getElementById("loaded-at").textContent = new Date().toLocaleTimeString("en-GB");
  document.body.dataset.state = errors.length ? "error" : "ready";
}

async function settle(reads) {
  const results = await Promise.allSettled(reads);
  return results.map((result) =>
    result.status === "fulfilled" ? { value: result.value } : { error: result.reason },
  );
}

// ---- operator view -----------------------------------------------------------------------

async function renderOperator(root, generation) {
  root.replaceChildren(h("div", { class: "loading" }, "Loading the platform's figures…"));
  const [atRisk, all, queue] = await settle([
    api("metrics", `v1/sellers/at-risk?limit=${LIST_LIMIT}`),
    api("metrics", `v1/sellers?limit=${SELLERS_PAGE}&offset=${state.offset}`),
    api("adjudication", "v1/review-queue"),
  ]);
  if (generation !== state.generation) return [];
  const errors = [atRisk, all, queue].filter((read) => read.error).map((read) => read.error);

  const target = all.value?.sellers?.[0]?.target || atRisk.value?.sellers?.[0]?.target || "0.01";
  const worst = all.value && state.offset === 0 ? all.value.sellers[0] : null;
  const queued = queue.value?.claims || [];
  const oldest = queued.length ? queued.reduce((a, b) => (a.filed_at < b.filed_at ? a : b)) : null;

  const kpis = h(
    "div",
    { class: "grid kpis" },
    kpi(
      "Sellers tracked",
      all.value ? integer(all.value.total) : "–",
      all.value ? "known to metrics" : notLoaded(),
      all.value ? "accent-info" : "accent-failed",
      "sellers-total",
    ),
    kpi(
      "At risk",
      atRisk.value ? String(atRisk.value.sellers.length) : "–",
      atRisk.value ? `at or above the ${percent(target, 0)} line` : notLoaded(),
      !atRisk.value ? "accent-failed" : atRisk.value.sellers.length ? "accent-risk" : "accent-ok",
      "at-risk-count",
    ),
    kpi(
      "Reviewer queue",
      queue.value ? String(queued.length) : "–",
      !queue.value ? notLoaded() : oldest ? `oldest filed ${relative(oldest.filed_at)}` : "nothing waiting",
      queue.value ? "accent-info" : "accent-failed",
      "review-queue-count",
    ),
    kpi(
      "Worst rate",
      worst ? percent(worst.rate) : "–",
      worst
        ? worst.seller_id
        : !all.value
          ? notLoaded()
          : state.offset
            ? "shown on the first page"
            : "no seller yet",
      worst ? accent(worst.rate, worst.target) : all.value ? "accent-info" : "accent-failed",
      "worst-rate",
    ),
  );

  const atRiskCard = card(
    "Sellers at risk",
    `rate at or above ${percent(target, 0)}, worst first`,
    atRisk.error
      ? errorBox(atRisk.error)
      : sellersTable(atRisk.value.sellers, "No seller is at or above the line.", "at-risk-table"),
  );

  const queueCard = card(
    "Reviewer queue",
    "claims under review or appealed, oldest first",
    queue.error ? errorBox(queue.error) : reviewTable(queued),
  );

  let allBody;
  if (all.error) allBody = errorBox(all.error);
  else {
    const { sellers, total, offset } = all.value;
    allBody = [
      sellersTable(sellers, "No seller has orders yet.", "sellers-table"),
      h(
        "div",
        { class: "pager" },
        total ? `${integer(offset + 1)}–${integer(offset + sellers.length)} of ${integer(total)}` : "",
        h(
          "button",
          { class: "ghost", disabled: offset === 0, onclick: () => page(Math.max(0, offset - SELLERS_PAGE)) },
          "Previous",
        ),
        h(
          "button",
          { class: "ghost", disabled: offset + sellers.length >= total, onclick: () => page(offset + SELLERS_PAGE) },
          "Next",
        ),
      ),
    ];
  }
  const allCard = card("All sellers", "by rate, worst first; click a seller to open its account health", allBody);
  root.replaceChildren(kpis, atRiskCard, queueCard, allCard);
  return errors;
}

function page(offset) {
  location.hash = offset ? `view=operator&offset=${offset}` : "view=operator";
}

function kpi(title, value, note, accent, testid) {
  return h(
    "section",
    { class: `card kpi ${accent}` },
    h("div", { class: "label" }, title),
    h("div", { class: "value", testid }, value),
    h("div", { class: "note" }, note),
  );
}

function sellersTable(sellers, empty, testid) {
  const rows = sellers.map((seller) =>
    h(
      "tr",
      { class: "clickable", onclick: () => openSeller(seller.seller_id), "data-seller": seller.seller_id },
      h("td", {}, sellerLink(seller.seller_id)),
      h("td", {}, statusBadge(seller.status)),
      h("td", {}, rateBar(seller.rate, seller.target)),
      h("td", { class: "num" }, integer(seller.combined.orders)),
      h("td", { class: "num" }, integer(seller.combined.defective_orders)),
      h("td", { class: "num" }, seller.orders_to_recover ? integer(seller.orders_to_recover) : "–"),
      h(
        "td",
        { class: "nowrap" },
        seller.projected_crossing ? day(seller.projected_crossing) : h("span", { class: "muted" }, "none in sight"),
      ),
      h("td", { class: "muted nowrap" }, day(seller.window.as_of)),
    ),
  );
  const wrap = table(
    [
      ["Seller"],
      ["Status"],
      ["Rate vs target"],
      ["Orders", "num"],
      ["Defective", "num"],
      ["Orders to recover", "num"],
      ["Projected crossing"],
      ["As of"],
    ],
    rows,
    empty,
  );
  wrap.setAttribute("data-testid", testid);
  return wrap;
}

function reviewTable(claims) {
  const rows = claims.map((claim) =>
    h(
      "tr",
      { "data-claim": claim.claim_id },
      h("td", { class: "claim-id" }, claimId(claim)),
      h("td", {}, claim.seller_id ? sellerLink(claim.seller_id) : h("span", { class: "muted" }, "unknown yet")),
      h("td", {}, label(claim.reason), h("span", { class: "second nowrap" }, `filed by ${claim.filed_by}`)),
      h("td", { class: "num nowrap" }, money(claim.amount)),
      h("td", {}, h("span", { class: `badge ${claim.status === "appealed" ? "watch" : "info"}` }, label(claim.status))),
      h("td", { class: "nowrap" }, stamp(claim.filed_at)),
      h("td", { class: "deadlines" }, deadlines(claim)),
    ),
  );
  return table(
    [["Claim"], ["Seller"], ["Reason"], ["Amount", "num"], ["Status"], ["Filed (UTC)"], ["Deadlines (UTC)"]],
    rows,
    "The reviewer queue is empty.",
  );
}

function claimId(claim) {
  return [h("span", { class: "mono" }, claim.claim_id), h("span", { class: "second" }, `order ${claim.order_id}`)];
}

// A running deadline stands out, red under a day, orange under three; one whose moment has
// passed reads as closed, in grey, with how long ago only while the claim is still open.
function deadlines(claim) {
  const all = claim.deadlines;
  const set = DEADLINES.filter(([key]) => all && all[key]);
  if (!set.length) return h("span", { class: "muted" }, "none running");
  return set.map(([key, name, closed]) => {
    const remaining = Date.parse(all[key]) - Date.now();
    if (remaining < 0) {
      return h(
        "span",
        { class: "deadline past", "data-deadline": key, title: `${name} ${when(all[key])} UTC` },
        `${closed} `,
        h("span", { class: "date" }, day(all[key])),
        claim.status !== "closed" ? h("span", { class: "second" }, relative(all[key])) : null,
      );
    }
    const kind = remaining < 86400000 ? "urgent" : remaining < 3 * 86400000 ? "soon" : "";
    return h(
      "span",
      { class: `deadline ${kind}`, "data-deadline": key },
      h("span", { class: "name" }, name),
      h("span", { class: "when" }, when(all[key])),
      h("span", { class: "second" }, relative(all[key])),
    );
  });
}

// ---- seller view -------------------------------------------------------------------------

async function renderSeller(root, generation) {
  const picker = sellerPicker();
  if (!state.seller) {
    root.replaceChildren(
      picker,
      card(
        "Choose a seller",
        null,
        h("div", { class: "notice-box" }, "Type a seller id above, or open one from the operator view."),
      ),
    );
    fillSellerOptions(generation);
    return [];
  }
  root.replaceChildren(picker, h("div", { class: "loading" }, `Loading ${state.seller}…`));
  const id = encodeURIComponent(state.seller);
  const reads = await settle([
    api("metrics", `v1/sellers/${id}/health`),
    api("metrics", `v1/sellers/${id}/history?days=90`),
    ...TABS.map(([tab]) => api("adjudication", `v1/sellers/${id}/claims?tab=${tab}&limit=${LIST_LIMIT}`)),
  ]);
  if (generation !== state.generation) return [];
  fillSellerOptions(generation);
  const [health, history, ...queues] = reads;
  // A seller with claims but no order seen yet has no health: that is news, not a failure.
  const unknown = health.error?.status === 404;
  const errors = reads.filter((read) => read.error && !(read === health && unknown)).map((read) => read.error);
  state.queues = Object.fromEntries(TABS.map(([tab], index) => [tab, queues[index]]));

  const parts = [picker];
  if (health.error) {
    parts.push(
      card(
        "Account health",
        null,
        unknown
          ? h(
              "div",
              { class: "notice-box", testid: "no-health" },
              `No order of ${state.seller} has been seen yet, so there is no rate to show.`,
            )
          : errorBox(health.error),
      ),
    );
  } else {
    parts.push(healthRow(health.value));
    parts.push(h("div", { class: "grid two" }, defectTypes(health.value), channels(health.value)));
  }
  parts.push(
    card(
      "90-day history",
      "daily Order Defect Rate over the rolling 60-day window",
      history.error ? errorBox(history.error) : historyChart(history.value.days, health.value?.target || "0.01"),
    ),
  );
  parts.push(h("div", { id: "claims-card" }, claimsCard()));
  root.replaceChildren(...parts);
  return errors;
}

function sellerPicker() {
  const input = h("input", {
    id: "seller-input",
    list: "seller-options",
    placeholder: "seller id",
    value: state.seller,
    spellcheck: "false",
    testid: "seller-input",
  });
  return h(
    "form",
    {
      class: "picker",
      onsubmit: (event) => {
        event.preventDefault();
        if (input.value.trim()) openSeller(input.value.trim());
      },
    },
    h("h1", { testid: "seller-title" }, state.seller || "Seller"),
    input,
    h("datalist", { id: "seller-options" }),
    h("button", { type: "submit" }, "Open"),
    h("a", { href: "#view=operator", class: "back" }, "← Operator view"),
  );
}

async function fillSellerOptions(generation) {
  // Suggestions only: a seller token may not list sellers, and that is not an error.
  try {
    const listed = await api("metrics", `v1/sellers?limit=${LIST_LIMIT}`);
    if (generation !== state.generation) return;
    const options = document.getElementById("seller-options");
    options?.replaceChildren(...listed.sellers.map((seller) => h("option", { value: seller.seller_id })));
  } catch {
    // no suggestions
  }
}

function healthRow(health) {
  const { combined, target } = health;
  const top = Number(target) * 3;
  const fill = h("span", { class: `fill ${scale(health.rate, target)}` });
  fill.style.width = `${Math.min(100, (Number(health.rate) / top) * 100)}%`;
  const mark = h("span", { class: "mark" });
  mark.style.left = `${100 / 3}%`;
  const main = h(
    "section",
    { class: "card health" },
    h("h2", {}, "Order Defect Rate", h("span", { class: "right" }, statusBadge(health.status))),
    h(
      "div",
      { class: "headline" },
      h(
        "span",
        { class: `rate ${scale(health.rate, target)}`, testid: "seller-rate", "data-value": health.rate },
        percent(health.rate),
      ),
      h("span", { class: "target" }, `target: below ${percent(target, 0)}`),
    ),
    h("div", { class: "meter" }, fill, mark),
    h(
      "div",
      { class: "meter-legend" },
      h("span", {}, "0%"),
      h("span", {}, `${percent(target, 0)} line`),
      h("span", {}, percent(String(top), 0)),
    ),
    h(
      "div",
      { class: "facts" },
      `${integer(combined.defective_orders)} defective of ${integer(combined.orders)} orders placed` +
        ` ${day(health.window.first_order_date)} – ${day(health.window.last_order_date)}` +
        ` (as of ${day(health.window.as_of)})`,
    ),
  );
  const recover = health.orders_to_recover;
  return h(
    "div",
    { class: "grid health-row" },
    main,
    h(
      "section",
      { class: `card kpi ${recover ? "accent-risk" : "accent-ok"}` },
      h("div", { class: "label" }, "Orders to recover"),
      h("div", { class: "value", testid: "seller-orders-to-recover", "data-value": String(recover) }, integer(recover)),
      h("div", { class: "note" }, recover ? `defect-free orders to get below ${percent(target, 0)}` : "already below the line"),
    ),
    h(
      "section",
      { class: "card kpi accent-info" },
      h("div", { class: "label" }, "Projected crossing"),
      h(
        "div",
        { class: "value small", testid: "seller-projected-crossing" },
        health.projected_crossing ? day(health.projected_crossing) : "None in sight",
      ),
      h(
        "div",
        { class: "note" },
        health.projected_crossing
          ? `when the status would change at the current pace`
          : "no status change in the next 120 days at the current pace",
      ),
    ),
    h(
      "section",
      { class: "card kpi accent-info" },
      h("div", { class: "label" }, "Defective orders"),
      h("div", { class: "value", testid: "seller-defective" }, integer(combined.defective_orders)),
      h("div", { class: "note" }, `of ${integer(combined.orders)} orders in the 60-day window`),
    ),
  );
}

function defectTypes(health) {
  const { combined } = health;
  const kinds = [
    ["Claims", combined.claims, "A-to-z claims that count against the seller"],
    ["Negative feedback", combined.negative_feedback, "ratings of 1 or 2 stars, not removed"],
    ["Chargebacks", combined.chargebacks, "service chargebacks (fraud ones do not count)"],
  ];
  const largest = Math.max(1, ...kinds.map(([, count]) => count));
  return card(
    "Defects by type",
    "orders with each kind of defect",
    h(
      "div",
      { class: "breakdown", testid: "defect-types" },
      kinds.map(([name, count, hint]) => {
        const fill = h("span", { class: "fill" });
        fill.style.width = `${(count / largest) * 100}%`;
        return h(
          "div",
          { class: "row", title: hint, "data-kind": name },
          h("span", { class: "name" }, name),
          h("span", { class: "hbar" }, fill),
          h(
            "span",
            { class: "figure" },
            h("b", {}, integer(count)),
            h("span", { class: "muted" }, ` · ${share(count, combined.orders, 2)}`),
          ),
        );
      }),
    ),
    h(
      "div",
      { class: "footnote" },
      "An order with several defects counts once in the rate, so the types may add up to more than the defective orders.",
    ),
  );
}

function channels(health) {
  const rows = health.by_channel.map((channel) =>
    h(
      "tr",
      { "data-channel": channel.channel },
      h("td", { class: "nowrap" }, CHANNELS[channel.channel] || label(channel.channel)),
      h("td", { class: "num" }, integer(channel.orders)),
      h("td", { class: "num" }, integer(channel.defective_orders)),
      h("td", {}, rateBar(channel.rate, health.target)),
      h("td", { class: "num" }, integer(channel.claims)),
      h("td", { class: "num" }, integer(channel.negative_feedback)),
      h("td", { class: "num" }, integer(channel.chargebacks)),
    ),
  );
  return card(
    "By fulfilment channel",
    null,
    compact(table(
      [["Channel"], ["Orders", "num"], ["Defective", "num"], ["Rate"], ["Claims", "num"], ["Neg. fb", "num"], ["Chargebacks", "num"]],
      rows,
      "No orders in the window.",
    )),
  );
}

function compact(element) {
  element.classList.add("compact");
  return element;
}

// The history holds a row for each day metrics saved the seller's figures (every day it ran); a
// day without a row kept the previous day's figures, so the line is drawn as steps carried on.
function historyChart(days, target) {
  if (!days.length) return h("div", { class: "empty", testid: "history-chart", "data-points": "0" }, "No history yet.");
  const points = days
    .map((entry) => ({ ...entry, time: Date.parse(`${entry.day}T00:00:00Z`), value: Number(entry.rate) }))
    .sort((a, b) => a.time - b.time);
  const dayMs = 86400000;
  const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
  const end = Math.max(points[points.length - 1].time, today);
  const start = end - 89 * dayMs;
  const [width, height] = [1000, 260];
  const margin = { left: 52, right: 18, top: 14, bottom: 28 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const targetValue = Number(target);
  const highest = Math.max(targetValue * 2, ...points.map((p) => p.value * 1.15));
  const step = niceStep(highest / 5);
  const top = Math.ceil(highest / step) * step;
  const x = (time) => margin.left + ((time - start) / (end - start)) * plotW;
  const y = (value) => margin.top + plotH - (value / top) * plotH;

  const grid = [];
  for (let value = 0; value <= top + 1e-12; value += step) {
    grid.push(
      s("line", { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value) }),
      s(
        "text",
        { x: margin.left - 8, y: y(value) + 4, "text-anchor": "end" },
        `${(value * 100).toFixed(step * 100 < 1 ? 1 : 0)}%`,
      ),
    );
  }
  const ticks = [];
  for (let time = end; time >= start; time -= 15 * dayMs) {
    ticks.push(
      s(
        "text",
        { x: x(time), y: height - 8, "text-anchor": time === end ? "end" : "middle" },
        new Date(time).toLocaleDateString("en-GB", { day: "2-digit", month: "short", timeZone: "UTC" }),
      ),
    );
  }

  const visible = points.filter((p) => p.time >= start);
  const before = points.filter((p) => p.time < start).pop(); // carries into the window's first day
  const series = before ? [{ ...before, time: start }, ...visible] : visible;
  let path = "";
  series.forEach((point, index) => {
    path += index === 0 ? `M${x(point.time)},${y(point.value)}` : `H${x(point.time)}V${y(point.value)}`;
  });
  if (series.length) path += `H${x(end)}`;
  const area = series.length ? `${path}V${y(0)}H${x(series[0].time)}Z` : "";
  const dots = visible.map((point) =>
    s(
      "circle",
      { class: `dot ${point.status}`, cx: x(point.time), cy: y(point.value), r: visible.length > 40 ? 2.5 : 4 },
      s(
        "title",
        {},
        `${day(point.day)}: ${percent(point.rate)} (${point.defective} of ${point.orders} orders), ${label(point.status)}`,
      ),
    ),
  );
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Daily Order Defect Rate over 90 days" },
    s("g", { class: "grid axis" }, grid),
    s("g", { class: "axis" }, ticks),
    area ? s("path", { class: "area", d: area }) : null,
    path ? s("path", { class: "line", d: path }) : null,
    s(
      "g",
      { class: "target" },
      s("line", { x1: margin.left, x2: width - margin.right, y1: y(targetValue), y2: y(targetValue) }),
      s("text", { x: width - margin.right - 4, y: y(targetValue) - 6, "text-anchor": "end" }, `${percent(target, 0)} target`),
    ),
    s("g", {}, dots),
  );
  return h(
    "div",
    { class: "chart", testid: "history-chart", "data-points": String(days.length) },
    svg,
    h(
      "div",
      { class: "legend" },
      h("span", {}, h("span", { class: "sw" }), "daily rate"),
      h("span", {}, h("span", { class: "sw dash" }), `the ${percent(target, 0)} line`),
      h(
        "span",
        {},
        `${days.length} day${days.length === 1 ? "" : "s"} on which the rate changed (the dots);` +
          " a day without a change keeps the previous value",
      ),
    ),
  );
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

function claimsCard() {
  const queues = state.queues;
  const current = queues[state.tab];
  const tabs = h(
    "div",
    { class: "tabs", role: "tablist" },
    TABS.map(([tab, name]) =>
      h(
        "button",
        {
          type: "button",
          role: "tab",
          class: `tab ${tab === state.tab ? "active" : ""}`,
          "aria-selected": String(tab === state.tab),
          testid: `claims-tab-${tab}`,
          onclick: () => selectTab(tab),
        },
        name,
        h("span", { class: "count" }, queues[tab].value ? String(queues[tab].value.claims.length) : "!"),
      ),
    ),
  );
  const body = current.error ? errorBox(current.error) : claimsTable(current.value.claims);
  const count = current.value ? String(current.value.claims.length) : "–";
  return card(
    "Claims",
    h(
      "span",
      {},
      h("span", { testid: "claims-count", "data-tab": state.tab }, count),
      current.value ? ` claim${count === "1" ? "" : "s"} in ${label(state.tab)}` : ` · ${label(state.tab)} not loaded`,
    ),
    tabs,
    body,
  );
}

function selectTab(tab) {
  state.tab = tab;
  const params = new URLSearchParams({ seller: state.seller, tab });
  history.replaceState(null, "", `#${params}`); // no hashchange: the claims are already read
  document.getElementById("claims-card").replaceChildren(claimsCard());
}

function claimsTable(claims) {
  const rows = claims.map((claim) =>
    h(
      "tr",
      { "data-claim": claim.claim_id },
      h("td", { class: "claim-id" }, claimId(claim)),
      h("td", {}, label(claim.reason), h("span", { class: "second nowrap" }, `buyer ${claim.buyer_id}`)),
      h("td", { class: "num nowrap" }, money(claim.amount)),
      h(
        "td",
        {},
        h("span", { class: `badge ${claimTone(claim)}` }, label(claim.status)),
        h("span", { class: "second" }, resolution(claim)),
        claim.counts_toward_odr
          ? h("span", { class: "second scale-risk", testid: "counts-toward-odr" }, "counts toward the ODR")
          : null,
      ),
      h("td", { class: "nowrap" }, stamp(claim.filed_at)),
      h("td", { class: "deadlines" }, deadlines(claim)),
      h("td", { class: "actions" }, actions(claim.actions)),
    ),
  );
  return table(
    [["Claim"], ["Reason"], ["Amount", "num"], ["Status · resolution"], ["Filed (UTC)"], ["Deadlines (UTC)"], ["Actions"]],
    rows,
    "No claim in this tab.",
  );
}

function resolution(claim) {
  if (!claim.resolution) return "open";
  const funded = claim.funded_by && claim.funded_by !== "none" ? ` · funded by ${claim.funded_by}` : "";
  return `${label(claim.resolution)}${funded}`;
}

function claimTone(claim) {
  if (claim.status === "action_required") return "risk";
  if (claim.status === "under_review" || claim.status === "appealed") return "info";
  if (claim.resolution === "granted" && claim.funded_by === "seller") return "danger";
  return "ok";
}

function actions(byParty) {
  // one line per party that may act now: "seller  refund · replacement sent · accept"
  const lines = Object.entries(byParty || {})
    .filter(([, list]) => list.length)
    .map(([party, list]) => h("span", { class: "chip" }, h("b", {}, party), list.map(label).join(" · ")));
  return lines.length ? h("div", { class: "chips" }, lines) : h("span", { class: "muted" }, "none");
}

// ---- start -------------------------------------------------------------------------------

function start() {
  setupToken();
  readFragment();
  window.addEventListener("hashchange", () => {
    readFragment();
    render();
  });
  document.getElementById("refresh").addEventListener("click", () => render());
  render();
}

start();
