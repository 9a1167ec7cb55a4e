// Overview charts: uPlot (vendored) over the series embedded in the page as JSON.
"use strict";

(function () {
  const source = document.getElementById("chart-data");
  if (!source || typeof uPlot === "undefined") return;
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.documentElement);
  const fg = style.getPropertyValue("--fg").trim() || "#222";
  const grid = style.getPropertyValue("--line").trim() || "#ddd";
  const palette = ["#2f6fed", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad", "#5c940d"];
  const xs = data.starts;
  const groups = Object.keys(data.groups);

  function lines(metric) {
    if (metric === "tokens") {
      return [["input", data.totals.input_tokens], ["output", data.totals.output_tokens]];
    }
    if (metric === "latency") {
      return [["p50", data.totals.p50_ms], ["p95", data.totals.p95_ms]];
    }
    const out = groups.map((g) => [data.labels[g] || g || "-", data.groups[g][metric]]);
    return out.length ? out : [["total", data.totals[metric]]];
  }

  function draw(figure) {
    const series = lines(figure.dataset.chart);
    const width = Math.max(260, figure.clientWidth - 20);
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    // Small values (cost in dollars) keep their significant digits on the axis.
    const values = (u, ticks) => ticks.map((v) => (v === 0 ? "0" : String(+v.toPrecision(3))));
    const opts = {
      width: width,
      height: 190,
      title: "",
      scales: { x: { time: true } },
      // UTC, as every time on the pages.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      axes: [axis, Object.assign({ size: 60, values: values }, axis)],
      series: [{}].concat(series.map(([label], i) => ({
        label: label,
        stroke: palette[i % palette.length],
        width: 1.5,
        spanGaps: figure.dataset.chart === "latency",
        points: { show: figure.dataset.chart === "latency" ? true : undefined },
      }))),
    };
    const plot = new uPlot(opts, [xs].concat(series.map(([, values]) => values)), figure);
    return plot;
  }

  const figures = Array.from(document.querySelectorAll("figure[data-chart]"));
  let plots = figures.map(draw);
  let timer = 0;
  window.addEventListener("resize", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      plots.forEach((p) => p.destroy());
      plots = figures.map(draw);
    }, 150);
  });
})();
