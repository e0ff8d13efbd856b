// The supervisors' reports: each <canvas data-chart> drawn with Chart.js from the same numbers as
// the table beside it. In a right-to-left page the category axis runs right to left and the
// legend and tooltips read right to left. No animation: the chart is drawn once, at once.
(() => {
  const rtl = document.documentElement.dir === "rtl";
  const palette = ["#0b5394", "#b45f06", "#38761d", "#741b47", "#134f5c", "#7f6000", "#351c75", "#990000"];
  const draw = (canvas) => {
    const spec = JSON.parse(canvas.dataset.chart);
    const datasets = spec.datasets.map((set, index) => ({
      ...set,
      backgroundColor: palette[index % palette.length],
      borderColor: palette[index % palette.length],
      borderWidth: 2,
      spanGaps: true,
    }));
    const value = { beginAtZero: true, stacked: Boolean(spec.stacked) };
    if (spec.percent) value.max = 100;
    const chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        locale: document.documentElement.lang === "ar" ? "ar-SA-u-nu-latn" : "en",
        scales: {
          x: { reverse: rtl, stacked: Boolean(spec.stacked), ticks: { autoSkip: true, maxRotation: 60 } },
          y: { ...value, position: rtl ? "right" : "left" },
        },
        plugins: {
          legend: { rtl, textDirection: rtl ? "rtl" : "ltr", position: "bottom" },
          tooltip: { rtl, textDirection: rtl ? "rtl" : "ltr" },
        },
      },
    });
    canvas.dataset.drawn = chart.data.datasets.length ? "yes" : "empty";
  };
  const start = () => {
    if (typeof Chart === "undefined") return;
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
