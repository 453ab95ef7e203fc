// Rituximab course review: progressive enhancement only; the page works without it.
// Served from the service (CSP script-src 'self'): no inline script anywhere.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var print = document.querySelector(".print-button");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
  // Every plot's table of values prints, opened or not.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.values").forEach(function (d) { d.open = true; });
  });
});
