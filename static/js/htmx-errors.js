// Errors that show. htmx swaps only 2xx answers, so a refused form or a failed request would otherwise leave the
// page as it was, without a word. A refused form (400/422 with an HTML fragment: the form and its errors) is swapped
// into its target like any answer; every other error shows one short message at the top of the page, which the
// next action or its close button removes.
(function () {
  "use strict";

  var LEADS = {
    0: "The server could not be reached: check the connection and try again.",
    400: "The server refused this request.",
    401: "Your session has ended: log in again.",
    403: "You are not allowed to do this.",
    404: "This could not be found: it may have been deleted or moved.",
    409: "This changed meanwhile: reload the page and try again.",
    413: "This is too large for the server.",
    429: "Too many requests: wait a moment and try again.",
  };
  var MAX_DETAIL = 200;

  function lead(status) {
    if (LEADS[status]) return LEADS[status];
    if (status >= 500) return "Something went wrong on the server (" + status + "): try again in a moment.";
    return "The request failed (" + status + ").";
  }

  function clip(text) {
    text = (text || "").replace(/\s+/g, " ").trim();
    return text.length > MAX_DETAIL ? text.slice(0, MAX_DETAIL - 1) + "…" : text;
  }

  // What the server said, in one line: a plain-text answer, the API's {"error": {"message"}} or the first sentence
  // of an error page's notice; never the page itself.
  function detail(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var body = xhr.responseText || "";
    if (type.indexOf("text/plain") === 0) return clip(body);
    if (type.indexOf("application/json") === 0) {
      try {
        var doc = JSON.parse(body);
        return clip((doc.error && doc.error.message) || doc.detail || "");
      } catch (e) {
        return "";
      }
    }
    if (type.indexOf("text/html") === 0) {
      var page = new DOMParser().parseFromString(body, "text/html");
      var notice = page.querySelector(".notice-card p, [role=alert]");
      return notice ? clip(notice.textContent) : "";
    }
    return "";
  }

  function region() {
    var box = document.getElementById("htmx-error");
    if (box) return box;
    box = document.createElement("div");
    box.id = "htmx-error";
    box.className = "alert error htmx-error";
    box.setAttribute("role", "alert");
    box.hidden = true;
    box.innerHTML = '<p class="htmx-error-text"></p><button type="button" class="link-button" aria-label="Dismiss">Dismiss</button>';
    box.querySelector("button").addEventListener("click", hide);
    var main = document.querySelector("main") || document.body;
    main.insertBefore(box, main.firstChild);
    return box;
  }

  var failedFrom = null; // the element whose request the message is about

  function show(text, elt) {
    var box = region();
    box.querySelector(".htmx-error-text").textContent = text;
    box.hidden = false;
    failedFrom = elt || null;
  }

  function hide() {
    var box = document.getElementById("htmx-error");
    if (box) box.hidden = true;
    failedFrom = null;
  }

  // The element that made the request (htmx's events carry it in different places).
  function source(event) {
    var config = event.detail.requestConfig;
    return (config && config.elt) || event.detail.elt || event.target;
  }

  function isFragment(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var body = xhr.responseText || "";
    return type.indexOf("text/html") === 0 && body.trim() !== "" && !/<html[\s>]/i.test(body);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) return;
    if ((xhr.status === 400 || xhr.status === 422) && isFragment(xhr)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    var more = detail(xhr);
    show(lead(xhr.status) + (more ? " " + more : ""), source(event));
  });
  document.addEventListener("htmx:sendError", function (event) {
    show(lead(0), source(event));
  });
  document.addEventListener("htmx:timeout", function (event) {
    show("The server took too long to answer: try again in a moment.", source(event));
  });
  // A poll that failed and then answers again (the server is back) takes its message away.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (failedFrom && event.detail.successful && source(event) === failedFrom) hide();
  });
  // A person's next action clears an old message; a page's own polling does not.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var cause = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (cause && (cause.type === "submit" || cause.type === "click" || cause.type === "change")) hide();
  });
})();
