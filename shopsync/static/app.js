// shopsync dashboard: no double submits, and a question before an action that cannot be undone.
(function () {
  "use strict";

  function buttons(form, disabled) {
    form.querySelectorAll("button").forEach(function (button) { button.disabled = disabled; });
  }

  // Plain forms: ask first where the form says so, then disable its buttons once it is sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    if (form.method.toLowerCase() !== "post" || form.hasAttribute("hx-post")) {
      return;
    }
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    setTimeout(function () { buttons(form, true); }, 0);  // after the browser took the button's value
  }, true);

  // Back to a page kept in the browser's cache: its forms can be sent again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form[data-sent]").forEach(function (form) {
        delete form.dataset.sent;
        buttons(form, false);
      });
    }
  });

  // htmx forms: buttons stay disabled while their request is in flight.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt.tagName === "FORM" && event.detail.requestConfig.verb === "post") {
      buttons(event.detail.elt, true);
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt.tagName === "FORM" && event.detail.elt.isConnected) {
      buttons(event.detail.elt, false);
    }
  });
}());
