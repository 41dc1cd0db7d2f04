// The "Copy" button next to a secret shown once (gokart/secret_rotation_admin.py).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("gk-copy-secret");
  if (!button) return;
  const status = document.getElementById("gk-copy-status");
  button.addEventListener("click", async () => {
    const secret = document.getElementById(button.dataset.target).textContent.trim();
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = "Copied.";
    } catch (error) {
      status.textContent = "Copy failed: select it and copy it by hand.";
    }
  });
});
