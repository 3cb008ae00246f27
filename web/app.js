/*
 * app.js - the Khiên web console: the province's view of its units and endpoints.
 *
 * A page of plain JavaScript over the console's JSON API (include/khien/console.h), served by
 * "khien server" itself; nothing is fetched from elsewhere. Texts exist in Vietnamese (the
 * default) and English; every value from the server is put in the page as text, never as
 * markup. The session is the HttpOnly cookie that login sets; changes carry X-Khien-Request.
 * Views (the address's #fragment): #unit=ID (roll-up, units below, top lists, endpoints,
 * policy) and #endpoint=ID (inventory, detections with quarantine actions, commands).
 */
"use strict";

const TEXT = {
  vi: {
    subtitle: "Bảng điều khiển phòng chống mã độc", login_title: "Đăng nhập", user: "Tên đăng nhập",
    password: "Mật khẩu", login: "Đăng nhập", logout: "Đăng xuất", bad_login: "Sai tên đăng nhập hoặc mật khẩu",
    period: "Khoảng thời gian", days7: "7 ngày qua", days30: "30 ngày qua", days90: "90 ngày qua",
    children: "Các đơn vị trực thuộc", top_signatures: "Mã độc phát hiện nhiều nhất",
    top_endpoints: "Máy bị nhiễm nhiều nhất", endpoints: "Máy trạm và máy chủ", policy: "Chính sách",
    save_policy: "Lưu chính sách", back: "← Quay lại", scan_now: "Quét ngay", update_now: "Cập nhật mẫu nhận diện",
    revoke: "Thu hồi", events: "Phát hiện", commands: "Lệnh", province: "Toàn tỉnh",
    c_endpoints: "Số máy", c_coverage: "Tỷ lệ máy báo cáo", c_fresh24: "Mẫu nhận diện mới (< 24 giờ)",
    c_fresh7: "Mẫu nhận diện mới (< 7 ngày)", c_infection: "Chỉ số lây nhiễm mã độc",
    c_per100: "Phát hiện / 100 máy", c_detections: "Số phát hiện", c_compliance: "Tuân thủ kế hoạch quét",
    c_silent: "Máy im lặng quá 7 ngày",
    h_unit: "Đơn vị", h_host: "Tên máy", h_os: "Hệ điều hành", h_status: "Trạng thái", h_sig_age: "Tuổi mẫu nhận diện",
    h_realtime: "Bảo vệ thời gian thực", h_last_seen: "Lần báo cáo cuối", h_last_scan: "Lần quét toàn bộ cuối",
    h_dropped: "Sự kiện bị bỏ", h_signature: "Mẫu nhận diện", h_count: "Số lần", h_time: "Thời gian",
    h_path: "Đường dẫn", h_action: "Xử lý", h_kind: "Loại lệnh", h_detail: "Kết quả", h_by: "Người gửi",
    h_created: "Gửi lúc", h_detections: "Phát hiện", h_version: "Phiên bản tác nhân", h_sig_version: "Phiên bản mẫu",
    s_reporting: "đang báo cáo", s_silent: "im lặng", s_revoked: "đã thu hồi", s_pending: "chờ gửi",
    s_delivered: "đã gửi", s_ok: "hoàn thành", s_failed: "thất bại", s_expired: "hết hạn",
    a_reported: "đã báo cáo", a_quarantined: "đã cách ly", "a_quarantine-failed": "cách ly thất bại",
    k_scan: "quét", k_update: "cập nhật", k_quarantine_restore: "khôi phục tệp", k_quarantine_delete: "xoá tệp",
    restore: "Khôi phục", delete: "Xoá vĩnh viễn", on: "bật", off: "tắt", never: "chưa", none: "Không có",
    confirm_revoke: "Thu hồi máy này? Máy sẽ không thể báo cáo nữa.",
    confirm_delete: "Xoá vĩnh viễn tệp đã cách ly này?",
    sent: "Đã gửi lệnh số {id}; máy nhận lệnh ở lần báo cáo tiếp theo.", revoked: "Đã thu hồi.",
    inherited: "Đang áp dụng: chính sách mặc định, rồi của {from}.", default_only: "Đang áp dụng: chính sách mặc định.",
    saved: "Đã lưu.", not_json: "Nội dung không phải JSON hợp lệ.", read_only: "Tài khoản đơn vị chỉ được xem.",
    ago_s: "{n} giây", ago_m: "{n} phút", ago_h: "{n} giờ", ago_d: "{n} ngày",
  },
  en: {
    subtitle: "Malware defence console", login_title: "Log in", user: "User name", password: "Password",
    login: "Log in", logout: "Log out", bad_login: "Wrong user name or password", period: "Period",
    days7: "Last 7 days", days30: "Last 30 days", days90: "Last 90 days", children: "Units below",
    top_signatures: "Top signatures", top_endpoints: "Most infected endpoints", endpoints: "Endpoints",
    policy: "Policy", save_policy: "Save policy", back: "← Back", scan_now: "Scan now",
    update_now: "Update signatures", revoke: "Revoke", events: "Detections", commands: "Commands",
    province: "Whole province", c_endpoints: "Endpoints", c_coverage: "Coverage (reporting)",
    c_fresh24: "Signatures newer than 24 h", c_fresh7: "Signatures newer than 7 days",
    c_infection: "Malware infection index", c_per100: "Detections per 100 endpoints", c_detections: "Detections",
    c_compliance: "Scan plan compliance", c_silent: "Silent for more than 7 days",
    h_unit: "Unit", h_host: "Host", h_os: "OS", h_status: "Status", h_sig_age: "Signature age",
    h_realtime: "Real-time protection", h_last_seen: "Last seen", h_last_scan: "Last full scan",
    h_dropped: "Dropped events", h_signature: "Signature", h_count: "Count", h_time: "Time", h_path: "Path",
    h_action: "Action", h_kind: "Kind", h_detail: "Result", h_by: "By", h_created: "Sent",
    h_detections: "Detections", h_version: "Agent version", h_sig_version: "Signature version",
    s_reporting: "reporting", s_silent: "silent", s_revoked: "revoked", s_pending: "pending",
    s_delivered: "delivered", s_ok: "done", s_failed: "failed", s_expired: "expired",
    a_reported: "reported", a_quarantined: "quarantined", "a_quarantine-failed": "quarantine failed",
    k_scan: "scan", k_update: "update", k_quarantine_restore: "restore file", k_quarantine_delete: "delete file",
    restore: "Restore", delete: "Delete", on: "on", off: "off", never: "never", none: "None",
    confirm_revoke: "Revoke this endpoint? It will not be able to report again.",
    confirm_delete: "Delete this quarantined file for good?",
    sent: "Command {id} sent; the endpoint receives it with its next heartbeat.", revoked: "Revoked.",
    inherited: "In force: the default policy, then {from}'s.", default_only: "In force: the default policy.",
    saved: "Saved.", not_json: "This is not valid JSON.", read_only: "Unit accounts may only look.",
    ago_s: "{n} s", ago_m: "{n} min", ago_h: "{n} h", ago_d: "{n} days",
  },
};

