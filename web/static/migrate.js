// Moving running cases: the page posts one batch at a time (each case its own transaction on the
// server), shows how many moved, lists the cases that could not move with the reasons, and goes
// on until none is left. Without JavaScript the form posts once and the server moves every batch.
(() => {
  const form = document.getElementById("migrate-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    if (event.submitter && event.submitter.getAttribute("formmethod") === "get") return;
    event.preventDefault();
    const bar = document.getElementById("migrate-bar");
    const count = document.getElementById("migrate-count");
    const failures = document.getElementById("migrate-failures");
    const finished = document.getElementById("migrate-finished");
    const button = document.getElementById("migrate-move");
    document.getElementById("migrate-progress").hidden = false;
    button.disabled = true;
    const skip = [];
    let moved = 0;
    let total = Number(bar.max);
    const show = () => {
      bar.max = total;
      bar.value = moved;
      count.textContent = form.dataset.done.replace("{moved}", moved).replace("{total}", total);
    };
    show();
    for (;;) {
      const data = new FormData(form);
      data.set("batch", "1");
      data.set("skip", skip.join(","));
      let answer;
      try {
        const response = await fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" } });
        answer = await response.json();
        if (!response.ok) throw new Error(answer.error || String(response.status));
      } catch (error) {
        finished.textContent = error.message;
        break;
      }
      moved += answer.moved.length;
      for (const failed of answer.failed) {
        skip.push(failed.instance_id);
        const item = document.createElement("li");
        item.dataset.instance = failed.instance_id;
        item.textContent = `${form.dataset.failed.replace("{id}", failed.instance_id)}: ${failed.reasons.join(" ")}`;
        failures.append(item);
      }
      total = Math.max(total, moved + skip.length + answer.remaining);
      show();
      if (!answer.remaining || (!answer.moved.length && !answer.failed.length)) break;
    }
    finished.textContent = form.dataset.finished;
  });
})();
