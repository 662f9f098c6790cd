// Step-through controls of a tcpwave page. Reads the trace data embedded in the page
// (#trace-data), builds the event table, and on every step highlights the current
// event in the diagram and the table and shows each connection's control block.
// Step -1 is "before the first event"; step i is "right after event i".
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trace-data").textContent);
  var events = data.events;
  var count = events.length;
  var current = -1;
  var player = null;
  var CARDS_MAX = 60;
  var PLAY_MS = 650;

  var hostIndex = {};
  data.hosts.forEach(function (h, i) { hostIndex[h] = i; });

  // Diagram elements that stand for events: data-ev="i j ...".
  var marks = [];
  document.querySelectorAll("#diagram [data-ev]").forEach(function (el) {
    var evs = el.getAttribute("data-ev").split(" ").map(Number);
    marks.push({ el: el, evs: evs, first: Math.min.apply(null, evs) });
    el.addEventListener("click", function () { go(Math.min.apply(null, evs)); });
  });

  // The latest snapshot taken after an event <= i, for every i.
  var snapshotAt = [];
  (function () {
    var snaps = data.snapshots.slice().sort(function (a, b) { return a.after_event - b.after_event; });
    var k = -1;
    for (var i = 0; i < count; i++) {
      while (k + 1 < snaps.length && snaps[k + 1].after_event <= i) k++;
      snapshotAt.push(k >= 0 ? snaps[k] : null);
    }
  })();

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  var tbody = document.querySelector("#events tbody");
  var rows = events.map(function (e, i) {
    var tr = document.createElement("tr");
    tr.className = "k-" + e.kind;
    tr.setAttribute("data-ev", String(i));
    cell(tr, String(i), "num");
    cell(tr, e.t, "num");
    cell(tr, e.host);
    cell(tr, e.kind, "kind");
    cell(tr, e.text, "text");
    tr.addEventListener("click", function () { go(i); });
    tbody.appendChild(tr);
    return tr;
  });

  // Each connection's state after event i, in host order: from the state changes up to
  // i, overridden by the snapshot when it is at least as recent (see html.rs).
  function connectionRows(i) {
    var list = [];
    var byKey = {};
    function set(host, conn, state, at, block) {
      var key = host + "\u0000" + conn;
      var row = byKey[key];
      if (!row) {
        row = { host: host, conn: conn, state: state, at: at, block: block };
        byKey[key] = row;
        list.push(row);
      } else if (row.at <= at) {
        row.state = state;
        row.at = at;
        if (block) row.block = block;
      }
    }
    if (i < 0) return list;
    for (var k = 0; k <= i; k++) {
      var e = events[k];
      if (e.kind === "state") set(e.host, e.conn, e.to, k, null);
    }
    var snap = snapshotAt[i];
    if (snap) {
      snap.blocks.forEach(function (b) { set(b.host, b.conn, b.state, snap.after_event, b); });
    }
    var order = function (h) { return h in hostIndex ? hostIndex[h] : 1e9; };
    list.sort(function (a, b) { return order(a.host) - order(b.host); });
    return list;
  }

  function stateClass(state) {
    var classes = {
      LISTEN: "s-listen", SYN_SENT: "s-syn", SYN_RECEIVED: "s-syn", ESTABLISHED: "s-est",
      FIN_WAIT_1: "s-fin", FIN_WAIT_2: "s-fin", CLOSING: "s-fin", CLOSE_WAIT: "s-wait",
      LAST_ACK: "s-wait", TIME_WAIT: "s-tw"
    };
    return classes[state] || "s-closed";
  }

  function field(parent, name, value) {
    var div = document.createElement("div");
    div.className = "field";
    var label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    var val = document.createElement("span");
    val.className = "value";
    val.textContent = value;
    div.appendChild(label);
    div.appendChild(val);
    parent.appendChild(div);
  }

  function card(row) {
    var div = document.createElement("div");
    div.className = "card";
    div.setAttribute("data-host", row.host);
    div.setAttribute("data-conn", row.conn);
    var head = document.createElement("div");
    head.className = "card-head";
    var host = document.createElement("span");
    host.className = "card-host";
    host.textContent = row.host;
    var state = document.createElement("span");
    state.className = "state " + stateClass(row.state);
    state.textContent = row.state;
    head.appendChild(host);
    head.appendChild(state);
    div.appendChild(head);
    var conn = document.createElement("div");
    conn.className = "card-conn";
    conn.textContent = row.conn.replace("->", " → ");
    div.appendChild(conn);
    var grid = document.createElement("div");
    grid.className = "grid";
    var b = row.block;
    var dash = "–";
    field(grid, "SND.UNA", b ? b.snd_una : dash);
    field(grid, "SND.NXT", b ? b.snd_nxt : dash);
    // null until the connection has the peer's SYN (docs/trace-format.md).
    field(grid, "RCV.NXT", b && b.rcv_nxt != null ? b.rcv_nxt : dash);
    field(grid, "SND.WND", b ? b.snd_wnd : dash);
    field(grid, "RCV.WND", b ? b.rcv_wnd : dash);
    field(grid, "cwnd", b ? b.cwnd : dash);
    div.appendChild(grid);
    var timers = document.createElement("div");
    timers.className = "timers";
    timers.textContent = "timers: " + (b && b.timers.length ? b.timers.join(", ") : "none");
    div.appendChild(timers);
    return div;
  }

  function renderBlocks() {
    var aside = document.getElementById("blocks");
    aside.textContent = "";
    var title = document.createElement("h2");
    title.textContent = "Connection blocks";
    aside.appendChild(title);
    var list = connectionRows(current);
    if (list.length === 0) {
      var p = document.createElement("p");
      p.className = "empty";
      p.textContent = current < 0 ? "Nothing has happened yet. Press → or Next." : "No connection yet.";
      aside.appendChild(p);
      return;
    }
    list.slice(0, CARDS_MAX).forEach(function (row) { aside.appendChild(card(row)); });
    if (list.length > CARDS_MAX) {
      var more = document.createElement("p");
      more.className = "empty";
      more.textContent = "… and " + (list.length - CARDS_MAX) + " more connections";
      aside.appendChild(more);
    }
  }

  // Scrolls `el` into view inside the scrolling `box` (without moving the page).
  function reveal(box, el) {
    if (!box || !el) return;
    var b = box.getBoundingClientRect();
    var r = el.getBoundingClientRect();
    if (r.top < b.top + 20 || r.bottom > b.bottom - 20) {
      box.scrollTop += r.top - b.top - box.clientHeight / 3;
    }
    if (r.left < b.left || r.right > b.right) {
      box.scrollLeft += r.left - b.left - 40;
    }
  }

  function update() {
    var first = null;
    marks.forEach(function (m) {
      var isCurrent = m.evs.indexOf(current) >= 0;
      m.el.classList.toggle("cur", isCurrent);
      m.el.classList.toggle("future", m.first > current);
      if (isCurrent && !first) first = m.el;
    });
    rows.forEach(function (tr, i) {
      tr.classList.toggle("cur", i === current);
      tr.classList.toggle("future", i > current);
    });
    var step = document.getElementById("step");
    var now = document.getElementById("current");
    if (current < 0) {
      step.textContent = "before the first event";
      now.textContent = "";
    } else {
      var e = events[current];
      step.textContent = "event " + (current + 1) + " of " + count;
      now.textContent = e.t + "  " + e.host + "  " + e.kind + "  " + e.text;
    }
    document.getElementById("prev").disabled = current < 0;
    document.getElementById("next").disabled = current >= count - 1;
    renderBlocks();
    if (current < 0) {
      document.getElementById("diagram").scrollTo(0, 0);
      document.getElementById("events-wrap").scrollTo(0, 0);
    } else {
      reveal(document.getElementById("diagram"), first);
      reveal(document.getElementById("events-wrap"), rows[current]);
    }
  }

  function go(i) {
    current = Math.max(-1, Math.min(count - 1, i));
    update();
  }

  function stop() {
    if (player !== null) clearInterval(player);
    player = null;
    document.getElementById("play").textContent = "▶ Play";
  }

  function togglePlay() {
    if (player !== null) { stop(); return; }
    if (current >= count - 1) go(-1);
    document.getElementById("play").textContent = "⏸ Pause";
    player = setInterval(function () {
      if (current >= count - 1) { stop(); return; }
      go(current + 1);
    }, PLAY_MS);
  }

  document.getElementById("next").addEventListener("click", function () { stop(); go(current + 1); });
  document.getElementById("prev").addEventListener("click", function () { stop(); go(current - 1); });
  document.getElementById("play").addEventListener("click", togglePlay);
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var key = e.key;
    if (key === "ArrowRight") { stop(); go(current + 1); }
    else if (key === "ArrowLeft") { stop(); go(current - 1); }
    else if (key === "Home") { stop(); go(-1); }
    else if (key === "End") { stop(); go(count - 1); }
    else if (key === " " && !(e.target && e.target.tagName === "BUTTON")) { togglePlay(); }
    else return;
    e.preventDefault();
  });

  window.tcpwave = { go: go, step: function () { return current; }, connectionRows: connectionRows };
  update();
})();
