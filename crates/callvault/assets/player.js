// Player extras: clicking a leg (or a timeline marker) seeks the stitched
// recording to that leg's chapter and plays; the current leg is highlighted.
// Without JavaScript each leg link opens the audio at its time (#t=).
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) { return; }
  var links = Array.prototype.slice.call(document.querySelectorAll(".chapters a.seek"));
  function seek(seconds) {
    var go = function () { player.currentTime = seconds; player.play(); };
    if (player.readyState >= 1) { go(); } else {
      player.addEventListener("loadedmetadata", go, { once: true });
      player.load();
    }
  }
  function bind(el) {
    el.addEventListener("click", function (event) {
      event.preventDefault();
      seek(parseFloat(el.getAttribute("data-start")) || 0);
    });
  }
  links.forEach(bind);
  // Markers are placed here, not by a style attribute: the page's
  // Content-Security-Policy allows no inline style.
  Array.prototype.slice.call(document.querySelectorAll(".timeline .marker")).forEach(function (m) {
    m.style.left = (parseFloat(m.getAttribute("data-left")) || 0) + "%";
    m.style.width = (parseFloat(m.getAttribute("data-width")) || 0) + "%";
    bind(m);
  });
  player.addEventListener("timeupdate", function () {
    var t = player.currentTime, current = null;
    links.forEach(function (a) { if (parseFloat(a.getAttribute("data-start")) <= t + 0.05) { current = a; } });
    links.forEach(function (a) { a.classList.toggle("active", a === current); });
  });
})();
