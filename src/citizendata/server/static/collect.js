// The collector's form list: whether each form is on this device for use without a
// connection (the service worker's page cache), and "Keep on this device", which registers
// the service worker if needed and asks it to keep the form's page, XForm and media files
// (and this list). Without script, or without service workers, the list and its links work
// the same; the status then says the browser cannot keep forms.
(function () {
  "use strict";
  var CACHE = "citizendata-pages-v1";
  var list = document.getElementById("collect-forms");
  if (!list) { return; }
  var live = document.getElementById("collect-live");
  var items = Array.prototype.slice.call(list.querySelectorAll(".collect-form"));
  var pending = [];

  function text(name) { return list.getAttribute("data-" + name) || ""; }
  function title(item) { var h = item.querySelector("h3"); return h ? h.textContent : ""; }
  function show(item, state) {
    var status = item.querySelector(".offline-status");
    status.hidden = false;
    status.setAttribute("data-state", state);
    status.textContent = text(state);
  }
  function announce(item, state) {
    if (live) { live.textContent = title(item) + ": " + text(state); }
  }

  if (!("caches" in window) || !("serviceWorker" in navigator) || !window.Promise) {
    items.forEach(function (item) { show(item, "unsupported"); });
    return;
  }
  var sw = navigator.serviceWorker;

  // kept = its page and its XForm are both in the page cache
  function check(item) {
    var fill = item.getAttribute("data-fill-url");
    return caches.open(CACHE).then(function (cache) {
      return Promise.all([cache.match(fill), cache.match(fill + "/form.xml")]);
    }).then(function (hits) {
      var kept = Boolean(hits[0] && hits[1]);
      show(item, kept ? "available" : "missing");
      return kept;
    });
  }

  function worker() {
    if (sw.controller) { return Promise.resolve(sw.controller); }
    return sw.getRegistration("/").then(function (reg) {
      return reg || sw.register(list.getAttribute("data-sw"), {scope: "/"});
    }).then(function () { return sw.ready; }).then(function (reg) { return reg.active; });
  }

  function settle(item) {
    var at = pending.indexOf(item);
    if (at < 0) { return; }
    pending.splice(at, 1);
    item.querySelector(".keep-offline").disabled = false;
    check(item).then(function (kept) {
      if (!kept) { show(item, "failed"); }
      announce(item, kept ? "available" : "failed");
    });
  }

  sw.addEventListener("message", function (event) {
    var data = event.data || {};
    if (data.type === "kept-offline") { pending.slice().forEach(settle); }
  });
  sw.startMessages();

  // this list, its stylesheets and script, and the fill page's own: all open offline
  function assets() {
    var found = [window.location.pathname];
    var tags = document.querySelectorAll("link[rel=stylesheet][href], script[src]");
    Array.prototype.forEach.call(tags, function (tag) {
      var url = new URL(tag.getAttribute("href") || tag.getAttribute("src"), window.location.href);
      if (url.origin === window.location.origin) { found.push(url.pathname); }
    });
    return found.concat(JSON.parse(list.getAttribute("data-assets") || "[]"));
  }

  function keep(item) {
    if (pending.indexOf(item) >= 0) { return; }
    var urls = JSON.parse(item.getAttribute("data-keep-urls") || "[]").concat(assets());
    pending.push(item);
    item.querySelector(".keep-offline").disabled = true;
    show(item, "keeping");
    announce(item, "keeping");
    worker().then(function (active) {
      if (!active) { throw new Error("no service worker"); }
      active.postMessage({type: "keep-offline", urls: urls});
      // no answer (the worker was stopped, or offline): look again after a while
      window.setTimeout(function () { settle(item); }, 30000);
    }).catch(function () { settle(item); });
  }

  items.forEach(function (item) {
    var button = item.querySelector(".keep-offline");
    button.hidden = false;
    button.addEventListener("click", function () { keep(item); });
    check(item).catch(function () { show(item, "unsupported"); });
  });
}());