const state = { lang: localStorage.getItem("khien-lang") || "vi", me: null, units: new Map(), unit: 0,
                endpoints: new Map(), days: 30 };

function t(key, vars) {
  let s = (TEXT[state.lang] && TEXT[state.lang][key]) || TEXT.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", String(v));
  return s;
}

function $(id) { return document.getElementById(id); }

/* An element with attributes and children (strings become text nodes: never markup). */
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

function applyTexts() {
  document.documentElement.lang = state.lang;
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  $("lang").textContent = state.lang === "vi" ? "EN" : "VI";
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") {
    opts.headers["X-Khien-Request"] = "1";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, opts);
  let j = null;
  try { j = await r.json(); } catch (e) { j = { error: r.statusText }; }
  if (r.status === 401 && path !== "/api/v1/login") { showLogin(); throw new Error(j.error); }
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

const pct = (x) => (100 * x).toFixed(x > 0 && x < 0.1 ? 1 : 0) + "%";
const num = (x) => Number(x).toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 2 });
function when(ts) {
  if (!ts) return t("never");
  return new Date(ts * 1000).toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB");
}
function age(s) {
  if (s === null || s === undefined) return t("never");
  if (s < 60) return t("ago_s", { n: s });
  if (s < 3600) return t("ago_m", { n: Math.floor(s / 60) });
  if (s < 172800) return t("ago_h", { n: Math.floor(s / 3600) });
  return t("ago_d", { n: Math.floor(s / 86400) });
}
const tag = (kind, value) => el("span", { class: "tag " + value }, t(kind + value));

