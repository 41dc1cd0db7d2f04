// An offer's page: the tracking link updates as the partner and sub id change (the form still
// works without this script: "Show link" reloads the page with the link), and "Copy" buttons.
// encodeURIComponent leaves the same characters as the server's quote(sub, safe="!*'()").
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("gk-link-form");
  if (form) {
    const partner = document.getElementById("gk-link-partner");
    const sub = document.getElementById("gk-link-sub");
    const row = document.getElementById("gk-link-row");
    const url = document.getElementById("gk-click-url");
    const problem = document.getElementById("gk-link-problem");
    const update = () => {
      if (problem) problem.hidden = true;
      if (!partner.value) {
        row.hidden = true;
        return;
      }
      url.textContent =
        form.dataset.clickBase + partner.value + "/?sub=" + encodeURIComponent(sub.value.trim());
      row.hidden = false;
    };
    // The link follows the form as it changes: the button that reloads the page is not needed.
    document.getElementById("gk-link-show").hidden = true;
    partner.addEventListener("change", update);
    sub.addEventListener("input", update);
  }
  for (const button of document.querySelectorAll("button.gk-copy")) {
    const status = document.createElement("span");
    status.className = "help";
    status.setAttribute("aria-live", "polite");
    button.after(status);
    button.hidden = false;
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.target).textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
        status.textContent = "Copied.";
      } catch (error) {
        status.textContent = "Copy failed: select the link and copy it by hand.";
      }
    });
  }
});
