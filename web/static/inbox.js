// The inbox: new work shows up by itself, and a count per deadline state filters by that state.
(() => {
  const table = document.getElementById("inbox-table");
  if (!table) return;

  // The table is fetched again every data-refresh-seconds with the same filters and page (its
  // hx-trigger), but not while the tab is hidden or the user is busy inside the table, and not
  // while a request of the table or of the filters is in flight.
  const busy = () => document.visibilityState !== "visible" || document.querySelector(
    "#inbox-table :focus, #inbox-table.htmx-request, #inbox-table .htmx-request, #filters.htmx-request");
  const seconds = Number(table.dataset.refreshSeconds);
  if (seconds > 0) {
    setInterval(() => { if (!busy()) htmx.trigger(table, "inbox-refresh"); }, seconds * 1000);
  }

  // A count badge filters by its state (clicked again: all states), as the select does.
  document.addEventListener("click", (event) => {
    const badge = event.target.closest("[data-sla]");
    if (!badge) return;
    const select = document.getElementById("sla");
    select.value = select.value === badge.dataset.sla ? "" : badge.dataset.sla;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
