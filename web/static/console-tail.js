// The audit log's live tail, an optional script: every few seconds it
// asks the console for the events after the newest one shown and puts
// them at the top of the list. Without it the "Show newer events" link
// reloads the first page.
"use strict";
(function () {
  var tail = document.getElementById("tail");
  var rows = document.getElementById("log-rows");
  if (!tail || !rows || !window.fetch) {
    return;
  }
  var from = tail.getAttribute("data-from");
  var params = ["type", "user", "app"];
  function cell(tr, text, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    tr.appendChild(td);
  }
  function poll() {
    var q = new URLSearchParams({ from: from });
    params.forEach(function (p) {
      var v = tail.getAttribute("data-" + p);
      if (v) { q.set(p, v); }
    });
    fetch("/admin/logs/tail?" + q.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
          throw new Error("tail " + r.status);
        }
        return r.json();
      })
      .then(function (data) {
        from = data.next || from;
        for (var i = 0; i < data.events.length; i++) {
          var e = data.events[i];
          var tr = document.createElement("tr");
          tr.className = "new";
          cell(tr, e.date, e.url);
          cell(tr, e.type + (e.description ? " — " + e.description : ""));
          cell(tr, e.user);
          cell(tr, e.app);
          rows.insertBefore(tr, rows.firstChild);
        }
        if (data.events.length) {
          tail.textContent = data.events.length + " new event" + (data.events.length > 1 ? "s" : "") + " added at the top.";
        }
        setTimeout(poll, 3000);
      })
      .catch(function () {
        tail.textContent = "Live updates stopped; reload the page for newer events.";
      });
  }
  tail.textContent = "Live: newer events appear at the top.";
  setTimeout(poll, 3000);
})();
