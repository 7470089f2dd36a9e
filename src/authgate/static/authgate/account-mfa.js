/**
 * account-mfa.js — the account page's second factors, on top of authgate.js:
 *   - the "Two-step verification" card: the factors that are on, TOTP set-up (QR code,
 *     first code), passkeys and security keys added and removed, recovery codes shown once
 *     (copy / download) and renewed;
 *   - "Sign in with a passkey" on the sign-in form;
 *   - the second step of a sign-in (code, recovery code, or the key) and "confirm it's you"
 *     before a sensitive action (withReauth), in one dialog.
 * account.js creates it with its message helpers; nothing here keeps a token or a code
 * beyond the moment it is shown.
 */

const $ = (sel, root = document) => root.querySelector(sel);

const TYPE_LABEL = { totp: "Authenticator app", webauthn: "Passkey or security key" };

/** An Error for a prompt the person closed: callers show nothing. */
function cancelled() {
  const err = new Error("Cancelled.");
  err.code = "cancelled";
  return err;
}

export function createMfaUi({ client, showMessage, clearMessage, describeError, busy, showThrottled, device }) {
  const el = {
    card: $("#mfa"),
    methods: $("#mfa-methods"),
    none: $("#mfa-none"),
    recoveryLeft: $("#mfa-recovery-left"),
    totpSetup: $("#totp-setup"),
    totpForm: $("#totp-form"),
    totpQr: $("#totp-qr"),
    totpSecret: $("#totp-secret"),
    totpCancel: $("#totp-cancel"),
    passkeyAdd: $("#passkey-add"),
    passkeyForm: $("#passkey-form"),
    passkeyCancel: $("#passkey-cancel"),
    passkeyLogin: $("#passkey-login"),
    regenerate: $("#recovery-regenerate"),
    codes: $("#recovery-codes"),
    codesList: $("#recovery-list"),
    codesCopy: $("#recovery-copy"),
    codesDownload: $("#recovery-download"),
    codesDone: $("#recovery-done"),
    dialog: $("#mfa-dialog"),
    stepForm: $("#mfa-step-form"),
    stepTitle: $("#mfa-step-title"),
    stepText: $("#mfa-step-text"),
    stepError: $("#mfa-step-error"),
    useKey: $("#mfa-use-key"),
    stepCancel: $("#mfa-cancel"),
  };
  const webauthnAvailable = typeof globalThis.PublicKeyCredential === "function"
    && typeof globalThis.PublicKeyCredential.parseRequestOptionsFromJSON === "function";
  el.passkeyLogin.hidden = !webauthnAvailable;
  el.passkeyAdd.hidden = !webauthnAvailable;

  let shownCodes = [];

  // ---- the card ------------------------------------------------------------------------
  function methodItem(m) {
    const li = document.createElement("li");
    li.className = "mfa-method";
    li.dataset.type = m.type;
    li.dataset.id = m.id;
    li.dataset.testid = "mfa-method";
    const text = document.createElement("div");
    const name = document.createElement("strong");
    name.textContent = m.type === "totp" ? TYPE_LABEL.totp : (m.name || TYPE_LABEL.webauthn);
    const meta = document.createElement("span");
    const added = new Date(m.created_at).toLocaleDateString();
    const used = m.last_used_at ? `last used ${new Date(m.last_used_at).toLocaleString()}` : "not used yet";
    meta.textContent = `${m.type === "totp" ? "" : `${TYPE_LABEL[m.type] || m.type} · `}added ${added}, ${used}`;
    meta.className = "muted mfa-meta";
    text.append(name, meta);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn btn-small btn-danger-outline";
    remove.textContent = m.type === "totp" ? "Turn off" : "Remove";
    remove.dataset.testid = "mfa-remove";
    remove.setAttribute("aria-label", `${remove.textContent}: ${name.textContent}`);
    li.append(text, remove);
    return li;
  }

  function render(status) {
    const methods = status.methods || [];
    el.methods.replaceChildren(...methods.map(methodItem));
    el.none.hidden = methods.length > 0;
    el.totpSetup.hidden = methods.some((m) => m.type === "totp");
    el.regenerate.hidden = methods.length === 0;
    el.recoveryLeft.hidden = methods.length === 0;
    el.recoveryLeft.textContent = `Recovery codes left: ${status.recovery_codes_remaining}.`;
    el.recoveryLeft.dataset.remaining = String(status.recovery_codes_remaining);
    el.card.dataset.factors = String(methods.length);
  }

  async function load() {
    try {
      const status = await client.mfaStatus();
      if (client.isAuthenticated()) render(status);
    } catch (err) {
      if (client.isAuthenticated() && err.status !== 404) showMessage(describeError(err), "error", err.code);
    }
  }

  function reset() {
    el.methods.replaceChildren();
    for (const panel of [el.totpForm, el.passkeyForm, el.codes]) panel.hidden = true;
    el.codesList.replaceChildren();
    shownCodes = [];
    if (el.dialog.open) el.dialog.close();
  }

  function showCodes(codes) {
    shownCodes = codes;
    el.codesList.replaceChildren(...codes.map((c) => {
      const li = document.createElement("li");
      li.textContent = c;
      return li;
    }));
    el.codes.hidden = false;
    el.codesDone.focus();
  }

  // ---- second step and "confirm it's you" ----------------------------------------------
  /** Shows the dialog until `submit(proof)` succeeds (resolves with its result) or the
   *  person cancels (rejects with code "cancelled"). `challenge`: {methods, webauthn?}. */
  function askSecondFactor(challenge, { title, text, submit }) {
    el.stepTitle.textContent = title;
    el.stepText.textContent = text;
    el.stepError.hidden = true;
    el.useKey.hidden = !(challenge.webauthn && webauthnAvailable);
    const input = el.stepForm.elements.namedItem("code");
    input.value = "";
    return new Promise((resolve, reject) => {
      const fail = (err) => {
        if (err.code === "webauthn_cancelled") return; // prompt closed: try again or use a code
        if (err.status === 429) {
          el.dialog.close();
          cleanup();
          showThrottled(err, null);
          reject(cancelled());
          return;
        }
        if (err.code === "mfa_token_invalid") {
          el.dialog.close();
          cleanup();
          showMessage(describeError(err), "warning", err.code);
          reject(cancelled());
          return;
        }
        el.stepError.textContent = describeError(err);
        el.stepError.dataset.code = err.code || "";
        el.stepError.hidden = false;
      };
      const attempt = async (button, proof) => busy(button, async () => {
        try {
          const result = await submit(proof);
          el.dialog.close();
          cleanup();
          resolve(result);
        } catch (err) {
          fail(err);
        }
      });
      const onSubmit = (ev) => {
        ev.preventDefault();
        const code = input.value.trim();
        if (!code) {
          fail({ message: "Enter a code." });
          return;
        }
        attempt(ev.submitter || el.stepForm.querySelector("[type=submit]"), { code });
      };
      const onKey = () => attempt(el.useKey, { publicKey: challenge.webauthn.publicKey });
      const onCancel = () => {
        el.dialog.close();
        cleanup();
        reject(cancelled());
      };
      const onEscape = (ev) => {
        ev.preventDefault();
        onCancel();
      };
      function cleanup() {
        el.stepForm.removeEventListener("submit", onSubmit);
        el.useKey.removeEventListener("click", onKey);
        el.stepCancel.removeEventListener("click", onCancel);
        el.dialog.removeEventListener("cancel", onEscape);
      }
      el.stepForm.addEventListener("submit", onSubmit);
      el.useKey.addEventListener("click", onKey);
      el.stepCancel.addEventListener("click", onCancel);
      el.dialog.addEventListener("cancel", onEscape);
      el.dialog.showModal();
      (el.useKey.hidden ? input : el.useKey).focus();
    });
  }

  /** The second step of a sign-in (after AuthError "mfa_required"). */
  function completeLogin(challenge) {
    return askSecondFactor(challenge, {
      title: "Two-step verification",
      text: challenge.webauthn
        ? "Use your passkey or security key, or enter a code from your authenticator app or a recovery code."
        : "Enter the code from your authenticator app, or one of your recovery codes.",
      submit: (proof) => client.verifyMfa({ mfa_token: challenge.mfa_token, ...proof }),
    });
  }

  /** Runs `action`; if it needs a recent second-factor proof, asks for one and runs it again. */
  async function withReauth(action) {
    try {
      return await action();
    } catch (err) {
      if (err.code !== "reauthentication_required") throw err;
      await askSecondFactor(err.body || {}, {
        title: "Confirm it's you",
        text: "This change needs your second step again: use your passkey or security key, or enter a code.",
        submit: (proof) => client.reauthenticate(proof),
      });
      return action();
    }
  }

  // ---- events --------------------------------------------------------------------------
  const report = (err) => {
    if (err.code === "cancelled" || err.code === "webauthn_cancelled" || !client.isAuthenticated()) return;
    if (err.status === 429) showThrottled(err, null);
    else showMessage(describeError(err), "error", err.code);
  };

  el.totpSetup.addEventListener("click", () => busy(el.totpSetup, async () => {
    try {
      const setup = await client.setupTotp();
      el.totpQr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr_svg)}`;
      el.totpSecret.textContent = setup.secret;
      el.totpForm.hidden = false;
      el.totpForm.elements.namedItem("code").focus();
    } catch (err) {
      report(err);
    }
  }));
  el.totpCancel.addEventListener("click", () => { el.totpForm.hidden = true; el.totpForm.reset(); });
  el.totpForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const submit = el.totpForm.querySelector("[type=submit]");
    const slot = el.totpForm.querySelector('[data-error-for="code"]');
    slot.textContent = "";
    const code = el.totpForm.elements.namedItem("code").value.trim();
    await busy(submit, async () => {
      try {
        const { recovery_codes } = await client.confirmTotp({ code });
        el.totpForm.hidden = true;
        el.totpForm.reset();
        showMessage("The authenticator app is on: sign-ins now ask for its code.", "success", "totp_enabled");
        showCodes(recovery_codes);
        await load();
      } catch (err) {
        if (err.code === "invalid_code") slot.textContent = "That code is not right. Enter the code the app shows now.";
        else report(err);
      }
    });
  });

  el.passkeyAdd.addEventListener("click", () => {
    el.passkeyForm.hidden = false;
    el.passkeyForm.elements.namedItem("name").value = device || "";
    el.passkeyForm.elements.namedItem("name").focus();
  });
  el.passkeyCancel.addEventListener("click", () => { el.passkeyForm.hidden = true; });
  el.passkeyForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const submit = el.passkeyForm.querySelector("[type=submit]");
    const name = el.passkeyForm.elements.namedItem("name").value.trim();
    await busy(submit, async () => {
      try {
        const added = await withReauth(() => client.addPasskey({ name }));
        el.passkeyForm.hidden = true;
        showMessage(`“${added.name}” is added: use it to sign in without a password, or as your second step.`, "success", "passkey_added");
        if (added.recovery_codes) showCodes(added.recovery_codes);
        await load();
      } catch (err) {
        report(err);
      }
    });
  });

  el.methods.addEventListener("click", async (ev) => {
    const button = ev.target.closest("[data-testid=mfa-remove]");
    if (!button) return;
    const item = button.closest("li");
    await busy(button, async () => {
      try {
        if (item.dataset.type === "totp") await withReauth(() => client.disableTotp());
        else await withReauth(() => client.removePasskey(item.dataset.id));
        showMessage(item.dataset.type === "totp" ? "The authenticator app is off." : "The key is removed.", "success", "factor_removed");
        await load();
      } catch (err) {
        report(err);
      }
    });
  });

  el.regenerate.addEventListener("click", () => busy(el.regenerate, async () => {
    try {
      const { recovery_codes } = await withReauth(() => client.regenerateRecoveryCodes());
      showMessage("New recovery codes: the old ones no longer work.", "success", "codes_regenerated");
      showCodes(recovery_codes);
      await load();
    } catch (err) {
      report(err);
    }
  }));

  el.codesCopy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(shownCodes.join("\n"));
      showMessage("Recovery codes copied.", "success", "codes_copied");
    } catch (_) {
      showMessage("Copying is not allowed here: select the codes, or download them.", "warning", "copy_failed");
    }
  });
  el.codesDownload.addEventListener("click", () => {
    const user = client.getUser();
    const text = `Recovery codes${user ? ` for ${user.username}` : ""} (${location.host}). Each works once.\n\n${shownCodes.join("\n")}\n`;
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `recovery-codes-${location.hostname}.txt`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  });
  el.codesDone.addEventListener("click", () => {
    el.codes.hidden = true;
    el.codesList.replaceChildren();
    shownCodes = [];
  });

  el.passkeyLogin.addEventListener("click", () => busy(el.passkeyLogin, async () => {
    try {
      clearMessage();
      await client.loginWithPasskey({ device });
    } catch (err) {
      if (err.code === "webauthn_cancelled") return;
      if (err.status === 429) showThrottled(err, el.passkeyLogin);
      else showMessage(err.code === "invalid_credentials" ? "This passkey could not sign you in." : describeError(err), "error", err.code);
    }
  }));

  return { load, reset, completeLogin, withReauth };
}
