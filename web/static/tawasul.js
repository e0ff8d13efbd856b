// The staff pages' own behaviour, on every page. No page holds an inline script or event
// handler: the Content-Security-Policy (web/security.py) runs scripts from this site only.

// htmx requests carry the page's CSRF token.
document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-CSRFToken"] = document.querySelector('meta[name="csrf-token"]').content;
});

// A button marked data-print prints the page (a letter).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});

// A form sent back with mistakes: focus goes to its summary so that it is read out first.
document.getElementById("error-summary")?.focus();
