// Refreshes the overview's counts in place (the page reads fine without this).
// Values go in with textContent only: nothing fetched is ever parsed as HTML.
(function () {
  "use strict";
  var root = document.body.dataset.root || "";
  var stamp = document.getElementById("refreshed");
  var every = (stamp && Number(stamp.dataset.every)) || 5;

  function num(v) { return v === null || v === undefined ? "-" : v.toLocaleString("en-US"); }
  function age(v) {
    if (v === null || v === undefined) { return "-"; }
    var s = Math.floor(v);
    var units = [["d", 86400, "h", 3600], ["h", 3600, "m", 60], ["m", 60, "s", 1]];
    for (var i = 0; i < units.length; i++) {
      var u = units[i];
      if (s >= u[1]) { return Math.floor(s / u[1]) + u[0] + " " + Math.floor((s % u[1]) / u[3]) + u[2]; }
    }
    return s + "s";
  }
  function fill(rows, attr) {
    rows.forEach(function (row) {
      var tr = Array.prototype.find.call(document.querySelectorAll("tr[" + attr + "]"),
        function (el) { return el.getAttribute(attr) === row.name; });
      if (!tr) { return; }
      tr.querySelectorAll("[data-field]").forEach(function (cell) {
        var field = cell.dataset.field;
        var text = field === "oldest_pending_seconds" ? age(row[field]) : num(row[field]);
        var target = cell.querySelector("a") || cell;
        target.textContent = text;
      });
    });
  }
  function get(path) {
    return fetch(root + path, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }
  function refresh() {
    Promise.all([get("/api/queues"), get("/api/workers")]).then(function (got) {
      fill(got[0], "data-queue");
      fill(got[1], "data-worker");
      if (stamp) { stamp.textContent = "updated " + new Date().toLocaleTimeString(); }
    }).catch(function (err) {
      if (stamp) { stamp.textContent = "refresh failed (" + err.message + ")"; }
    });
  }
  setInterval(refresh, every * 1000);
})();
