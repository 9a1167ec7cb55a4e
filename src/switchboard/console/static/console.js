// Switchboard console: small enhancements over server-rendered pages. Everything works
// without this file except live refresh and the copy button.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement && form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element && event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById("copy-status");
  const text = source ? source.textContent.trim() : "";
  const done = (message) => { if (status) status.textContent = message; };
  const select = () => {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    done("Selected: press Ctrl+C (or Cmd+C) to copy.");
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => done("Copied."), select);
  } else {
    select();
  }
});

// Regions with data-poll are refreshed from that URL (an HTML fragment) every few seconds
// while the tab is visible; the requests table only while "Live" is ticked.
function poll(region) {
  const live = document.getElementById("live");
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden && (!live || region.id !== "request-rows" || live.checked)) {
      try {
        const reply = await fetch(region.dataset.poll, { credentials: "same-origin" });
        if (reply.status === 401) { stopped = true; return; }
        if (reply.ok) region.innerHTML = await reply.text();
      } catch (_) { /* the gateway restarting: try again next tick */ }
    }
    window.setTimeout(tick, 2000);
  };
  window.setTimeout(tick, 2000);
}
document.querySelectorAll("[data-poll]").forEach(poll);
