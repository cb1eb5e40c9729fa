// netwarden report: builds the matrix grid from the embedded data, wires the filters and
// shows the explain walk of a cell. No dependencies, no network.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("nw-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var MAX_CELLS = 160000; // a 400 x 400 grid; past it, ask for a filter

  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (k === "text") e.textContent = attrs[k];
        else if (k === "cls") e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c == null) continue;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }

  var state = { ns: D.namespaces.map(function () { return true; }), port: "", name: "", hideOpen: false, selected: null };

  var STATE_TEXT = {
    allowed: "allowed by a policy", open: "allowed: nothing restricts it", denied: "denied",
    partial: "allowed on some ports", mixed: "mixed: members disagree", none: "not probed on this port"
  };
  var CH = { A: "allowed", a: "open", D: "denied", M: "mixed" };
  // Marks of what enforcing the audit (staged) policies would change (D.audit).
  var AUDIT = D.audit || {};
  var WITH_AUDIT = D.view === "with-audit";
  var AUDIT_TEXT = WITH_AUDIT ?
    { "audit-deny": "! allowed today (the audit policies deny it)", "audit-allow": "! denied today (the audit policies allow it)", "audit-mixed": "! differs from today for some member pairs" } :
    { "audit-deny": "! audit policies would deny it", "audit-allow": "! audit policies would allow it", "audit-mixed": "! audit policies would deny some member pairs, allow others" };

  // cellAudit is the audit mark class of a cell under the port filter, or "".
  function cellAudit(from, to) {
    var ports = D.groups[to].ports, deny = 0, allow = 0;
    for (var k = 0; k < ports.length; k++) {
      if (state.port !== "" && +state.port !== ports[k]) continue;
      var a = AUDIT[from + "," + to + "," + k];
      if (a) { deny += a[0]; allow += a[1]; }
    }
    if (deny && allow) return "audit-mixed";
    if (deny) return "audit-deny";
    if (allow) return "audit-allow";
    return "";
  }

  // cellState is the colour of a cell under the port filter.
  function cellChars(from, to) {
    var g = D.groups[to];
    return D.rows[from].substr(g.off, g.ports.length);
  }

  function cellState(from, to) {
    var s = cellChars(from, to), ports = D.groups[to].ports;
    if (state.port !== "") {
      var k = ports.indexOf(+state.port);
      return k < 0 ? "none" : CH[s[k]];
    }
    if (s.indexOf("M") >= 0) return "mixed";
    var allowed = 0, policy = false;
    for (var i = 0; i < s.length; i++) {
      if (s[i] === "A" || s[i] === "a") allowed++;
      if (s[i] === "A") policy = true;
    }
    if (s.length === 0) return "none";
    if (allowed === 0) return "denied";
    if (allowed < s.length) return "partial";
    return policy ? "allowed" : "open";
  }

  // restricted: some cell in the group's row or column is not plain "nothing restricts it".
  var restricted = D.groups.map(function (_, g) {
    for (var o = 0; o < D.groups.length; o++) {
      if (o !== g && (/[ADM]/.test(cellChars(g, o)) || /[ADM]/.test(cellChars(o, g)))) return true;
    }
    return false;
  });

  function visibleGroups() {
    var q = state.name.toLowerCase(), out = [];
    D.groups.forEach(function (g, i) {
      if (!state.ns[g.ns]) return;
      if (q && g.name.toLowerCase().indexOf(q) < 0) return;
      if (state.hideOpen && !restricted[i]) return;
      out.push(i);
    });
    return out;
  }

  function groupLabel(g) {
    var grp = D.groups[g];
    return el("span", null, el("span", { cls: "ns", text: D.namespaces[grp.ns] + "/" }), grp.label);
  }

  function renderSummary() {
    var unit = D.groupBy === "workloads" ? "workloads" : "pods";
    $("summary").textContent = D.podCount + " pods as " + D.groups.length + " " + unit + " in " + D.namespaces.length +
      " namespace" + (D.namespaces.length === 1 ? "" : "s") + "; " + D.policyCount + " polic" + (D.policyCount === 1 ? "y" : "ies") +
      "; probed on " + (D.ports.join(", ") || "no ports") + ". Explanations embedded for " + D.explainShown + " of " +
      D.explainTotal + " cells and ports" + (D.explainShown < D.explainTotal ? " (limit " + D.explainLimit + ": mixed and denied cells first; the rest give the explain command)" : "") + ".";
    D.warnings.forEach(function (w) { $("warnings").appendChild(el("li", { text: w })); });
    D.notes.forEach(function (n) { $("graph-notes").appendChild(el("p", { text: n })); });
    if (D.mermaid) $("mermaid-src").textContent = D.mermaid;
    else $("mermaid-details").style.display = "none";
    var legend = $("legend");
    ["allowed", "open", "denied", "partial", "mixed", "none"].forEach(function (s) {
      legend.appendChild(el("span", null, el("span", { cls: "sw " + s }), STATE_TEXT[s]));
    });
    if (Object.keys(AUDIT).length) {
      ["audit-deny", "audit-allow", "audit-mixed"].forEach(function (a) {
        legend.appendChild(el("span", null, el("span", { cls: "sw none " + a }), AUDIT_TEXT[a]));
      });
    }
    if (WITH_AUDIT) legend.appendChild(el("span", { text: "verdicts as if the audit (staged) policies were enforced" }));
    legend.appendChild(el("span", { text: "rows: from, columns: to" }));
  }

  function renderControls() {
    var fs = $("ns-filter");
    D.namespaces.forEach(function (ns, i) {
      var cb = el("input", { type: "checkbox", "data-ns": String(i) });
      cb.checked = state.ns[i];
      cb.addEventListener("change", function () { state.ns[i] = cb.checked; update(); });
      fs.appendChild(el("label", null, cb, " " + ns));
    });
    if (D.namespaces.length > 2) {
      [["all", true], ["none", false]].forEach(function (b) {
        var btn = el("button", { type: "button", text: b[0] });
        btn.addEventListener("click", function () {
          state.ns = state.ns.map(function () { return b[1]; });
          fs.querySelectorAll("input").forEach(function (cb) { cb.checked = b[1]; });
          update();
        });
        fs.appendChild(btn);
      });
    }
    var sel = $("port-filter");
    D.ports.forEach(function (p, i) { sel.appendChild(el("option", { value: String(i), text: p })); });
    sel.addEventListener("change", function () { state.port = sel.value; update(); });
    $("name-filter").addEventListener("input", function (ev) { state.name = ev.target.value; update(); });
    $("hide-default").addEventListener("change", function (ev) { state.hideOpen = ev.target.checked; update(); });
  }

  function renderMatrix() {
    var box = $("matrix");
    box.textContent = "";
    var vis = visibleGroups();
    if (vis.length === 0) {
      box.appendChild(el("p", { cls: "hint", text: "No group matches the filters." }));
      return;
    }
    if (vis.length * vis.length > MAX_CELLS) {
      box.appendChild(el("p", { cls: "hint", text: vis.length + " groups are too many for one grid; choose namespaces or a name filter (at most " + Math.floor(Math.sqrt(MAX_CELLS)) + ")." }));
      return;
    }
    var table = el("table");
    var head = el("tr", null, el("th", { cls: "corner", text: "from \\ to" }));
    vis.forEach(function (g) {
      head.appendChild(el("th", { scope: "col", title: D.groups[g].name }, el("div", null, groupLabel(g))));
    });
    table.appendChild(el("thead", null, head));
    var body = el("tbody");
    vis.forEach(function (from) {
      var tr = el("tr", null, el("th", { scope: "row", title: D.groups[from].name }, groupLabel(from)));
      vis.forEach(function (to) {
        var s = cellState(from, to), a = cellAudit(from, to);
        var td = el("td", { cls: "cell " + s + (from === to ? " self" : "") + (a ? " " + a : ""), "data-from": String(from), "data-to": String(to),
          title: D.groups[from].name + " → " + D.groups[to].name + ": " + STATE_TEXT[s] + (a ? "; " + AUDIT_TEXT[a] : "") });
        if (state.selected && state.selected[0] === from && state.selected[1] === to) td.classList.add("selected");
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    table.addEventListener("click", function (ev) {
      var td = ev.target.closest("td.cell");
      if (td) select(+td.dataset.from, +td.dataset.to);
    });
    box.appendChild(table);
  }

  function filterGraph() {
    var svg = $("graph-svg");
    if (!svg) return;
    var portName = state.port === "" ? "" : D.ports[+state.port];
    svg.querySelectorAll("[data-ns]").forEach(function (n) {
      var ns = +n.getAttribute("data-ns");
      n.classList.toggle("hidden", ns >= 0 && !state.ns[ns]);
    });
    svg.querySelectorAll("[data-nss]").forEach(function (n) {
      var off = n.getAttribute("data-nss").split(" ").some(function (i) { return !state.ns[+i]; });
      var ports = n.getAttribute("data-ports");
      var portOff = portName !== "" && ports !== null && ports.split(",").indexOf(portName) < 0;
      n.classList.toggle("hidden", off || portOff);
    });
  }

  function update() {
    renderMatrix();
    filterGraph();
  }

  function select(from, to) {
    state.selected = [from, to];
    document.querySelectorAll("#matrix td.selected").forEach(function (td) { td.classList.remove("selected"); });
    var td = document.querySelector('#matrix td[data-from="' + from + '"][data-to="' + to + '"]');
    if (td) td.classList.add("selected");
    showExplain(from, to);
  }

  function showExplain(from, to) {
    var panel = $("explain");
    panel.textContent = "";
    var gf = D.groups[from], gt = D.groups[to];
    panel.appendChild(el("h3", null, gf.name, " → ", gt.name));
    var pairs = from === to ? (gf.pods.length === 1 ? 1 : gf.pods.length * (gf.pods.length - 1)) : gf.pods.length * gt.pods.length;
    if (gf.pods.length > 1 || gt.pods.length > 1) {
      panel.appendChild(el("p", { cls: "muted", text: gf.pods.length + " × " + gt.pods.length + " pods: " + pairs + " member pairs (a pod with itself left out). A walk is shown for one member pair per verdict." }));
    }
    var ports = gt.ports;
    if (ports.length === 0) panel.appendChild(el("p", { cls: "hint", text: "No port probed." }));
    ports.forEach(function (p, k) {
      if (state.port !== "" && +state.port !== p) return;
      var ch = cellChars(from, to)[k], s = CH[ch];
      var div = el("div", { cls: "port" });
      var head = el("div", null, el("b", { text: D.ports[p] }), el("span", { cls: "badge " + s, text: STATE_TEXT[s] }));
      div.appendChild(head);
      var key = from + "," + to + "," + k;
      if (AUDIT[key]) {
        var au = AUDIT[key], txt = [];
        if (au[0]) txt.push(au[0] + " member pair" + (au[0] === 1 ? "" : "s") + (WITH_AUDIT ? " allowed today" : " the audit (staged) policies would deny"));
        if (au[1]) txt.push(au[1] + " member pair" + (au[1] === 1 ? "" : "s") + (WITH_AUDIT ? " denied today" : " the audit (staged) policies would allow"));
        div.appendChild(el("p", { cls: "audit-note", text: "! " + txt.join("; ") + "." }));
      }
      if (ch === "M" && D.pairs[key]) {
        div.appendChild(el("p", { cls: "muted", text: D.pairs[key][0] + " of " + D.pairs[key][1] + " member pairs are allowed: the members are not equivalent (an ipBlock, a named port or labels tell them apart)." }));
      }
      var xs = D.explain[key];
      if (xs) {
        xs.forEach(function (x) { div.appendChild(renderWalk(x)); });
      } else {
        var cmd = "netwarden explain " + (D.input || "-f …") + " --from " + gf.pods[0] + " --to " + gt.pods[from === to && gt.pods.length > 1 ? 1 : 0] + " --port " + D.ports[p];
        div.appendChild(el("p", { cls: "hint" }, "Explanation not embedded (the report keeps at most " + D.explainLimit + "). Run: ", el("code", { text: cmd })));
      }
      panel.appendChild(div);
    });
  }

  function renderWalk(x, inline) {
    var w = el("div", { cls: "walk" });
    var ok = x.allowed;
    w.appendChild(el("div", null, x.from.pod || x.from.ip, " → ", x.to.pod || x.to.ip, " on " + x.port + ": ",
      el("span", { cls: "verdict " + (ok ? "allowed-text" : "denied-text"), text: ok ? "ALLOWED" : "DENIED" })));
    [[x.egress, x.egressSteps, 0], [x.ingress, x.ingressSteps, 1]].forEach(function (pair) {
      var d = pair[0], steps = inline ? inline[pair[2]] : D.steps[pair[1]] || [];
      var dir = el("div", { cls: "dir" }, el("b", { text: d.direction }), ": " + (d.allowed ? "allow" : "deny") + " — " + d.summary);
      if (steps.length) {
        var ol = el("ol");
        steps.forEach(function (s) {
          var rule = s.rule >= 0 ? d.direction + "[" + s.rule + "]" + (s.ruleName ? ' "' + s.ruleName + '"' : "") + " " + s.action : "(no rules)";
          var prio = s.priority != null ? " priority " + s.priority : "";
          var res = s.matched ? "MATCH → " + s.action : "no match";
          ol.appendChild(el("li", { cls: "step" + (s.matched ? " match" : "") },
            "[" + s.tier + prio + "] " + s.policy + " " + rule + ": " + res,
            el("div", { cls: "detail", text: s.detail })));
        });
        dir.appendChild(ol);
      }
      w.appendChild(dir);
    });
    (x.warnings || []).forEach(function (m) { w.appendChild(el("p", { cls: "muted", text: "warning: " + m })); });
    if (x.audit) {
      // The walk with the audit (staged) policies enforced; its steps are inline.
      var a = x.audit;
      a.egressSteps = -1; a.ingressSteps = -1;
      var inner = renderWalk(a, [a.egress.steps || [], a.ingress.steps || []]);
      w.appendChild(el("div", { cls: "audit-walk" }, el("b", { text: "With the audit (staged) policies enforced:" }), inner));
    }
    return w;
  }

  function wireGraph() {
    var svg = $("graph-svg");
    if (!svg) return;
    svg.addEventListener("click", function (ev) {
      var e = ev.target.closest ? ev.target.closest("g.edge") : null;
      if (!e) return;
      var c = e.getAttribute("data-cell").split(",");
      select(+c[0], +c[1]);
      $("explain").scrollIntoView({ block: "nearest" });
    });
    svg.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && ev.target.closest && ev.target.closest("g.edge")) ev.target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    });
  }

  function groupByName(name) {
    for (var i = 0; i < D.groups.length; i++) if (D.groups[i].name === name) return i;
    return -1;
  }

  // #selftest runs the page's own checks and writes the result into the DOM, where a
  // headless browser's --dump-dom shows it (see html_browser_test.go).
  function selfTest() {
    var checks = [];
    function check(name, ok, detail) { checks.push({ name: name, ok: !!ok, detail: detail || "" }); }
    var rows = function () { return document.querySelectorAll("#matrix tbody tr").length; };
    var vis = visibleGroups().length;
    check("the grid has a cell for every pair", document.querySelectorAll("#matrix td.cell").length === vis * vis, vis + " groups");
    var target = document.querySelector("#matrix td.cell.denied, #matrix td.cell.mixed, #matrix td.cell.partial");
    check("some cell is denied", target);
    var text = "";
    if (target) {
      target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      text = $("explain").textContent;
      check("clicking it shows the explain walk", /DENIED/.test(text) && $("explain").querySelectorAll("li.step, .dir").length > 0, text.slice(0, 300));
      check("the clicked cell is marked", target.classList.contains("selected"));
    }
    var edge = document.querySelector("#graph-svg g.edge");
    check("the graph has edges (or says why it is not drawn)", edge || !$("graph-svg"));
    if (edge) {
      edge.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      check("clicking an edge explains it", $("explain").querySelector(".walk, code"));
    }
    var cb = document.querySelector("#ns-filter input");
    var before = rows();
    cb.click();
    var after = rows(), hiddenNodes = document.querySelectorAll("#graph-svg .node.hidden").length;
    check("unchecking a namespace hides its rows and nodes", after < before && (hiddenNodes > 0 || !$("graph-svg")), before + " -> " + after + " rows, " + hiddenNodes + " nodes hidden");
    cb.click();
    check("checking it again restores them", rows() === before);
    var sel = $("port-filter");
    if (sel.options.length > 2) {
      sel.value = sel.options[1].value;
      sel.dispatchEvent(new Event("change"));
      check("a port filter leaves destinations not probed on it grey", document.querySelectorAll("#matrix td.cell.none").length > 0 || D.groups.every(function (g) { return g.ports.indexOf(+sel.value) >= 0; }));
      sel.value = "";
      sel.dispatchEvent(new Event("change"));
    }
    if (target) {
      document.querySelector('#matrix td[data-from="' + target.dataset.from + '"][data-to="' + target.dataset.to + '"]').dispatchEvent(new MouseEvent("click", { bubbles: true }));
      text = $("explain").textContent;
    }
    if (Object.keys(AUDIT).length) {
      var marked = document.querySelector("#matrix td.cell.audit-deny, #matrix td.cell.audit-allow, #matrix td.cell.audit-mixed");
      check("a cell the audit policies would change is marked", marked);
      if (marked) {
        marked.dispatchEvent(new MouseEvent("click", { bubbles: true }));
        check("its explanation says what they would change", $("explain").querySelector(".audit-note"), $("explain").textContent.slice(0, 300));
      }
    }
    var ok = checks.every(function (c) { return c.ok; });
    var out = el("pre", { id: "selftest-result", "data-ok": String(ok) });
    out.textContent = JSON.stringify({ ok: ok, checks: checks, explanation: text });
    document.body.appendChild(out);
  }

  // A large cluster opens on the namespaces that fit one grid; the others are a tick away.
  function fitNamespaces() {
    var per = D.namespaces.map(function () { return 0; });
    D.groups.forEach(function (g) { per[g.ns]++; });
    var total = D.groups.length, limit = Math.floor(Math.sqrt(MAX_CELLS));
    for (var i = D.namespaces.length - 1; i > 0 && total > limit; i--) {
      state.ns[i] = false;
      total -= per[i];
    }
    if (total < D.groups.length) {
      $("graph-notes").appendChild(el("p", { cls: "hint", text: "Showing " + total + " of " + D.groups.length +
        " groups: the namespaces unticked above would make the grid too large to draw; tick them to add them." }));
    }
  }

  fitNamespaces();
  renderSummary();
  renderControls();
  wireGraph();
  update();
  var hash = decodeURIComponent(location.hash.slice(1));
  if (hash.indexOf("select=") === 0) {
    var parts = hash.slice(7).split("|"), f = groupByName(parts[0]), t = groupByName(parts[1] || "");
    if (f >= 0 && t >= 0) select(f, t);
  }
  if (hash === "selftest") selfTest();
})();
