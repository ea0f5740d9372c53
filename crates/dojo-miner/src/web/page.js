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

// Rankings: the list's order is the ranking (best first). Items move by drag and drop, by
// Alt+ArrowUp / Alt+ArrowDown on a focused item, or by their up/down buttons; each move rewrites
// the rank inputs, which are what the form submits. Without this script the worker types the
// ranks into those inputs instead.
(function () {
  var lists = document.querySelectorAll('ol.rank-list');
  if (!lists.length) { return; }
  function renumber(list) {
    var items = list.querySelectorAll('li.rank-item');
    for (var i = 0; i < items.length; i++) {
      var input = items[i].querySelector('input.rank-input');
      if (input) { input.value = String(i + 1); }
      items[i].setAttribute('aria-posinset', String(i + 1));
    }
    var status = list.parentNode.querySelector('.rank-status');
    if (status) {
      var names = [];
      for (var j = 0; j < items.length; j++) { names.push(items[j].dataset.name); }
      status.textContent = 'Order: ' + names.join(', ');
    }
  }
  function move(item, by) {
    var list = item.parentNode;
    if (by < 0 && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (by > 0 && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    } else {
      return;
    }
    renumber(list);
  }
  var dragged = null;
  Array.prototype.forEach.call(lists, function (list) {
    // The list is the source of truth once the script runs: the inputs only carry its order.
    Array.prototype.forEach.call(list.querySelectorAll('input.rank-input'), function (input) {
      input.readOnly = true;
      input.tabIndex = -1;
    });
    list.classList.add('js');
    list.addEventListener('keydown', function (e) {
      var item = e.target.closest && e.target.closest('li.rank-item');
      if (!item || !e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) { return; }
      e.preventDefault();
      move(item, e.key === 'ArrowUp' ? -1 : 1);
      item.focus();
    });
    list.addEventListener('click', function (e) {
      var button = e.target.closest && e.target.closest('button[data-move]');
      if (!button) { return; }
      var item = button.closest('li.rank-item');
      move(item, button.dataset.move === 'up' ? -1 : 1);
      button.focus();
    });
    list.addEventListener('dragstart', function (e) {
      dragged = e.target.closest && e.target.closest('li.rank-item');
      if (!dragged) { return; }
      dragged.classList.add('dragging');
      if (e.dataTransfer) {
        e.dataTransfer.effectAllowed = 'move';
        e.dataTransfer.setData('text/plain', dragged.dataset.name || '');
      }
    });
    list.addEventListener('dragover', function (e) {
      var over = e.target.closest && e.target.closest('li.rank-item');
      if (!dragged || !over || over.parentNode !== dragged.parentNode) { return; }
      e.preventDefault();
      if (over === dragged) { return; }
      var box = over.getBoundingClientRect();
      var after = e.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextElementSibling : over);
    });
    list.addEventListener('drop', function (e) {
      if (dragged) { e.preventDefault(); }
    });
    list.addEventListener('dragend', function () {
      if (!dragged) { return; }
      dragged.classList.remove('dragging');
      renumber(dragged.parentNode);
      dragged = null;
    });
    renumber(list);
  });
})();
