document.addEventListener("DOMContentLoaded", function () {
  var p = document.createElement("p");
  p.textContent = "app.js loaded; it is revalidated on every page load.";
  document.body.appendChild(p);
});
