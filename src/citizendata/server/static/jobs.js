// The job page follows its job without reloading: every two seconds it fetches the page
// again and swaps in the job's section (a polite live region), until the job has ended.
// Without script the page works the same with its "Refresh" link.
(function () {
  "use strict";
  var live = document.getElementById("job-live");
  if (!live || !live.hasAttribute("data-follow") || !window.fetch || !window.DOMParser) {
    return;
  }
  function tick() {
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html")
          .getElementById("job-live");
        if (!fresh) { return; }
        live.innerHTML = fresh.innerHTML;
        if (fresh.hasAttribute("data-follow")) {
          window.setTimeout(tick, 2000);
        } else {
          live.removeAttribute("data-follow");
        }
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 2000);
}());
