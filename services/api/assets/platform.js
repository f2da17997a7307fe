// The platform's one script, served by `serve` itself (no inline script anywhere).
// Progressive enhancement only: every page works without it.
"use strict";

// The open needs and wishes follow the log: when a wish changes anywhere, the list keeps
// only those the wish board still holds open.
(function followOpenWishes() {
  const list = document.getElementById("open-wishes");
  if (!list || !window.EventSource) return;
  const live = new EventSource("/live/wishes");
  live.addEventListener("open", () => { list.dataset.live = "on"; });
  live.addEventListener("wish", async (event) => {
    const answer = await fetch("/live/open-wishes?min_position=" + encodeURIComponent(event.data),
      { credentials: "same-origin" });
    if (!answer.ok) return;
    const open = new Set(await answer.json());
    for (const item of list.querySelectorAll("li[data-wish]")) {
      if (!open.has(item.dataset.wish)) item.remove();
    }
  });
})();

// A printable sheet's button prints it.
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
