// The jobs table (#runs) polls every 15 s. Skip a poll while the keyboard is in the table or
// an error list is open, so a refresh never takes the focus or closes what someone reads.
// A script file rather than an hx-trigger filter: filters are evaluated as strings, which the
// console's Content-Security-Policy (script-src 'self', no 'unsafe-eval') refuses.
document.addEventListener("htmx:beforeRequest", function (event) {
  var runs = document.getElementById("runs");
  if (!runs || event.detail.elt !== runs) return;
  if (runs.contains(document.activeElement) || runs.querySelector("details[open]")) {
    event.preventDefault();
  }
});
