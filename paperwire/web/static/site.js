// Optional enhancement: upvote without reloading the page. Without JavaScript the same
// form posts normally and the server redirects back (post/redirect/get).
document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (!form.classList || !form.classList.contains("vote")) return;
  ev.preventDefault();
  const button = form.querySelector("button");
  try {
    const r = await fetch(form.action, { method: "POST", body: new FormData(form), headers: { "Accept": "application/json" }, credentials: "same-origin" });
    if (r.status === 401 || r.redirected && r.url.includes("/signin")) { window.location = "/signin?next=" + encodeURIComponent(location.pathname); return; }
    if (!r.ok) { form.submit(); return; }
    const data = await r.json();
    button.classList.toggle("on", data.upvoted);
    button.setAttribute("aria-pressed", data.upvoted ? "true" : "false");
    button.querySelector(".count").textContent = data.upvotes;
  } catch (e) { form.submit(); }
});
