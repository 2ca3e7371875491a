// Draws the dashboard charts from the JSON the server embedded in the page.
(function () {
  "use strict";
  var toggle = document.getElementById("custom-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      document.getElementById("custom-range").classList.toggle("hidden");
      toggle.classList.toggle("on");
    });
  }
  var node = document.getElementById("dashboard-data");
  if (!node || typeof Chart === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#6b7385";
  Chart.defaults.maintainAspectRatio = false;
  // Money the one way (docs/analytics.md, "Money"): $1,234.57 from $1, $0.8527 under, <$0.0001, $0.00.
  var usd2 = new Intl.NumberFormat("en-US", {style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2});
  var usd4 = new Intl.NumberFormat("en-US", {style: "currency", currency: "USD", minimumFractionDigits: 4, maximumFractionDigits: 4});
  var usd = function (v) {
    var a = Math.abs(v), sign = v < 0 ? "-" : "";
    if (a === 0) { return "$0.00"; }
    if (a < 0.0001) { return sign + "<$0.0001"; }
    return sign + (a >= 0.99995 ? usd2 : usd4).format(a);  // $0.99996 reads $1.00, as on the server
  };
  // A chart with no data is replaced by its "no data" note server-side: no canvas, nothing to draw.
  var canvas = function (id) { return document.getElementById(id); };
  var compact = function (v) {
    var a = Math.abs(v);
    if (a >= 1e9) { return (v / 1e9).toFixed(1) + "B"; }
    if (a >= 1e6) { return (v / 1e6).toFixed(1) + "M"; }
    if (a >= 1e3) { return (v / 1e3).toFixed(1) + "K"; }
    return String(v);
  };
  var grid = {color: "#eef0f5"};

  if (canvas("chart-daily")) new Chart(canvas("chart-daily"), {
    type: "bar",
    data: {
      labels: data.days,
      datasets: data.daily_by_agent.map(function (s) {
        return {label: s.label, data: s.data, backgroundColor: s.color, borderRadius: 2, maxBarThickness: 28};
      })
    },
    options: {
      interaction: {mode: "index", intersect: false},
      scales: {
        x: {stacked: true, grid: {display: false}, ticks: {maxRotation: 0, autoSkip: true, maxTicksLimit: 10}},
        y: {stacked: true, grid: grid, ticks: {callback: usd}}
      },
      plugins: {
        legend: {position: "bottom", labels: {boxWidth: 12}},
        tooltip: {callbacks: {label: function (c) { return c.dataset.label + ": " + usd(c.parsed.y); }}}
      }
    }
  });

  if (canvas("chart-models")) new Chart(canvas("chart-models"), {
    type: "doughnut",
    data: {
      labels: data.by_model.labels,
      datasets: [{data: data.by_model.data, backgroundColor: data.by_model.colors, borderWidth: 1}]
    },
    options: {
      cutout: "62%",
      plugins: {
        legend: {position: window.innerWidth < 600 ? "bottom" : "right", labels: {boxWidth: 12}},
        tooltip: {callbacks: {label: function (c) { return c.label + ": " + usd(c.parsed); }}}
      }
    }
  });

  if (canvas("chart-tools")) new Chart(canvas("chart-tools"), {
    type: "bar",
    data: {
      labels: data.by_tool.labels,
      datasets: [{label: "tokens", data: data.by_tool.data, backgroundColor: "#0ca678", borderRadius: 3, maxBarThickness: 22}]
    },
    options: {
      indexAxis: "y",
      scales: {x: {grid: grid, ticks: {callback: compact}}, y: {grid: {display: false}}},
      plugins: {
        legend: {display: false},
        tooltip: {callbacks: {label: function (c) { return compact(c.parsed.x) + " tokens"; }}}
      }
    }
  });
})();