function table(id, heads, rows) {
  const tb = $(id);
  tb.replaceChildren(el("tr", null, ...heads.map((h) => el("th", null, t(h)))));
  if (!rows.length) tb.append(el("tr", { class: "empty" }, el("td", { colspan: heads.length }, t("none"))));
  for (const r of rows) tb.append(el("tr", null, ...r.map((c) =>
    c instanceof Node && c.tagName === "TD" ? c : el("td", typeof c === "number" ? { class: "n" } : null, c))));
}

function unitName(id) {
  if (!id) return t("province");
  const u = state.units.get(id);
  return u ? u.name : "#" + id;
}

function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

/* ---- login ---- */

function showLogin() {
  $("login-view").hidden = false;
  $("app-view").hidden = true;
  $("endpoint-view").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("POST", "/api/v1/login", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    await start();
  } catch (e) {
    $("login-error").textContent = t("bad_login");
  }
}

async function start() {
  state.me = await api("GET", "/api/v1/me");
  const u = await api("GET", "/api/v1/units");
  state.units = new Map(u.units.map((x) => [x.id, x]));
  $("login-view").hidden = true;
  $("logout").hidden = false;
  $("who").textContent = state.me.user + " · " + (state.me.unit ? state.me.unit_name : t("province"));
  if (!location.hash) location.hash = "#unit=" + state.me.unit;
  route();
}

/* ---- a unit ---- */

function crumbs(id) {
  const chain = [];
  for (let x = id, guard = 0; x && guard < 64; guard++) {
    chain.unshift(x);
    const u = state.units.get(x);
    if (!u || x === state.me.unit) break;
    x = u.parent;
  }
  if (!state.me.unit) chain.unshift(0);
  $("crumbs").replaceChildren(...chain.map((x) =>
    el("li", null, el("a", { href: "#unit=" + x }, unitName(x)))));
}

function card(key, value, level) {
  return el("div", { class: "card " + (level || "") }, el("div", { class: "v" }, value), el("div", { class: "k" }, t(key)));
}

