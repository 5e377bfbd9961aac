// The rater's page: keyboard answers, one JSON submit per pair that records both answers and
// returns the next pairs, whose images are preloaded before they are shown.
(function () {
  "use strict";
  const app = document.getElementById("rate-app");
  if (!app) { return; }
  const form = document.getElementById("vote-form");
  const submit = document.getElementById("submit");
  const message = document.getElementById("message");
  const leftImage = document.getElementById("left-image");
  const rightImage = document.getElementById("right-image");
  const preloaded = new Map();
  let state = JSON.parse(document.getElementById("rate-state").textContent);
  let shownAt = performance.now();
  let busy = false;

  // A set comparison (pair.kind "set") shows every seed's image of each side in a grid and asks
  // the set questions; a pair shows two images and asks the pair questions.
  function urlsOf(pair) {
    return pair.kind === "set" ? pair.left_set.concat(pair.right_set) : [pair.left, pair.right];
  }

  function fillSet(grid, urls, side) {
    grid.replaceChildren.apply(grid, urls.map(function (url, i) {
      const img = document.createElement("img");
      img.src = url;
      img.alt = side + " set, image " + (i + 1);
      img.setAttribute("width", leftImage.getAttribute("width"));
      img.setAttribute("height", leftImage.getAttribute("height"));
      return img;
    }));
  }

  function showKind(isSet) {
    const pairView = document.getElementById("pair-view");
    const setView = document.getElementById("set-view");
    if (!setView) { return; }
    pairView.hidden = isSet;
    setView.hidden = !isSet;
    document.querySelectorAll("[data-kind]").forEach(function (element) {
      const hide = (element.dataset.kind === "set") !== isSet;
      element.hidden = hide;
      if (element.tagName === "FIELDSET") { element.disabled = hide; }
    });
  }

  function preload(pair) {
    if (!pair || preloaded.has(pair.token)) { return preloaded.get(pair && pair.token); }
    const images = urlsOf(pair).map(function (url) {
      const img = new Image();
      img.src = url;
      return img.decode ? img.decode().catch(function () {}) : Promise.resolve();
    });
    const ready = Promise.all(images);
    preloaded.set(pair.token, ready);
    return ready;
  }

  function say(text) {
    message.textContent = text || "";
    message.hidden = !text;
  }

  function show(next) {
    state = next;
    const pair = state.pairs[0];
    if (!pair) { window.location.assign(state.finish_url); return; }
    const ready = preload(pair);
    preload(state.pairs[1]);
    document.getElementById("progress").textContent = "Pair " + (state.answered + 1) + " of " + state.quota;
    document.getElementById("progress-bar").value = state.answered;
    if (document.getElementById("token").value === pair.token) { return; }
    ready.then(function () {
      document.getElementById("prompt-text").textContent = pair.prompt;
      if (pair.kind === "set") {
        fillSet(document.getElementById("left-set"), pair.left_set, "Left");
        fillSet(document.getElementById("right-set"), pair.right_set, "Right");
      } else {
        leftImage.src = pair.left;
        rightImage.src = pair.right;
      }
      showKind(pair.kind === "set");
      document.getElementById("token").value = pair.token;
      form.reset();
      document.getElementById("token").value = pair.token;
      document.getElementById("report").open = false;
      shownAt = performance.now();
    });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": app.dataset.csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (payload) { return { ok: response.ok, payload: payload }; },
        function () {
          // Not JSON (e.g. a proxy's error page): the answers stay on the page for another try.
          return { ok: false, payload: { message: "The server answered " + response.status + "; your answers may not have been saved. Please press Submit again in a moment." } };
        });
    });
  }

  function send(url, body) {
    if (busy) { return; }
    busy = true;
    submit.disabled = true;
    post(url, body).then(function (result) {
      say(result.ok && result.payload.status !== "reported" ? "" : result.payload.message);
      if (result.payload.pairs) { show(result.payload); }
    }, function () {
      say("Could not reach the server; your answers were not sent. Please press Submit again.");
    }).finally(function () { busy = false; submit.disabled = false; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const answers = {};
    form.querySelectorAll("fieldset[data-criterion]:not([disabled])").forEach(function (fieldset) {
      const checked = fieldset.querySelector("input:checked");
      if (checked) { answers[fieldset.dataset.criterion] = checked.value; }
    });
    send(app.dataset.voteUrl, {
      token: document.getElementById("token").value,
      answers: answers,
      response_ms: Math.round(performance.now() - shownAt),
    });
  });

  document.getElementById("report-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const data = new FormData(event.target);
    send(app.dataset.reportUrl, { token: document.getElementById("token").value, reason: data.get("reason"), note: data.get("note") || "" });
  });

  // A focused link, button or disclosure ("Skip / report", "Withdraw") acts on Enter itself.
  const OWN_ENTER = "a[href], button, summary, select, textarea, input[type=text]";

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (event.target.closest && event.target.closest("#report-form")) { return; }
    if (event.key === "Enter") {
      if (event.target.closest && event.target.closest(OWN_ENTER)) { return; }
      event.preventDefault();
      if (form.checkValidity()) { form.requestSubmit(); } else { say("Answer every question first."); }
      return;
    }
    const input = form.querySelector('fieldset:not([disabled]) input[data-key="' + event.key + '"]');
    if (input) { input.checked = true; event.preventDefault(); }
  });

  const shown = Array.prototype.filter.call(document.querySelectorAll("#pair-view img, #set-view img"), function (img) { return img.getAttribute("src"); });
  leftImage.decode && Promise.all(shown.map(function (img) { return img.decode(); })).then(function () { shownAt = performance.now(); }, function () {});
  preload(state.pairs[1]);
})();
