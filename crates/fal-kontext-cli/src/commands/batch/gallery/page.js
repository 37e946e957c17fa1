// Filters by state, and the before/after slider. Fixed code: it reads no
// text of the jobs, and handles events by delegation.
"use strict";
(function () {
  var jobs = document.getElementById("jobs");
  var buttons = document.querySelectorAll("#filters button");
  document.getElementById("filters").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-filter]");
    if (!button) return;
    jobs.setAttribute("data-filter", button.getAttribute("data-filter"));
    buttons.forEach(function (b) {
      b.setAttribute("aria-pressed", String(b === button));
    });
  });
  jobs.addEventListener("input", function (event) {
    var slider = event.target;
    if (slider.matches(".compare input")) {
      slider.parentElement.style.setProperty("--cut", slider.value + "%");
    }
  });
})();