async function showUnit(id) {
  state.unit = id;
  $("app-view").hidden = false;
  $("endpoint-view").hidden = true;
  $("app-error").textContent = "";
  crumbs(id);
  const now = Math.floor(Date.now() / 1000), from = now - state.days * 86400;
  try {
    const [r, top, eps, pol] = await Promise.all([
      api("GET", `/api/v1/rollup?unit=${id}&from=${from}&to=${now + 1}`),
      api("GET", `/api/v1/top-endpoints?unit=${id}&from=${from}&to=${now + 1}&limit=10`),
      api("GET", `/api/v1/endpoints?unit=${id}&limit=1000`),
      api("GET", `/api/v1/policy?unit=${id}`),
    ]);
    $("cards").replaceChildren(
      card("c_endpoints", num(r.endpoints)),
      card("c_coverage", pct(r.coverage), r.coverage < 0.9 ? "warn" : "good"),
      card("c_fresh24", pct(r.freshness_24h), r.freshness_24h < 0.9 ? "warn" : "good"),
      card("c_fresh7", pct(r.freshness_7d), r.freshness_7d < 0.95 ? "warn" : "good"),
      card("c_infection", pct(r.infection_index), r.infection_index > 0 ? "bad" : "good"),
      card("c_per100", num(r.detections_per_100)),
      card("c_detections", num(r.detections)),
      card("c_compliance", r.plan_endpoints ? pct(r.plan_compliance) : "–",
           !r.plan_endpoints ? "" : r.plan_compliance < 1 ? "warn" : "good"),
      card("c_silent", num(r.silent), r.silent ? "warn" : "good"));
    table("children", ["h_unit", "c_endpoints", "c_coverage", "c_fresh24", "c_infection", "c_per100", "c_compliance", "c_silent"],
      r.children.filter((c) => c.unit !== id).map((c) => [
        el("td", null, el("a", { href: "#unit=" + c.unit }, c.name || unitName(c.unit))),
        c.endpoints, pct(c.coverage), pct(c.freshness_24h), pct(c.infection_index),
        Number(c.detections_per_100.toFixed(1)), c.plan_endpoints ? pct(c.plan_compliance) : "–", c.silent]));
    table("top-sigs", ["h_signature", "h_count"], r.top_signatures.map((s) => [s.signature, s.count]));
    table("top-eps", ["h_host", "h_unit", "h_detections"], top.endpoints.map((e) => [
      el("td", null, el("a", { href: "#endpoint=" + e.endpoint }, e.hostname || "#" + e.endpoint)),
      unitName(e.unit), e.detections]));
    state.endpoints = new Map(eps.endpoints.map((e) => [e.id, e]));
    table("endpoints", ["h_host", "h_unit", "h_os", "h_status", "h_sig_age", "h_realtime", "h_last_seen", "h_dropped"],
      eps.endpoints.map((e) => [
        el("td", null, el("a", { href: "#endpoint=" + e.id }, e.hostname || "#" + e.id)), unitName(e.unit),
        e.os || "", el("td", null, tag("s_", e.status)), age(e.sig_age), t(e.realtime ? "on" : "off"),
        when(e.last_seen), e.queue_dropped]));
    $("policy").value = JSON.stringify(pol.policy, null, 2);
    $("policy-from").textContent = pol.inherited_from === null ? t("default_only")
                                                               : t("inherited", { from: unitName(pol.inherited_from) });
    const province = state.me.role === "province";
    $("policy").readOnly = !province;
    $("policy-save").hidden = !province;
    $("policy-msg").textContent = province ? "" : t("read_only");
  } catch (e) {
    $("app-error").textContent = e.message;
  }
}

async function savePolicy() {
  let body;
  try { body = JSON.parse($("policy").value); } catch (e) { $("policy-msg").textContent = t("not_json"); return; }
  try {
    await api("POST", `/api/v1/policy?unit=${state.unit}`, body);
    $("policy-msg").textContent = t("saved");
  } catch (e) {
    $("policy-msg").textContent = e.message;
  }
}

/* ---- an endpoint ---- */

async function command(id, kind, args) {
  const r = await api("POST", `/api/v1/endpoints/${id}/commands`, { kind, args: args || {} });
  $("cmd-msg").textContent = t("sent", { id: r.command });
  await showEndpoint(id, true);
}

