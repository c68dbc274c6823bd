// Gatehouse's only script: it runs the WebAuthn ceremony of a form marked
// data-webauthn="create" (register a security key or passkey) or "get" (use
// one). The options come from the page, in data-options; the browser's
// answer goes into the form's hidden "response" field as JSON, and the form
// is posted as any other. Nothing is fetched and nothing runs inline.
(function () {
  "use strict";

  function fromB64url(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeIDs(list) {
    (list || []).forEach(function (c) { c.id = fromB64url(c.id); });
  }

  // publicKey turns the JSON options into what navigator.credentials takes.
  function publicKey(mode, o) {
    o.challenge = fromB64url(o.challenge);
    if (mode === "create") {
      o.user.id = fromB64url(o.user.id);
      decodeIDs(o.excludeCredentials);
    } else {
      decodeIDs(o.allowCredentials);
    }
    return o;
  }

  // credentialJSON is the credential as PublicKeyCredential.toJSON() gives
  // it, written out for browsers that lack toJSON.
  function credentialJSON(c) {
    var r = c.response;
    var out = {
      id: c.id,
      rawId: toB64url(c.rawId),
      type: c.type,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64url(r.clientDataJSON) }
    };
    if (c.authenticatorAttachment) out.authenticatorAttachment = c.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
    }
    return out;
  }

  function showError(form, message) {
    var el = form.querySelector(".webauthn-error");
    if (!el) return;
    el.textContent = message;
    el.hidden = false;
  }

  function run(form, button) {
    var mode = form.getAttribute("data-webauthn");
    var options;
    try {
      options = publicKey(mode, JSON.parse(form.getAttribute("data-options")));
    } catch (e) {
      showError(form, "This page is damaged. Reload it and try again.");
      return;
    }
    button.disabled = true;
    var ask = mode === "create" ?
      navigator.credentials.create({ publicKey: options }) :
      navigator.credentials.get({ publicKey: options });
    ask.then(function (credential) {
      form.elements.response.value = JSON.stringify(credentialJSON(credential));
      form.submit();
    }, function (err) {
      button.disabled = false;
      showError(form, err && err.name === "InvalidStateError" ?
        "This security key or passkey is already registered." :
        "The browser did not get a security key or passkey. Try again, or use another way.");
    });
  }

  var forms = document.querySelectorAll("form[data-webauthn]");
  Array.prototype.forEach.call(forms, function (form) {
    var button = form.querySelector("button[type=submit]");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showError(form, "This browser cannot use security keys or passkeys.");
      if (button) button.disabled = true;
      return;
    }
    form.addEventListener("submit", function (event) {
      if (form.elements.response.value) return;
      event.preventDefault();
      run(form, button);
    });
  });
})();
