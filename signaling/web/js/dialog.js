// A modal confirmation built on <dialog> (native confirm() is not styleable, and test drivers
// dismiss it): focus starts on Cancel and returns to the opener.

const $ = (id) => document.getElementById(id);

/** Resolves false (cancelled), true, or the typed reason when opts.reason. */
export function confirmDialog({ title, text, ok, reason = false }) {
  const dlg = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  $('confirm-reason-row').hidden = !reason;
  $('confirm-reason').value = '';
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      if (opener && opener.isConnected) opener.focus();
      if (dlg.returnValue !== 'ok') resolve(false);
      else resolve(reason ? $('confirm-reason').value : true);
    }, { once: true });
    dlg.returnValue = '';
    dlg.showModal();
    $('confirm-cancel').focus();
  });
}
