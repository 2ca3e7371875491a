/* The live usage page: the server paints the first frame, this keeps it moving.
 *
 * State comes from the JSON the server embeds (#live-config), then from
 * WebSocket events (/ws/usage/). Rendering is batched per animation frame so a
 * burst of 1000 events repaints once. After a dropped connection the page
 * reconnects with exponential backoff and refetches the snapshot, so nothing
 * missed while offline is lost from the totals.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("live-config").textContent);
  var tz = config.time_zone || "UTC";
  var $ = function (id) { return document.getElementById(id); };

  // --- Formatting (same rules as tokens/templatetags/live_format.py) -------------------
  var intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var usd2 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var usd4 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 4, maximumFractionDigits: 4 });
  var timeFmt = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: tz });
  var dayFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "numeric", timeZone: tz });
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function usd(value) {
    if (value === null || value === undefined || value === "") return "–";
    var n = Number(value);
    if (!isFinite(n)) return "–";
    var a = Math.abs(n), sign = n < 0 ? "-" : "";
    if (a === 0) return "$0.00";
    if (a < 0.0001) return sign + "<$0.0001";
    return sign + (a >= 0.99995 ? usd2 : usd4).format(a);  // $0.99996 reads $1.00, as on the server
  }
  function ints(value) { return value === null || value === undefined ? "–" : intFmt.format(value); }
  function pct(value) { return value === null || value === undefined ? "–" : Number(value).toFixed(1) + "%"; }
  // "14:03:07" today; "5 Mar 14:03:07" for another day (Django's "j M"; spelled out, as ICU says "Sept"). HTML.
  function when(iso) {
    var d = new Date(iso), t = d.getTime(), time = timeFmt.format(d);
    if (t >= state.dayStart && t < state.dayEnd) return time;
    var parts = {};
    dayFmt.formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
    return '<span class="day">' + Number(parts.day) + " " + MONTHS[Number(parts.month) - 1] + "</span> " + time;
  }
  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // --- State -----------------------------------------------------------------------------
  var state;

  function load(snapshot) {
    var byAgent = new Map(), byUser = new Map();
    snapshot.by_agent.forEach(function (r) { byAgent.set(r.agent, { calls: r.calls, tokens: r.tokens, cost: Number(r.cost_usd) }); });
    (snapshot.by_user || []).forEach(function (r) { byUser.set(r.user, { calls: r.calls, tokens: r.tokens, cost: Number(r.cost_usd) }); });
    state = {
      scopeAll: snapshot.scope_all,
      dayStart: Date.parse(snapshot.day_start),
      dayEnd: Date.parse(snapshot.day_end),
      totals: { calls: snapshot.totals.calls, tokens: snapshot.totals.tokens, cost: Number(snapshot.totals.cost_usd) },
      byAgent: byAgent,
      byUser: byUser,
      feed: snapshot.latest.slice(0, config.latest_calls),
      fresh: new Set(),
      budgets: snapshot.budgets || [],
      budgetTile: snapshot.budget_tile || null,
    };
  }

  function bump(map, key, data) {
    var row = map.get(key) || { calls: 0, tokens: 0, cost: 0 };
    row.calls += 1; row.tokens += data.tokens_used; row.cost += Number(data.cost_usd || 0);
    map.set(key, row);
  }

  function onUsage(data) {
    var when = Date.parse(data.occurred_at);
    if (when >= state.dayStart && when < state.dayEnd) {  // late reports of earlier days stay out of today
      state.totals.calls += 1;
      state.totals.tokens += data.tokens_used;
      state.totals.cost += Number(data.cost_usd || 0);
      bump(state.byAgent, data.agent, data);
      if (state.scopeAll) bump(state.byUser, data.user, data);
    }
    state.feed.unshift(data);
    state.fresh.add(data.id);
    if (state.feed.length > config.latest_calls) state.feed.length = config.latest_calls;
    refreshBudgetsSoon();
    schedule();
  }

  // --- Rendering -------------------------------------------------------------------------
  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; render(); });
  }

  function breakdownRows(map, total) {
    var rows = Array.from(map.entries()).sort(function (a, b) { return b[1].cost - a[1].cost || b[1].tokens - a[1].tokens; });
    if (!rows.length) return '<tr class="empty"><td colspan="5" class="muted">No calls yet today.</td></tr>';
    return rows.map(function (e) {
      var share = total > 0 ? Math.round(100 * e[1].cost / total) : 0;
      return "<tr><td>" + esc(e[0]) + '</td><td class="num">' + ints(e[1].calls) + '</td><td class="num">' + ints(e[1].tokens) +
        '</td><td class="num">' + usd(e[1].cost) + '</td><td class="share"><span class="bar"><span style="width:' + share + '%"></span></span></td></tr>';
    }).join("");
  }

  function feedRow(r) {
    var flags = (r.cache_hit ? '<span class="badge cache">cached</span>' : "") +
      (r.optimization_applied ? '<span class="badge opt" title="' + esc(r.optimization_technique) + '">optimized</span>' : "") +
      (r.priced === false ? '<span class="badge unpriced">unpriced</span>' : "");
    return '<tr' + (state.fresh.has(r.id) ? ' class="fresh"' : "") + '><td class="time">' + when(r.occurred_at) + "</td>" +
      (state.scopeAll ? "<td>" + esc(r.user) + "</td>" : "") + "<td>" + esc(r.agent) + '</td><td class="hide-sm">' + esc(r.model) +
      '</td><td class="num">' + ints(r.tokens_used) + '</td><td class="num">' + usd(r.cost_usd) + '</td><td class="hide-sm flags">' + flags + "</td></tr>";
  }

  function budgetBlock(b) {
    var p = Number(b.percent_used || 0);
    var level = p >= 100 ? " bad" : p >= 80 ? " warn" : "";
    var figures = [];
    if (b.limit_usd !== null && b.limit_usd !== undefined) figures.push(usd(b.spent_usd) + " of " + usd(b.limit_usd));
    if (b.limit_tokens !== null && b.limit_tokens !== undefined) figures.push(ints(b.spent_tokens) + " of " + ints(b.limit_tokens) + " tokens");
    return '<div class="budget"><div class="budget-head"><strong>' + esc(b.label) + '</strong><span class="muted">' + esc(b.period) + " · " + esc(b.enforcement) +
      '</span><span class="pct">' + pct(b.percent_used) + '</span></div><div class="gauge' + level + '"><span style="width:' +
      Math.min(100, Math.max(0, p)) + '%"></span></div><div class="muted small">' + figures.join(" · ") + "</div></div>";
  }

  // The tightest budget comes from the server with the gauges (tokens/live_selectors.py:
  // live_budget_tile), not from the latest event, which names only the budgets that call touched.
  function renderBudgetTile(t) {
    var amount = function (v) { return t.unit === "usd" ? usd(v) : ints(v) + " tok"; };
    $("budget-tile").className = "tile budget-tile" + (t ? " " + t.level : "");
    $("budget-left").textContent = t ? amount(t.left) : "–";
    $("budget-left-note").textContent = !t ? "No budget applies" :
      t.label + " · " + (t.over !== null && t.over !== undefined ? "over by " + amount(t.over) : pct(t.percent_left) + " left");
  }

  function render() {
    $("total-cost").textContent = usd(state.totals.cost);
    $("total-tokens").textContent = ints(state.totals.tokens);
    $("total-calls").textContent = ints(state.totals.calls);
    renderBudgetTile(state.budgetTile);
    document.querySelector("#by-agent tbody").innerHTML = breakdownRows(state.byAgent, state.totals.cost);
    var byUser = document.querySelector("#by-user tbody");
    if (byUser) byUser.innerHTML = breakdownRows(state.byUser, state.totals.cost);
    var feed = document.querySelector("#feed tbody");
    feed.innerHTML = state.feed.length ? state.feed.map(feedRow).join("") :
      '<tr class="empty"><td colspan="7" class="muted">No calls yet.</td></tr>';
    state.fresh.clear();
    $("budgets").innerHTML = state.budgets.length ? state.budgets.map(budgetBlock).join("") :
      '<p class="muted">No budget applies' + (state.scopeAll ? "" : " to you") + ".</p>";
  }

  // --- Notices: budget alerts and optimizations ----------------------------------------------
  function notice(kind, html, ttl) {
    var box = document.createElement("div");
    box.className = "notice " + kind;
    box.innerHTML = '<span>' + html + '</span><button type="button" class="close" aria-label="Dismiss">×</button>';
    box.querySelector("button").addEventListener("click", function () { box.remove(); });
    var list = $("live-notices");
    list.prepend(box);
    while (list.children.length > 4) list.lastElementChild.remove();
    if (ttl) window.setTimeout(function () { box.remove(); }, ttl);
  }

  function onAlert(d) {
    notice("alert", "Budget " + esc(d.budget) + " is at <strong>" + pct(d.percent_used) + "</strong> (threshold " + pct(d.threshold) + ")" +
      (d.message ? ": " + esc(d.message) : "."), 0);
    refreshBudgetsSoon();
  }

  function onOptimization(d) {
    notice("saving", esc(d.technique) + " saved <strong>" + pct(d.savings_percent) + "</strong> (" + ints(d.original_tokens) + " → " +
      ints(d.optimized_tokens) + " tokens)", 8000);
  }

  // --- Server refetches ------------------------------------------------------------------------
  var budgetTimer = null;
  function refreshBudgetsSoon() {
    if (budgetTimer || !state.budgets.length) return;
    budgetTimer = window.setTimeout(function () {
      budgetTimer = null;
      fetch(config.snapshot_url + "&part=budgets", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { if (body) { state.budgets = body.budgets; state.budgetTile = body.budget_tile; schedule(); } })
        .catch(function () {});
    }, 1500);
  }

  function resync() {
    return fetch(config.snapshot_url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (snapshot) { if (snapshot) { load(snapshot); schedule(); } })
      .catch(function () {});
  }

  // --- The socket --------------------------------------------------------------------------
  var status = $("live-status");
  var attempt = 0, everOpen = false, countdown = null;

  function setStatus(kind, text) {
    status.className = "live-status " + kind;
    status.textContent = text;
  }

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.ws_path;
    var socket;
    try { socket = new WebSocket(url); } catch (e) { retry(); return; }
    setStatus("connecting", attempt ? "Reconnecting…" : "Connecting…");
    socket.onopen = function () {
      setStatus("live", "Live");
      if (everOpen) resync();  // catch up on whatever happened while we were away
      everOpen = true;
      attempt = 0;
    };
    socket.onmessage = function (msg) {
      var event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      if (event.type === "token_usage") onUsage(event.data);
      else if (event.type === "budget_alert") onAlert(event.data);
      else if (event.type === "token_optimization") onOptimization(event.data);
      else if (event.type === "resync") resync();  // the server lost its event bus for a while
    };
    socket.onclose = function (ev) {
      if (ev.code === 4401) { setStatus("down", "Signed out: sign in again to resume"); return; }
      if (ev.code === 4403) { setStatus("down", "Not allowed to watch all users"); return; }
      retry();
    };
  }

  function retry() {
    attempt += 1;
    // 1 s, 2 s, 4 s … capped at 30 s, with jitter so a restarted server is not stampeded.
    var wait = Math.min(30, Math.pow(2, attempt - 1)) * (0.75 + Math.random() * 0.5);
    var until = Date.now() + wait * 1000;
    window.clearInterval(countdown);
    var tick = function () {
      var left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setStatus("down", "Disconnected · retrying in " + left + " s");
    };
    tick();
    countdown = window.setInterval(tick, 1000);
    window.setTimeout(function () { window.clearInterval(countdown); connect(); }, wait * 1000);
  }

  load(config);
  render();
  connect();
  // A new day starts from zero: reload just after midnight in the site's zone.
  window.setTimeout(function () { location.reload(); }, Math.max(1000, state.dayEnd - Date.now() + 2000));
})();
