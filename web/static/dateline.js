/* Dateline progressive enhancement. Every feature here also works without it:
 * - search as you type: fetch the /search page for the typed query and swap the results
 *   region (debounced; the URL follows, Back works);
 * - facet filter boxes filter as you type the same way (the form still submits without JS);
 * - keyboard: "/" focuses the search box, j/k (or arrow keys on a result) move between
 *   results, Enter opens the focused one.
 * No inline scripts or handlers, no style attributes: only classes change (CSP friendly).
 */
(function () {
  "use strict";

  var REGION = "[data-search-region]";
  var TYPE_DELAY = 300;
  var FILTER_DELAY = 250;
  var controller = null;

  document.documentElement.classList.add("js");

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function announce(text) {
    var live = document.getElementById("announce");
    if (!live) return;
    live.textContent = "";
    // A fresh text node after a tick makes screen readers repeat an identical count.
    setTimeout(function () { live.textContent = text; }, 50);
  }

  function fetchPage(url) {
    if (controller) controller.abort();
    controller = typeof AbortController === "function" ? new AbortController() : null;
    return fetch(url, {
      headers: { "Accept": "text/html" },
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.text().then(function (html) {
        return { ok: response.ok, url: response.url || url, doc: new DOMParser().parseFromString(html, "text/html") };
      });
    });
  }

  /* ---- search as you type ---- */

  function searchUrl(form) {
    var params = new URLSearchParams(new FormData(form));
    return form.getAttribute("action") + "?" + params.toString();
  }

  function swapRegion(page, url, mode) {
    var region = document.querySelector(REGION);
    var fresh = page.doc.querySelector(REGION) || page.doc.querySelector("main .error");
    if (!region || !fresh) { window.location.assign(url); return; }
    region.replaceWith(fresh);
    document.title = page.doc.title;
    if (mode === "push") history.pushState({ dateline: true }, "", url);
    else if (mode === "replace") history.replaceState({ dateline: true }, "", url);
    announce(fresh.getAttribute("data-count-text") || (fresh.textContent || "").trim().slice(0, 120));
  }

  var typing = false;  // the first keystroke of a burst pushes a history entry, the rest replace it
  var lastQuery = null;

  var runSearch = debounce(function (input) {
    var form = input.form;
    var url = searchUrl(form);
    if (input.value === lastQuery) return;
    lastQuery = input.value;
    var mode = typing ? "replace" : "push";
    typing = true;
    fetchPage(url).then(function (page) {
      if (input.value !== lastQuery) return;  // a newer query is on its way
      swapRegion(page, url, mode);
    }).catch(function (err) {
      if (err && err.name === "AbortError") return;
      form.submit();  // network trouble: fall back to a plain page load
    });
  }, TYPE_DELAY);

  document.addEventListener("input", function (e) {
    var t = e.target;
    if (e.isComposing) return;
    if (t.matches && t.matches("input[data-live-search]") && document.querySelector(REGION)) {
      if (lastQuery === null) lastQuery = t.defaultValue;
      runSearch(t);
    } else if (t.matches && t.matches("input[data-facet-filter]")) {
      runFacetFilter(t);
    }
  });

  document.addEventListener("focusout", function (e) {
    if (e.target.matches && e.target.matches("input[data-live-search]")) typing = false;
  });

  window.addEventListener("popstate", function () {
    if (!document.querySelector(REGION)) return;
    fetchPage(window.location.href).then(function (page) {
      swapRegion(page, window.location.href, null);
      var q = document.querySelector("input[data-live-search]");
      var fresh = page.doc.querySelector("input[data-live-search]");
      if (q && fresh) { q.value = fresh.value; lastQuery = fresh.value; }
    }).catch(function () { window.location.reload(); });
  });

  /* ---- facet filter boxes ---- */

  var runFacetFilter = debounce(function (input) {
    var form = input.form;
    var url = searchUrl(form);
    var name = input.getAttribute("data-facet-filter");
    fetchPage(url).then(function (page) {
      var section = document.querySelector('[data-facet-section="' + name + '"]');
      var fresh = page.doc.querySelector('[data-facet-section="' + name + '"]');
      if (!section || !fresh) return;
      // Keep the form (and the focus in it); replace what follows it.
      var node = form.nextSibling;
      while (node) { var next = node.nextSibling; section.removeChild(node); node = next; }
      var freshForm = fresh.querySelector("form.facet-filter");
      node = freshForm ? freshForm.nextSibling : null;
      while (node) { var after = node.nextSibling; section.appendChild(node); node = after; }
      history.replaceState({ dateline: true }, "", url);
      var n = section.querySelectorAll("ul[data-facet] li").length;
      announce(n + (n === 1 ? " value" : " values") + " shown");
    }).catch(function () { /* the Filter button still works */ });
  }, FILTER_DELAY);

  /* ---- keyboard navigation through results ---- */

  function resultLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("ol.results li.hit .hit-title a"));
  }

  function moveTo(delta) {
    var links = resultLinks();
    if (!links.length) return false;
    var i = links.indexOf(document.activeElement);
    var next = i === -1 ? (delta > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, i + delta));
    links[next].focus();
    return true;
  }

  document.addEventListener("focusin", function (e) {
    var current = document.querySelectorAll("li.hit.is-current");
    for (var i = 0; i < current.length; i++) current[i].classList.remove("is-current");
    var hit = e.target.closest && e.target.closest("ol.results li.hit");
    if (hit) hit.classList.add("is-current");
  });

  function typingIn(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    var el = document.activeElement;
    if (e.key === "Escape" && el && el.matches && el.matches("input[data-live-search]")) {
      el.blur();
      return;
    }
    if (typingIn(el)) return;
    var inResults = el && el.closest && el.closest("ol.results");
    if (e.key === "/") {
      var q = document.querySelector("input[data-live-search]") || document.getElementById("q-home");
      if (q) { e.preventDefault(); q.focus(); q.select(); }
    } else if (e.key === "j" || (inResults && e.key === "ArrowDown")) {
      if (moveTo(1)) e.preventDefault();
    } else if (e.key === "k" || (inResults && e.key === "ArrowUp")) {
      if (moveTo(-1)) e.preventDefault();
    }
  });
})();
