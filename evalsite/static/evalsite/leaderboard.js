// The leaderboard page's options: a change of method, interval unit, breakdown or the flagged
// raters' switch shows the page for it at once. Without JavaScript the "Show" button does the same.
(function () {
  "use strict";
  const form = document.getElementById("leaderboard-options");
  if (!form) { return; }
  form.addEventListener("change", function (event) {
    if (!event.target.matches("input")) { return; }
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }  // older browsers
  });
  form.classList.add("auto-submit");
})();
