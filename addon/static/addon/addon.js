/* The merchant screens' only script (a file, never inline, so a strict CSP holds).
 *
 * - Dialogs (<dialog data-addon-modal>) open as modals when they arrive, keep Tab inside,
 *   and close with Escape by following their Close link (which fetches the screen under
 *   them and puts its URL back). Focus returns to what opened them.
 * - Focus survives an in-place swap (a refreshed row) when the new content has the same id.
 * - Copy buttons (data-addon-copy="<id>") copy that element's text; they come hidden, for
 *   without this script they could do nothing.
 * - A failed request that the server did not explain still says something.
 * - The Logs' poller ([data-addon-poll]) waits while the pointer or focus is on the list or a
 *   row is open: new entries go above the list, and must not move it under the merchant's hand.
 */
(function () {
  "use strict";

  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), ' +
    'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  var opener = null;      // id of the element that opened the current dialog
  var requester = null;   // id of the focused element when the last request started

  function openDialogs(root) {
    if (!root || !root.querySelectorAll) return;
    var dialogs = Array.prototype.slice.call(root.querySelectorAll("dialog[data-addon-modal]"));
    if (root.matches && root.matches("dialog[data-addon-modal]")) dialogs.push(root);
    dialogs.forEach(function (dialog) {
      if (dialog.dataset.addonShown) return;
      dialog.dataset.addonShown = "true";
      // What had focus when the request started (htmx has already moved it to [autofocus]).
      if (!opener) opener = requester;
      // Its links must be htmx's before Escape can follow one (else: a full page load).
      if (window.htmx) window.htmx.process(dialog);
      // A dialog rendered open for a full page is reopened as a modal. On a slow connection
      // the merchant may already be typing in it: showModal() would move focus to the first
      // field and the rest of the keystrokes would land there.
      var typing = dialog.open && dialog.contains(document.activeElement) ? document.activeElement : null;
      if (dialog.open) dialog.close();
      dialog.showModal();
      var invalid = dialog.querySelector('[aria-invalid="true"]');
      if (typing) typing.focus();
      else if (invalid) invalid.focus();
      // showModal() has honoured [autofocus]; htmx would focus it again when the swap settles,
      // a moment later, taking the field from under a merchant who has started typing.
      Array.prototype.forEach.call(dialog.querySelectorAll("[autofocus]"), function (field) {
        field.removeAttribute("autofocus");
      });
    });
  }

  function openDialog() {
    return document.querySelector("dialog[data-addon-modal][open]");
  }

  function restoreFocus() {
    if (openDialog()) return;
    var id = opener || requester;
    opener = requester = null;
    var active = document.activeElement;
    if (!id || (active && active !== document.body)) return;
    var target = document.getElementById(id);
    if (target) target.focus();
  }

  function showCopyButtons(root) {
    if (!root || !root.querySelectorAll) return;
    Array.prototype.forEach.call(root.querySelectorAll("[data-addon-copy][hidden]"), function (button) {
      button.hidden = false;
    });
  }

  // At the swap, not only at htmx:load (which waits for the settle delay): in between, a dialog
  // rendered open would show as a plain box that Escape cannot close.
  document.addEventListener("htmx:afterSwap", function () {
    openDialogs(document);
    showCopyButtons(document);
  });
  document.addEventListener("htmx:load", function (event) { openDialogs(event.target); });
  document.addEventListener("DOMContentLoaded", function () {
    openDialogs(document);
    showCopyButtons(document);
  });

  function listInUse() {
    var list = document.getElementById("addon-log-results");
    if (!list) return false;
    return list.matches(":hover") || list.contains(document.activeElement) ||
      list.querySelector("details[open]") !== null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-addon-poll")) {
      // A poll is no request of the merchant's: it leaves focus and messages alone.
      if (listInUse()) event.preventDefault();
      return;
    }
    var active = document.activeElement;
    requester = active && active.id ? active.id : null;
    var alert = document.getElementById("addon-alert");
    if (alert) alert.textContent = "";
  });
  document.addEventListener("htmx:afterSettle", restoreFocus);

  // Escape: close the way the Close link does, so the URL and the screen follow.
  document.addEventListener("cancel", function (event) {
    var dialog = event.target;
    if (!(dialog instanceof HTMLDialogElement) || !dialog.hasAttribute("data-addon-modal")) return;
    var dismiss = dialog.querySelector("[data-addon-dismiss]");
    if (dismiss) {
      event.preventDefault();
      dismiss.click();
    }
  }, true);

  // Keep Tab and Shift+Tab inside the open dialog.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab") return;
    var dialog = openDialog();
    if (!dialog) return;
    var items = Array.prototype.filter.call(dialog.querySelectorAll(FOCUSABLE), function (el) {
      return el.offsetParent !== null;
    });
    if (!items.length) return;
    var first = items[0];
    var last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  });

  // Copy buttons.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-addon-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-addon-copy"));
    if (!source) return;
    var text = (source.value || source.textContent).trim();
    var status = button.parentNode.querySelector(".addon-copy__status");
    function say(message) { if (status) status.textContent = message; }
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say(document.execCommand && document.execCommand("copy") ? "Copied" : "Press Ctrl+C to copy");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { say("Copied"); }, fallback);
    } else {
      fallback();
    }
  });

  // A failure the server answered without an explanation for us, or no answer at all.
  function explain(message) {
    var alert = document.getElementById("addon-alert");
    if (alert && !alert.textContent.trim()) alert.textContent = message;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    explain("That did not work (HTTP " + status + "). Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    explain("Could not reach the server. Check your connection and try again.");
  });
})();
