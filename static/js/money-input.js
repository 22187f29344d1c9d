// Money inputs (core.forms.MoneyField) show thousands separators: "2500000" reads back as "2,500,000" once the
// person leaves the field. The server accepts either form; what cannot be read as a number is left as typed.
(function () {
  "use strict";

  function grouped(text) {
    var plain = text.replace(/[,\s_]/g, "");
    if (!/^-?\d+(\.\d*)?$/.test(plain)) return text;
    var parts = plain.split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.length > 1 && parts[1] !== "" ? whole + "." + parts[1] : whole;
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches && input.matches("input[data-money]") && input.value) input.value = grouped(input.value);
  });
})();
