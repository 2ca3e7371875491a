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
  var usd = function (v) {
    var small = Math.abs(v) < 0.01 && v !== 0;
    return "$" + (small ? v.toFixed(4) : v.toLocaleString(undefined, {minimumFractionDigits: 2, maximumFractionDigits: 2}));
  };
  var compact = function (v) {
    var a = Math.abs(v);
    if (a >= 1e9) { return (v / 1e9).toFixed(1) + "B"; }
    if (a >= 1e6) { return (v / 1e6).toFixed(1) + "M"; }
    if (a >= 1e3) { return (v / 1e3).toFixed(1) + "K"; }
    return String(v);
  };
  var grid = {color: "#eef0f5"};

  new Chart(document.getElementById("chart-daily"), {
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

  new Chart(document.getElementById("chart-models"), {
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

  new Chart(document.getElementById("chart-tools"), {
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
