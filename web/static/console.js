// The admin console's only script, and an optional one: it adds a "Copy"
// button after each element marked data-copy (a secret, a quickstart
// command). Without it the text is still there to select.
"use strict";
document.querySelectorAll("[data-copy]").forEach(function (el) {
  if (!navigator.clipboard) {
    return;
  }
  var button = document.createElement("button");
  button.type = "button";
  button.className = "copy";
  button.textContent = "Copy";
  button.setAttribute("aria-label", "Copy " + (el.getAttribute("data-copy") || "the text"));
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(el.textContent.trim()).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    });
  });
  el.insertAdjacentElement("afterend", button);
});