async function showEndpoint(id, keepMsg) {
  $("app-view").hidden = true;
  $("endpoint-view").hidden = false;
  if (!keepMsg) $("cmd-msg").textContent = "";
  let e = state.endpoints.get(id);
  try {
    if (!e) { /* reached from a link: find it in the list of what this user may see */
      const eps = await api("GET", `/api/v1/endpoints?unit=${state.me.unit}&limit=1000`);
      state.endpoints = new Map(eps.endpoints.map((x) => [x.id, x]));
      e = state.endpoints.get(id);
    }
    const [ev, cmds] = await Promise.all([api("GET", `/api/v1/endpoints/${id}/events`),
                                          api("GET", `/api/v1/endpoints/${id}/commands`)]);
    $("ep-title").textContent = (e && e.hostname) || "#" + id;
    const facts = e ? [["h_unit", unitName(e.unit)], ["h_os", e.os], ["h_status", tag("s_", e.status)],
      ["h_version", e.agent_version], ["h_sig_version", e.sig_version], ["h_sig_age", age(e.sig_age)],
      ["h_realtime", t(e.realtime ? "on" : "off")], ["h_last_seen", when(e.last_seen)],
      ["h_last_scan", when(e.last_full_scan)], ["h_dropped", e.queue_dropped]] : [];
    $("ep-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", null, t(k)), el("dd", null, v === null ? "" : v)]));
    const province = state.me.role === "province";
    const live = e && e.status !== "revoked";
    for (const b of ["cmd-scan", "cmd-update", "cmd-revoke"]) $(b).hidden = !province || !live;
    table("ep-events", ["h_time", "h_path", "h_signature", "h_action", ""], ev.events.map((x) => [
      when(x.time), el("td", { class: "mono" }, x.path || ""), x.signature, el("td", null, tag("a_", x.action || "reported")),
      el("td", null, province && live && x.quarantine_id ? el("span", null,
        el("button", { type: "button", "data-restore": x.quarantine_id,
                       onclick: () => command(id, "quarantine_restore", { id: x.quarantine_id }) }, t("restore")), " ",
        el("button", { type: "button", "data-delete": x.quarantine_id,
                       onclick: () => confirm(t("confirm_delete")) && command(id, "quarantine_delete", { id: x.quarantine_id }) },
           t("delete"))) : "")]));
    table("ep-commands", ["h_created", "h_kind", "h_status", "h_detail", "h_by"], cmds.commands.map((c) => [
      when(c.created), t("k_" + c.kind), el("td", null, tag("s_", c.state)), c.detail || "", c.by || ""]));
    $("ep-actions").dataset.endpoint = id;
  } catch (err) {
    $("cmd-msg").textContent = err.message;
  }
}

/* ---- wiring ---- */

function route() {
  if (!state.me) return;
  const m = /^#(unit|endpoint)=(\d+)$/.exec(location.hash);
  if (m && m[1] === "endpoint") showEndpoint(Number(m[2]));
  else showUnit(m ? Number(m[2]) : state.me.unit);
}

document.addEventListener("DOMContentLoaded", () => {
  applyTexts();
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "vi" ? "en" : "vi";
    localStorage.setItem("khien-lang", state.lang);
    applyTexts();
    route();
  });
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/v1/logout"); } finally { state.me = null; showLogin(); }
  });
  $("period").addEventListener("change", () => { state.days = Number($("period").value); route(); });
  $("policy-save").addEventListener("click", savePolicy);
  $("back").addEventListener("click", (ev) => { ev.preventDefault(); go("#unit=" + state.unit); });
  $("cmd-scan").addEventListener("click", () => command(Number($("ep-actions").dataset.endpoint), "scan"));
  $("cmd-update").addEventListener("click", () => command(Number($("ep-actions").dataset.endpoint), "update"));
  $("cmd-revoke").addEventListener("click", async () => {
    const id = Number($("ep-actions").dataset.endpoint);
    if (!confirm(t("confirm_revoke"))) return;
    try {
      await api("POST", `/api/v1/endpoints/${id}/revoke`);
      $("cmd-msg").textContent = t("revoked");
      state.endpoints.delete(id);
      await showEndpoint(id, true);
    } catch (e) { $("cmd-msg").textContent = e.message; }
  });
  window.addEventListener("hashchange", route);
  start().catch(() => showLogin());
});
