// Times in the viewer's time zone. Pages print every time in UTC inside
// <time class="local" datetime="…Z">; this rewrites the text in the zone
// the user chose (stored per user in the catalog, carried on <body
// data-time-zone>) or, until they choose, the browser's own, and keeps UTC
// in the title for hovering. The calls page's date filters are sent with
// each day's UTC offset in that zone, so "from 2026-11-01" means midnight
// where the viewer is.
(function () {
  "use strict";
  const body = document.body;
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  function valid(z) {
    try { new Intl.DateTimeFormat("en-US", { timeZone: z }); return true; } catch (e) { return false; }
  }
  function chosen() {
    const z = body.dataset.timeZone || "";
    return z && valid(z) ? z : "";
  }
  function zone() {
    return chosen() || browserZone;
  }
  function parts(instant, z) {
    const f = new Intl.DateTimeFormat("en-US", {
      timeZone: z, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
    });
    const p = {};
    for (const x of f.formatToParts(instant)) p[x.type] = x.value;
    return p;
  }
  function show(instant, z) {
    const p = parts(instant, z);
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second + " " + p.timeZoneName;
  }
  // Minutes east of UTC in zone z at the instant ms.
  function offsetAt(ms, z) {
    const p = parts(new Date(ms), z);
    const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
    return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000);
  }
  // The offset in force at midnight of yyyy-mm-dd (plus `days`) in zone z.
  function midnightOffset(date, days, z) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
    if (!m) return null;
    const guess = Date.UTC(+m[1], +m[2] - 1, +m[3] + days);
    const first = offsetAt(guess, z);
    return offsetAt(guess - first * 60000, z);
  }
  function render() {
    const z = zone();
    for (const t of document.querySelectorAll("time.local[datetime]")) {
      const instant = new Date(t.getAttribute("datetime"));
      if (isNaN(instant)) continue;
      t.title = t.title || t.textContent;
      t.textContent = show(instant, z);
    }
  }
  function setUpChooser() {
    const select = document.getElementById("time-zone");
    if (!select) return;
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    const browser = document.createElement("option");
    browser.value = "";
    browser.textContent = "Browser (" + browserZone + ")";
    select.appendChild(browser);
    for (const z of zones) {
      const o = document.createElement("option");
      o.value = z;
      o.textContent = z;
      select.appendChild(o);
    }
    select.value = chosen();
    const status = document.getElementById("time-zone-status");
    select.addEventListener("change", function () {
      const wanted = select.value;
      const form = new URLSearchParams({ csrf: body.dataset.csrf || "", time_zone: wanted });
      fetch("/settings/time-zone", { method: "POST", body: form, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          body.dataset.timeZone = wanted;
          if (status) status.textContent = "Saved.";
          render();
        })
        .catch(function () {
          select.value = chosen();
          if (status) status.textContent = "Could not save the time zone; try again.";
        });
    });
  }
  function setUpFilters() {
    const form = document.querySelector("form.filters");
    if (!form) return;
    form.addEventListener("submit", function () {
      const z = zone();
      for (const [field, days] of [["from", 0], ["to", 1]]) {
        const input = form.elements[field];
        const hidden = form.elements[field + "_offset"];
        if (!input || !hidden) continue;
        const off = input.value ? midnightOffset(input.value, days, z) : null;
        hidden.value = off === null ? "" : String(off);
      }
    });
  }
  setUpChooser();
  setUpFilters();
  render();
})();
