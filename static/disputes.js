// The dispute queue (#dispute-queue) polls every minute. Skip a poll while a manager is
// choosing: a box is ticked, the keyboard is in the queue, or a confirmation step is showing,
// so a refresh never unticks what they picked nor takes the question away.
// A script file rather than an hx-trigger filter: the console's Content-Security-Policy
// (script-src 'self', no 'unsafe-eval') refuses filters, which htmx evaluates as strings.
document.addEventListener("htmx:beforeRequest", function (event) {
  var queue = document.getElementById("dispute-queue");
  if (!queue || event.detail.elt !== queue) return;
  if (queue.querySelector("input[type=checkbox]:checked") || queue.querySelector(".confirm") ||
      queue.contains(document.activeElement)) {
    event.preventDefault();
  }
});
