// Refresh the study panel in place every few seconds (no page reload, scroll position kept).
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  if (!panel) { return; }
  var state = document.getElementById("refresh-state");
  var seconds = parseInt(panel.dataset.refreshSeconds, 10) || 10;

  function refresh() {
    fetch(panel.dataset.url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        panel.innerHTML = html;
        panel.dataset.refreshed = String(Date.now());
        state.textContent = "Refreshes every " + seconds + " seconds; last at " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function (error) {
        state.textContent = "Could not refresh (" + error.message + "); retrying in " + seconds + " seconds.";
      })
      .finally(function () { window.setTimeout(refresh, seconds * 1000); });
  }
  window.setTimeout(refresh, seconds * 1000);
})();
