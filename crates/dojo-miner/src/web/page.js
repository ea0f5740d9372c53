// Shows each slider's value next to it; the form works without this script.
document.addEventListener('input', function (e) {
  var t = e.target;
  if (t && t.type === 'range') {
    var out = document.querySelector('output[data-for="' + t.id + '"]');
    if (out) { out.textContent = t.value; }
  }
});

// Reads a chosen page file into the textarea it names; pasting works without this script.
document.addEventListener('change', function (e) {
  var t = e.target;
  if (t && t.type === 'file' && t.dataset.into && t.files && t.files[0]) {
    var area = document.getElementById(t.dataset.into);
    var reader = new FileReader();
    reader.onload = function () { if (area) { area.value = reader.result; } };
    reader.readAsText(t.files[0]);
  }
});
