// The import job page's live progress: polls the job's status URL while a worker is busy and
// reloads the page when the state changes, so the preview or the outcome shows by itself.
"use strict";
(function () {
  const POLL_MS = 1000;

  function start() {
    const root = document.getElementById("import-job");
    if (!root) {
      return;
    }
    const bar = root.querySelector(".gk-progress-bar");
    // The bar's width comes from its data attribute: the Content-Security-Policy refuses style
    // attributes, not styles set from a script.
    bar.style.width = bar.dataset.percent + "%";
    if (root.dataset.running !== "1") {
      return;
    }
    const pageState = root.dataset.state;
    const meter = document.getElementById("job-progress");
    const text = document.getElementById("job-progress-text");
    const badge = document.getElementById("job-state");

    function show(status) {
      bar.style.width = status.percent + "%";
      meter.setAttribute("aria-valuenow", String(status.percent));
      badge.textContent = status.state_label;
      badge.className = "gk-job-state gk-job-state-" + status.state;
      text.textContent = status.progress_text;
    }

    function poll() {
      fetch(root.dataset.statusUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (status) {
          show(status);
          if (status.state !== pageState) {
            window.location.reload();
          } else {
            window.setTimeout(poll, POLL_MS);
          }
        })
        .catch(function () {
          text.textContent = "Lost contact with the server; retrying…";
          window.setTimeout(poll, POLL_MS * 5);
        });
    }

    window.setTimeout(poll, POLL_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// A confirmation is sent once: its button is disabled as the form submits (the server applies a
// job once anyway, and answers a repeated confirmation with the job's page).
(function () {
  function guard() {
    document.querySelectorAll("form.gk-confirm-form").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("input[type=submit]").forEach(function (button) {
          window.setTimeout(function () { button.disabled = true; }, 0);
        });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", guard);
  } else {
    guard();
  }
})();
