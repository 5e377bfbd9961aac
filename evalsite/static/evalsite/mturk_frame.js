// An MTurk HIT's frame (ratings/crowd.py): while the worker rates in a tab of their own, ask the
// site every few seconds whether they have finished; then fill in their code and submit the HIT
// from this frame, as MTurk expects. Without JavaScript the worker types the code and submits.
(function () {
  "use strict";
  const box = document.getElementById("mturk-frame");
  if (!box) { return; }
  const form = document.getElementById("mturk-submit");
  const status = document.getElementById("frame-status");
  let done = false;

  function check() {
    fetch(box.dataset.statusUrl, { credentials: "omit", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer || !answer.finished) { setTimeout(check, 4000); return; }
        if (done) { return; }
        done = true;
        if (form) {
          status.textContent = "You have finished. Submitting the HIT…";
          form.elements.code.value = answer.code;
          form.submit();
        } else {
          status.textContent = "You have finished. Your code: " + answer.code;
        }
      }, function () { setTimeout(check, 8000); });
  }
  check();
})();
