// Shows each slider's value next to it; the form works without this script.
document.addEventListener('input', function (e) {
  var t = e.target;
  if (t && t.type === 'range') {
    var out = document.querySelector('output[data-for="' + t.id + '"]');
    if (out) { out.textContent = t.value; }
  }
});
