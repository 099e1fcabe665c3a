// hookline admin page. Plain JavaScript, no build step. Everything a user or
// a receiver supplied is put in the page as text (textContent, text nodes,
// input values), never parsed as HTML: no HTML-parsing DOM API is used.
"use strict";

(function () {
  const body = document.body;
  const cfg = {
    operator: body.dataset.operator === "true",
    perms: (body.dataset.permissions || "read").split(","),
    readOnly: body.dataset.readOnly === "true",
    canReveal: body.dataset.canReveal === "true",
  };
  const can = (p) => !cfg.readOnly && cfg.perms.includes(p);
  const main = document.getElementById("main");
  const statusBox = document.getElementById("status");
  let timers = [];

  // el builds an element: props sets attributes (on* keys take listeners),
  // children are nodes or strings (always text nodes).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "value") e.value = v;
      else if (k === "checked") e.checked = !!v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    append(e, children);
    return e;
  }
  function append(parent, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return parent;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function say(msg, isError) {
    statusBox.textContent = msg || "";
    statusBox.className = isError ? "error" : "";
  }

  async function api(method, path, data) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (data !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(data);
    }
    const res = await fetch("api/" + path, opts);
    if (res.status === 204) return null;
    let out = null;
    try { out = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) {
      const err = new Error((out && out.error) || ("HTTP " + res.status));
      err.status = res.status;
      throw err;
    }
    return out;
  }
  const enc = encodeURIComponent;

  function when(s) {
    if (!s || s.startsWith("0001-")) return "—";
    const d = new Date(s);
    return isNaN(d) ? s : d.toLocaleString();
  }
  function badge(state) { return el("span", { class: "badge " + state }, state); }
  function pretty(raw) {
    if (raw === null || raw === undefined) return "";
    try { return JSON.stringify(typeof raw === "string" ? JSON.parse(raw) : raw, null, 2); } catch (_) { return String(raw); }
  }
  function pct(x) { return (Math.round(x * 1000) / 10) + "%"; }
  function field(label, input, hint) {
    if (!input.id) input.id = "f-" + Math.random().toString(36).slice(2);
    return el("div", { class: "field" }, el("label", { for: input.id }, label), input, hint ? el("div", { class: "muted" }, hint) : null);
  }
  function button(text, onclick, cls, extra) {
    return el("button", Object.assign({ type: "button", class: cls, onclick }, extra || {}), text);
  }
  // busy runs an action with the button disabled and reports errors.
  async function busy(btn, f) {
    if (btn) btn.disabled = true;
    try { await f(); } catch (e) { say(e.message, true); } finally { if (btn) btn.disabled = false; }
  }
  function every(ms, f) { const t = setInterval(f, ms); timers.push(t); return t; }

  // ---- routing: the path below <base> picks the view ----
  function route() {
    timers.forEach(clearInterval);
    timers = [];
    const base = new URL(document.baseURI).pathname;
    let rest = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : "";
    rest = rest.replace(/\/+$/, "");
    const m = rest.match(/^(endpoints|deliveries|messages)\/([^/]+)$/);
    const view = m ? { endpoints: endpointView, deliveries: deliveryView, messages: messageView }[m[1]] : rest === "event-types" ? catalogView : listView;
    const id = m ? decodeURIComponent(m[2]) : null;
    clear(main);
    view(id).catch((e) => {
      clear(main);
      append(main, [el("h1", {}, e.status === 404 ? "Not found" : "Something went wrong"), el("p", {}, e.message), el("p", {}, el("a", { href: "./" }, "Back to endpoints"))]);
    });
  }

  document.getElementById("lookup").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = document.getElementById("lookup-id").value.trim();
    if (id) location.href = "messages/" + enc(id);
  });

  let catalog = null;
  async function eventTypes() {
    if (!catalog) catalog = (await api("GET", "event-types")).data;
    return catalog;
  }

  // groupsOf splits the catalog by group, in catalog order; types without
  // a group come last under "".
  function groupsOf(types) {
    const groups = new Map();
    types.forEach((t, i) => {
      const g = t.group || "";
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push([t, i]);
    });
    const out = [...groups.entries()].filter(([g]) => g !== "");
    if (groups.has("")) out.push(["", groups.get("")]);
    return out;
  }

  // eventTypeChooser: one checkbox per catalog type plus "all types",
  // gathered by group with a box that ticks the whole group; types not in
  // the catalog go in a text field.
  function eventTypeChooser(types, selected) {
    selected = selected || [];
    const all = selected.length === 0 || selected.includes("*");
    const known = new Set(types.map((t) => t.name));
    const allBox = el("input", { type: "checkbox", id: "et-all", name: "all", checked: all });
    const boxes = types.map((t, i) => el("input", { type: "checkbox", id: "et-" + i, value: t.name, checked: !all && selected.includes(t.name), disabled: all }));
    const other = el("input", { type: "text", id: "et-other", value: all ? "" : selected.filter((s) => !known.has(s)).join(", "), disabled: all, placeholder: "e.g. invoice.*" });
    const groupBoxes = [];
    const grouped = groupsOf(types).map(([g, members], gi) => {
      const label = (t, i) => el("label", { for: "et-" + i, title: t.description }, boxes[i], t.name, t.deprecated ? el("span", { class: "muted" }, " (deprecated)") : null);
      if (!g) return el("div", { class: "checks" }, members.map(([t, i]) => label(t, i)));
      const gb = el("input", { type: "checkbox", id: "etg-" + gi, "data-group": g, checked: !all && members.every(([t]) => selected.includes(t.name)), disabled: all });
      gb.addEventListener("change", () => members.forEach(([, i]) => (boxes[i].checked = gb.checked)));
      members.forEach(([, i]) => boxes[i].addEventListener("change", () => (gb.checked = members.every(([, j]) => boxes[j].checked))));
      groupBoxes.push(gb);
      return el("div", { class: "group" }, el("label", { for: "etg-" + gi, class: "group-name" }, gb, el("strong", {}, g)),
        el("div", { class: "checks" }, members.map(([t, i]) => label(t, i))));
    });
    allBox.addEventListener("change", () => {
      boxes.concat(groupBoxes).forEach((b) => (b.disabled = allBox.checked));
      other.disabled = allBox.checked;
    });
    const fs = el("fieldset", {}, el("legend", {}, "Event types"),
      el("div", { class: "checks" }, el("label", { for: "et-all" }, allBox, el("strong", {}, "All types"))),
      grouped,
      field("Other types or prefixes (comma separated)", other));
    fs.value = () => {
      if (allBox.checked) return ["*"];
      const v = boxes.filter((b) => b.checked).map((b) => b.value);
      other.value.split(",").map((s) => s.trim()).filter(Boolean).forEach((s) => v.push(s));
      return v;
    };
    return fs;
  }

  // schemaRows flattens a JSON Schema into the rows of a field table:
  // dotted paths ("data.lines[].sku"), a readable type, whether required,
  // the description.
  function schemaRows(schema, path, required, rows, depth) {
    rows = rows || [];
    depth = depth || 0;
    if (!schema || typeof schema !== "object" || depth > 12) return rows;
    let s = schema, nullable = false;
    const alts = s.anyOf || s.oneOf;
    if (alts) {
      const real = alts.filter((a) => !(a && a.type === "null"));
      nullable = real.length < alts.length;
      if (real.length === 1) s = Object.assign({}, real[0], { description: s.description || real[0].description });
    }
    let type = Array.isArray(s.type) ? s.type.filter((t) => t !== "null").join(" or ") : (s.type || "");
    if (Array.isArray(s.type) && s.type.includes("null")) nullable = true;
    if (s.const !== undefined) type = JSON.stringify(s.const);
    else if (s.enum) type = (type ? type + ", " : "") + "one of " + s.enum.map((e) => JSON.stringify(e)).join(", ");
    else if (s.type === "array" && s.items && s.items.type && typeof s.items.type === "string" && s.items.type !== "object") type = "array of " + s.items.type + (s.items.format ? " (" + s.items.format + ")" : "");
    else if (alts && !type) type = alts.map((a) => (a && a.type) || "any").join(" or ");
    if (s.format) type += " (" + s.format + ")";
    if (!type) type = "any";
    if (nullable) type += " or null";
    if (path) rows.push({ path, type, required, description: s.description || "", deprecated: !!s.deprecated });
    const req = new Set(s.required || []);
    for (const [k, v] of Object.entries(s.properties || {})) schemaRows(v, path ? path + "." + k : k, req.has(k), rows, depth + 1);
    if (s.type === "array" && s.items && (s.items.properties || s.items.anyOf)) schemaRows(s.items, path + "[]", true, rows, depth + 1);
    if (s.additionalProperties && typeof s.additionalProperties === "object" && (s.additionalProperties.properties || s.additionalProperties.anyOf)) schemaRows(s.additionalProperties, path + ".{key}", false, rows, depth + 1);
    return rows;
  }

  function schemaTable(schema) {
    const rows = schemaRows(schema, "", true);
    if (!rows.length) return el("p", { class: "muted" }, "No fields described.");
    return el("div", { class: "table-wrap" }, el("table", { class: "responsive fields" },
      el("thead", {}, el("tr", {}, ["Field", "Type", "Required", "Description"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((r) => el("tr", { "data-field": r.path },
        el("td", { "data-label": "Field" }, el("code", {}, r.path)),
        el("td", { class: "wrap", "data-label": "Type" }, r.type),
        el("td", { "data-label": "Required" }, r.required ? "yes" : "no"),
        el("td", { class: "wrap", "data-label": "Description" }, r.description, r.deprecated ? " (deprecated)" : ""))))));
  }

  function typeMeta(t) {
    return [t.version ? el("span", { class: "badge" }, "v" + t.version) : null, " ",
      t.deprecated ? el("span", { class: "badge deprecated", title: t.deprecated }, "deprecated") : null];
  }

  // ---- the event catalog: every type, its fields and example ----
  async function catalogView() {
    document.title = document.title.split(" · ")[0] + " · Event catalog";
    const types = await eventTypes();
    const docLink = el("p", { id: "webhooks-doc" });
    append(main, [el("p", {}, el("a", { href: "./" }, "← Endpoints")), el("h1", {}, "Event catalog"),
      el("p", { class: "muted" }, "Every event is sent as a POST whose JSON body is {\"type\", \"timestamp\", \"data\"}, signed with the Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature."),
      docLink]);
    api("GET", "webhooks.openapi.json").then(() => docLink.append(el("a", { href: "api/webhooks.openapi.json", download: "webhooks.openapi.json" }, "OpenAPI document for receivers"))).catch(() => {});
    if (!types.length) { main.append(el("p", { class: "muted" }, "No event types are listed.")); return; }
    const box = el("div", { id: "event-catalog" });
    main.append(box);
    for (const [g, members] of groupsOf(types)) {
      const sec = el("section", { class: "group", "data-group": g }, el("h2", {}, g || "Other events"));
      for (const [t] of members) {
        sec.append(el("article", { class: "card event-type", id: "type-" + t.name, "data-event-type": t.name },
          el("h3", {}, el("code", {}, t.name), " ", typeMeta(t)),
          el("p", {}, t.description),
          t.deprecated ? el("p", { class: "deprecation" }, "Deprecated: " + t.deprecated) : null,
          t.schema ? [el("h4", {}, "Fields"), schemaTable(t.schema)] : null,
          t.schema ? el("details", {}, el("summary", {}, "JSON Schema"), el("pre", { class: "schema" }, pretty(t.schema))) : null,
          t.example ? [el("h4", {}, "Example data"), el("pre", { class: "example" }, pretty(t.example))] : null));
      }
      box.append(sec);
    }
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash) { const e = document.getElementById(hash); if (e) e.scrollIntoView(); }
  }

  // ---- list view: endpoints, the add form, the event catalog ----
  async function listView() {
    document.title = document.title.split(" · ")[0];
    const h1 = el("h1", {}, "Endpoints");
    const tbody = el("tbody");
    const table = el("div", { class: "table-wrap" }, el("table", { class: "responsive", id: "endpoints" },
      el("thead", {}, el("tr", {}, ["URL", "Description", "Status", "Event types", "Success (24 h)", "Last delivery"].concat(cfg.operator ? ["Tenant"] : []).map((h) => el("th", { scope: "col" }, h)))),
      tbody));
    const more = el("div", { class: "actions" });
    append(main, [h1, table, more]);
    const types = await eventTypes();
    let cursor = "";
    async function page() {
      const res = await api("GET", "endpoints?limit=50" + (cursor ? "&cursor=" + enc(cursor) : ""));
      if (!cursor && res.data.length === 0) tbody.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No endpoints yet.")));
      for (const ep of res.data) tbody.append(endpointRow(ep));
      cursor = res.next_cursor;
      clear(more);
      if (cursor) more.append(button("Show more", (ev) => busy(ev.target, page), "secondary"));
    }
    await page();
    if (can("manage")) main.append(addForm(types));
    main.append(catalogSection(types));
  }

  function endpointRow(ep) {
    const rate = el("td", { "data-label": "Success (24 h)" }, "…");
    const last = el("td", { "data-label": "Last delivery" }, "…");
    const tr = el("tr", { "data-endpoint-id": ep.id },
      el("td", { class: "url", "data-label": "URL" }, el("a", { href: "endpoints/" + enc(ep.id) }, ep.url)),
      el("td", { class: "wrap", "data-label": "Description" }, ep.description),
      el("td", { "data-label": "Status" }, ep.disabled ? el("span", { class: "badge disabled", title: ep.disabled_reason || "" }, "disabled") : el("span", { class: "badge enabled" }, "enabled")),
      el("td", { class: "wrap", "data-label": "Event types" }, typesText(ep.event_types)),
      rate, last,
      cfg.operator ? el("td", { class: "wrap", "data-label": "Tenant" }, ep.tenant) : null);
    api("GET", "stats?endpoint_id=" + enc(ep.id)).then((s) => {
      rate.textContent = s.attempts ? pct(s.success_rate) + " of " + s.attempts : "no attempts";
    }).catch(() => (rate.textContent = "?"));
    api("GET", "deliveries?limit=1&endpoint_id=" + enc(ep.id)).then((r) => {
      clear(last);
      if (!r.data.length) return last.append("none");
      const d = r.data[0];
      append(last, [el("a", { href: "deliveries/" + enc(d.id) }, when(d.created_at)), " ", badge(d.state)]);
    }).catch(() => (last.textContent = "?"));
    return tr;
  }
  function typesText(t) { return !t || t.length === 0 || t.includes("*") ? "all types" : t.length + ": " + t.join(", "); }

  function addForm(types) {
    const url = el("input", { type: "url", name: "url", required: true, placeholder: "https://example.com/webhooks" });
    const desc = el("input", { type: "text", name: "description", maxlength: 1024 });
    const tenant = cfg.operator ? el("input", { type: "text", name: "tenant" }) : null;
    const chooser = eventTypeChooser(types, []);
    const ordered = orderedBox("add-ordered", false);
    const submit = el("button", { type: "submit" }, "Add endpoint");
    const form = el("form", { class: "card", id: "add-endpoint" }, el("h2", {}, "Add an endpoint"),
      field("URL", url), field("Description", desc), tenant ? field("Tenant", tenant, "Which customer the endpoint belongs to.") : null,
      chooser, ordered.field, el("div", { class: "actions" }, submit));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const body = { url: url.value.trim(), description: desc.value, event_types: chooser.value(), ordered: ordered.box.checked };
        if (tenant) body.tenant = tenant.value;
        const ep = await api("POST", "endpoints", body);
        location.href = "endpoints/" + enc(ep.id) + "?created=1";
      });
    });
    return form;
  }

  function catalogSection(types) {
    return el("section", { class: "card", id: "catalog" }, el("h2", {}, "Event catalog"),
      types.length === 0 ? el("p", { class: "muted" }, "No event types are listed.") : [
        el("dl", {}, types.map((t) => [el("dt", {}, el("a", { href: "event-types#type-" + enc(t.name) }, el("code", {}, t.name)), " ", t.group ? el("span", { class: "muted" }, t.group) : null, " ", typeMeta(t)),
          el("dd", {}, el("p", {}, t.description))])),
        el("p", {}, el("a", { href: "event-types", id: "open-catalog" }, "Fields and examples of every type →"))]);
  }

  // ---- one endpoint ----
  async function endpointView(id) {
    const [ep, types, formats] = await Promise.all([api("GET", "endpoints/" + enc(id)), eventTypes(), api("GET", "formats").then((l) => l.data)]);
    document.title = document.title.split(" · ")[0] + " · " + ep.url;
    if (new URLSearchParams(location.search).has("created")) say("Endpoint added.");
    const props = el("dl", { class: "props" });
    function showProps(ep) {
      clear(props);
      append(props, [
        el("dt", {}, "ID"), el("dd", {}, el("code", {}, ep.id)),
        cfg.operator ? [el("dt", {}, "Tenant"), el("dd", {}, ep.tenant || "—")] : null,
        el("dt", {}, "Description"), el("dd", { id: "ep-description" }, ep.description || "—"),
        el("dt", {}, "Status"), el("dd", { id: "ep-status" }, ep.disabled ? [badge("disabled"), " ", ep.disabled_reason || ""] : badge("enabled")),
        el("dt", {}, "Event types"), el("dd", {}, typesText(ep.event_types)),
        routingProps(ep),
        el("dt", {}, "Created"), el("dd", {}, when(ep.created_at)),
      ]);
    }
    showProps(ep);
    const stats = el("p", { id: "ep-stats", class: "muted" }, "…");
    append(main, [el("p", {}, el("a", { href: "./" }, "← Endpoints")), el("h1", { class: "url" }, ep.url), props, stats]);
    const loadStats = () => api("GET", "stats?endpoint_id=" + enc(id)).then((s) => {
      const c = s.counts || {};
      stats.textContent = "Last 24 h: " + (s.attempts ? pct(s.success_rate) + " of " + s.attempts + " attempts succeeded, latency p50 " + s.latency_p50_ms + " ms, p95 " + s.latency_p95_ms + " ms" : "no attempts") +
        ". Deliveries: " + (c.pending || 0) + " pending, " + (c.succeeded || 0) + " succeeded, " + (c.failed || 0) + " failed.";
    }).catch((e) => (stats.textContent = e.message));
    loadStats();

    const actions = el("div", { class: "actions" });
    const testOut = el("div", { id: "test-result", "aria-live": "polite" });
    main.append(actions);
    if (can("send")) {
      const sendable = types.filter((t) => t.example !== undefined && t.example !== null);
      const pick = el("select", { id: "test-type", "aria-label": "Event type of the test" },
        el("option", { value: "" }, "Generic test (webhook.test)"),
        groupsOf(sendable).map(([g, members]) => {
          const opts = members.map(([t]) => el("option", { value: t.name }, t.name + (t.deprecated ? " (deprecated)" : "")));
          return g ? el("optgroup", { label: g }, opts) : opts;
        }));
      if (sendable.length) actions.append(pick);
      actions.append(button("Send test event", (ev) => busy(ev.target, async () => {
        const chosen = sendable.length ? pick.value : "";
        say("Sending a test event" + (chosen ? " of type " + chosen : "") + "…");
        const a = await api("POST", "endpoints/" + enc(id) + "/test", chosen ? { event_type: chosen } : undefined);
        clear(testOut).append(el("h2", {}, "Test event"), attemptBlock(a));
        say(a.status_code >= 200 && a.status_code < 300 ? "Test event delivered." : "Test event failed: " + (a.error || a.status_code), !(a.status_code >= 200 && a.status_code < 300));
        loadDeliveries(); loadStats();
      }), "", { id: "send-test" }));
    }
    if (can("manage")) {
      const toggle = button(ep.disabled ? "Enable" : "Disable", (ev) => busy(ev.target, async () => {
        let next;
        if (ep.disabled) next = await api("POST", "endpoints/" + enc(id) + "/enable");
        else {
          const reason = window.prompt("Why disable it? (shown to everyone who sees this endpoint)", "disabled by hand");
          if (reason === null) return;
          next = await api("POST", "endpoints/" + enc(id) + "/disable", { reason });
        }
        Object.assign(ep, next); showProps(ep);
        toggle.textContent = ep.disabled ? "Enable" : "Disable";
        say(ep.disabled ? "Endpoint disabled." : "Endpoint enabled.");
      }), "secondary", { id: "toggle" });
      actions.append(toggle, button("Delete", (ev) => busy(ev.target, async () => {
        if (!window.confirm("Delete this endpoint with its deliveries and attempts?")) return;
        await api("DELETE", "endpoints/" + enc(id));
        location.href = "./";
      }), "danger"));
    }
    main.append(testOut);

    if (cfg.canReveal) main.append(secretSection(id));
    // Replace, not merge: the answer leaves out fields that are off or empty (ordered, filter, format).
    if (can("manage")) main.append(editForm(ep, types, formats, (next) => { Object.keys(ep).forEach((k) => delete ep[k]); Object.assign(ep, next); showProps(ep); clear(main.querySelector("h1.url")).append(ep.url); }));
    if (can("send")) main.append(recoverForm(id, () => loadDeliveries()), replayForm(id, () => loadDeliveries()));

    const dtable = el("tbody");
    main.append(el("h2", {}, "Recent deliveries"), el("div", { class: "table-wrap" }, el("table", { class: "responsive", id: "deliveries" },
      el("thead", {}, el("tr", {}, ["Created", "Event type", "State", "Attempts", "Last result", "Next attempt"].map((h) => el("th", { scope: "col" }, h)))), dtable)));
    async function loadDeliveries() {
      const r = await api("GET", "deliveries?limit=50&endpoint_id=" + enc(id));
      clear(dtable);
      if (!r.data.length) dtable.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No deliveries yet.")));
      for (const d of r.data) dtable.append(deliveryRow(d));
    }
    await loadDeliveries();
    every(5000, () => { if (!document.hidden) { loadDeliveries().catch(() => {}); loadStats(); } });
  }

  function deliveryRow(d) {
    return el("tr", { "data-delivery-id": d.id },
      el("td", { "data-label": "Created" }, el("a", { href: "deliveries/" + enc(d.id) }, when(d.created_at))),
      el("td", { "data-label": "Event type" }, d.event_type),
      el("td", { "data-label": "State" }, badge(d.state)),
      el("td", { "data-label": "Attempts" }, String(d.attempts)),
      el("td", { class: "wrap", "data-label": "Last result" }, d.last_status_code ? String(d.last_status_code) + " " : "", d.last_error || ""),
      el("td", { "data-label": "Next attempt" }, d.waiting_for ? waitingFor(d) : d.state === "pending" ? when(d.next_attempt_at) : "—"));
  }

  function secretSection(id) {
    const out = el("p", { class: "secret", id: "secret-value" }, "hidden");
    const sec = el("section", { class: "card", id: "secret" }, el("h2", {}, "Signing secret"), out);
    const acts = el("div", { class: "actions" }, button("Reveal secret", (ev) => busy(ev.target, async () => {
      const s = await api("GET", "endpoints/" + enc(id) + "/secret");
      out.textContent = s.secret;
    }), "secondary", { id: "reveal" }));
    if (can("manage")) {
      acts.append(button("Rotate secret", (ev) => busy(ev.target, async () => {
        if (!window.confirm("Make a new secret? The old one keeps signing beside it for a day so receivers can switch.")) return;
        const s = await api("POST", "endpoints/" + enc(id) + "/rotate-secret", {});
        out.textContent = s.secret;
        say("Secret rotated" + (s.previous_secret_expires_at ? "; the old one signs too until " + when(s.previous_secret_expires_at) : "") + ".");
      }), "secondary", { id: "rotate" }));
    }
    sec.append(acts);
    return sec;
  }

  function editForm(ep, types, formats, done) {
    const url = el("input", { type: "url", required: true, value: ep.url });
    const desc = el("input", { type: "text", maxlength: 1024, value: ep.description });
    const chooser = eventTypeChooser(types, ep.event_types);
    chooser.querySelectorAll("input").forEach((i) => { i.id = "edit-" + i.id; });
    chooser.querySelectorAll("label[for]").forEach((l) => l.setAttribute("for", "edit-" + l.getAttribute("for")));
    const submit = el("button", { type: "submit" }, "Save");
    const routing = routingInputs(ep, formats);
    const form = el("form", { class: "card", id: "edit-endpoint" }, el("h2", {}, "Edit"), field("URL", url), field("Description", desc), chooser, routing.fields, el("div", { class: "actions" }, submit));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const next = await api("PATCH", "endpoints/" + enc(ep.id), Object.assign({ url: url.value.trim(), description: desc.value, event_types: chooser.value() }, routing.value()));
        done(next);
        say("Saved.");
      });
    });
    return form;
  }

  function recoverForm(id, done) {
    const since = el("input", { type: "datetime-local", required: true, value: localInput(new Date(Date.now() - 24 * 3600e3)) });
    const submit = el("button", { type: "submit", class: "secondary" }, "Retry failed deliveries");
    const form = el("form", { class: "card", id: "recover" }, el("h2", {}, "Retry failed deliveries"), field("Failed since", since, "Every delivery that failed for good and was created since then is sent again."), el("div", { class: "actions" }, submit));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const r = await api("POST", "endpoints/" + enc(id) + "/recover", { since: new Date(since.value).toISOString() });
        say(r.requeued + " deliveries sent again.");
        done();
      });
    });
    return form;
  }
  // Routing: channels, filter, format and delivery order of an endpoint, and replay.
  function routingProps(ep) {
    return [
      el("dt", {}, "Delivery order"), el("dd", { id: "ep-ordered" }, ep.ordered ? "ordered: one at a time per ordering key, in publish order" : "unordered"),
      el("dt", {}, "Channels"), el("dd", { id: "ep-channels" }, ep.channels && ep.channels.length ? ep.channels.join(", ") : "all"),
      el("dt", {}, "Filter"), el("dd", { id: "ep-filter" }, ep.filter ? el("code", {}, ep.filter) : "none"),
      el("dt", {}, "Format"), el("dd", { id: "ep-format" }, ep.format || "default (Standard Webhooks)"),
    ];
  }
  function routingInputs(ep, formats) {
    const channels = el("input", { type: "text", id: "edit-channels", value: (ep.channels || []).join(", "), placeholder: "eu, store:7" });
    const filter = el("textarea", { id: "edit-filter", rows: 2, maxlength: 4096, spellcheck: "false", placeholder: "data.amount >= 100" });
    filter.value = ep.filter || "";
    const format = el("select", { id: "edit-format" }, el("option", { value: "" }, "default (Standard Webhooks)"),
      (formats || []).map((f) => el("option", { value: f }, f)));
    format.value = ep.format || "";
    const ordered = orderedBox("edit-ordered", ep.ordered);
    return {
      fields: [
        field("Channels", channels, "Comma-separated; empty: every message."),
        field("Filter", filter, "An expression over type, tenant, channels, metadata and data; empty: everything."),
        field("Body format", format), ordered.field,
      ],
      value: () => ({ channels: channels.value.split(",").map((c) => c.trim()).filter((c) => c), filter: filter.value.trim(), format: format.value, ordered: ordered.box.checked }),
    };
  }
  function orderedBox(id, checked) {
    const box = el("input", { type: "checkbox", id, checked: !!checked });
    return { box, field: el("div", { class: "field" }, el("label", { for: id }, box, " Ordered delivery"),
      el("div", { class: "muted" }, "Messages with the same ordering key go out one at a time, in publish order; unticking releases the waiting ones.")) };
  }
  // waitingFor links the head an ordered delivery waits behind.
  function waitingFor(d) { return el("span", { class: "waiting-for" }, "waiting for ", el("a", { href: "deliveries/" + enc(d.waiting_for) }, el("code", {}, d.waiting_for))); }
  function replayForm(id, done) {
    const since = el("input", { type: "datetime-local", id: "replay-since", required: true, value: localInput(new Date(Date.now() - 24 * 3600e3)) });
    const submit = el("button", { type: "submit", class: "secondary", id: "replay-submit" }, "Replay missed messages");
    const form = el("form", { class: "card", id: "replay" }, el("h2", {}, "Replay missed messages"),
      field("Since", since, "Every message since then that this endpoint subscribes to now and never got is queued for it, once."), el("div", { class: "actions" }, submit));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const r = await api("POST", "endpoints/" + enc(id) + "/replay", { since: new Date(since.value).toISOString() });
        say(r.queued + " missed messages queued.");
        done();
      });
    });
    return form;
  }
  function localInput(d) {
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  function attemptBlock(a) {
    const ok = a.status_code >= 200 && a.status_code < 300;
    const hdrs = Object.entries(a.request_headers || {}).sort();
    return el("div", { class: "attempt " + (ok ? "ok" : "bad"), "data-attempt": a.number },
      el("dl", { class: "props" },
        el("dt", {}, "Attempt"), el("dd", {}, String(a.number)),
        el("dt", {}, "Time"), el("dd", {}, when(a.started_at)),
        el("dt", {}, "Duration"), el("dd", {}, a.duration_ms + " ms"),
        el("dt", {}, "Status"), el("dd", { class: ok ? "succeeded" : "failed" }, a.status_code ? String(a.status_code) : "no response"),
        a.error ? [el("dt", {}, "Error"), el("dd", { class: "attempt-error" }, a.error)] : null),
      el("details", {}, el("summary", {}, "Response body"), el("pre", { class: "response" }, a.response || "(empty)")),
      hdrs.length ? el("details", {}, el("summary", {}, "Headers sent"), el("pre", { class: "headers" }, hdrs.map(([k, v]) => k + ": " + v).join("\n"))) : null);
  }

  // ---- one delivery ----
  async function deliveryView(id) {
    append(main, [el("p", {}, el("a", { href: "./" }, "← Endpoints"))]);
    const box = el("div");
    main.append(box);
    let lastSeen = -1;
    async function load() {
      const d = await api("GET", "deliveries/" + enc(id));
      if (d.attempts === lastSeen && d.state !== "pending") return d;
      lastSeen = d.attempts;
      clear(box);
      const acts = el("div", { class: "actions" });
      if (can("send")) {
        acts.append(button("Redeliver", (ev) => busy(ev.target, async () => {
          const before = d.attempts;
          await api("POST", "deliveries/" + enc(id) + "/redeliver");
          say("Redelivery queued; waiting for its attempt…");
          const t = every(1000, async () => {
            const n = await load().catch(() => null);
            if (n && n.attempts > before && n.state !== "pending") { clearInterval(t); say("Redelivered: " + n.state + "."); }
          });
        }), "", { id: "redeliver" }));
      }
      const msg = d.message || {};
      append(box, [
        el("h1", {}, "Delivery ", el("code", {}, d.id)),
        el("dl", { class: "props" },
          el("dt", {}, "State"), el("dd", { id: "delivery-state" }, badge(d.state)),
          el("dt", {}, "Event type"), el("dd", {}, d.event_type),
          el("dt", {}, "Message (webhook-id)"), el("dd", {}, el("a", { href: "messages/" + enc(d.message_id) }, d.message_id)),
          el("dt", {}, "Endpoint"), el("dd", {}, el("a", { href: "endpoints/" + enc(d.endpoint_id) }, d.endpoint_id)),
          el("dt", {}, "Attempts"), el("dd", { id: "delivery-attempts" }, String(d.attempts)),
          el("dt", {}, "Next attempt"), el("dd", { id: "delivery-next" }, d.waiting_for ? waitingFor(d) : d.state === "pending" ? when(d.next_attempt_at) : "—"),
          d.ordered ? [el("dt", {}, "Ordering key"), el("dd", { id: "delivery-key" }, d.ordering_key ? el("code", {}, d.ordering_key) : "none")] : null,
          el("dt", {}, "Created"), el("dd", {}, when(d.created_at))),
        acts,
        el("h2", {}, "Payload"), el("pre", { id: "payload" }, pretty(msg.payload)),
        el("h2", {}, "Attempts"),
        d.attempt_log.length ? d.attempt_log.slice().reverse().map(attemptBlock) : el("p", { class: "muted" }, "No attempt yet."),
      ]);
      return d;
    }
    const d = await load();
    document.title = document.title.split(" · ")[0] + " · " + d.id;
    every(5000, () => { if (!document.hidden) load().catch(() => {}); });
  }

  // ---- one message: where it went ----
  async function messageView(id) {
    const m = await api("GET", "messages/" + enc(id));
    document.title = document.title.split(" · ")[0] + " · " + m.id;
    append(main, [
      el("p", {}, el("a", { href: "./" }, "← Endpoints")),
      el("h1", {}, "Message ", el("code", {}, m.id)),
      el("dl", { class: "props" }, el("dt", {}, "Event type"), el("dd", {}, m.event_type), el("dt", {}, "Created"), el("dd", {}, when(m.created_at)),
        cfg.operator ? [el("dt", {}, "Tenant"), el("dd", {}, m.tenant)] : null),
      el("h2", {}, "Deliveries"),
      m.deliveries.length === 0 ? el("p", { class: "muted" }, "No endpoint was subscribed to it.") :
        el("div", { class: "table-wrap" }, el("table", { class: "responsive" },
          el("thead", {}, el("tr", {}, ["Endpoint", "State", "Attempts", "Last result", ""].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, m.deliveries.map((d) => el("tr", {},
            el("td", { "data-label": "Endpoint" }, el("a", { href: "endpoints/" + enc(d.endpoint_id) }, d.endpoint_id)),
            el("td", { "data-label": "State" }, badge(d.state)),
            el("td", { "data-label": "Attempts" }, String(d.attempts)),
            el("td", { class: "wrap", "data-label": "Last result" }, d.last_status_code ? String(d.last_status_code) + " " : "", d.last_error || ""),
            el("td", {}, el("a", { href: "deliveries/" + enc(d.id) }, "Details"))))))),
      el("h2", {}, "Payload"), el("pre", {}, pretty(m.payload)),
    ]);
  }

  route();
})();
