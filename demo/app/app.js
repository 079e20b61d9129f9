/* app.js: the demo's script, in a directory served with
 * CondCacheNoCache On: the browser revalidates it on every page load and
 * gets a 304 while it is unchanged (see the Network panel). */
document.addEventListener("DOMContentLoaded", function () {
  var p = document.createElement("p");
  p.textContent = "app.js loaded; it is revalidated on every page load.";
  document.body.appendChild(p);
});
