// The live worklist: refresh the rows when the alert stream reports an event.
// EventSource reconnects by itself after a dropped connection (the server sets retry and
// Last-Event-ID); a refused one (session expired) is reopened after a rows fetch, which
// renews the session or, if it cannot, reloads into the sign-in page.
"use strict";
(function () {
  const status = document.getElementById("live-status");
  const list = document.getElementById("worklist");
  if (!status || !list || !window.EventSource) return;
  const REOPEN_MS = 5000;
  const KINDS = ["raised", "severity_raised", "escalated", "acknowledged", "resolved"];
  let pending = false;
  // An open confirmation ("acknowledge all green") is not swapped away under the user:
  // the refresh waits until it closes.
  let stale = false;

  async function refresh() {
    if (list.querySelector("details[open]")) {
      stale = true;
      return;
    }
    stale = false;
    if (pending) return;
    pending = true;
    try {
      const response = await fetch(status.dataset.rows, { credentials: "same-origin" });
      if (response.redirected) {
        window.location.reload();
      } else if (response.ok) {
        list.innerHTML = await response.text();
      }
    } finally {
      pending = false;
    }
  }

  // toggle does not bubble: listen in the capture phase.
  list.addEventListener("toggle", (event) => {
    if (stale && !event.target.open) refresh();
  }, true);

  function open() {
    const stream = new EventSource(status.dataset.stream);
    stream.onopen = () => status.classList.add("connected");
    stream.onerror = () => {
      status.classList.remove("connected");
      if (stream.readyState === EventSource.CLOSED) {
        setTimeout(async () => { await refresh(); open(); }, REOPEN_MS);
      }
    };
    for (const kind of KINDS) stream.addEventListener(kind, refresh);
  }
  open();
})();
