"""Form fields of the budget admin: alert thresholds typed as numbers, not JSON."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms

MAX_THRESHOLD = Decimal(1000)


class ThresholdsField(forms.CharField):
    """"50, 80, 90, 100" (a % sign is fine) <-> [50, 80, 90, 100]: sorted, each once; empty: no alerts."""

    default_error_messages = {
        "invalid": "Write percentages separated by commas, e.g. 50, 80, 90, 100.",
        "range": "Each threshold is more than 0 and at most 1000 (percent of the limit).",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Alert when spend reaches these percentages of the limit, e.g. "
                                       "50, 80, 90, 100. Leave empty for no threshold alerts.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(f"{Decimal(str(v)).normalize():f}" for v in value)
        return value

    def to_python(self, value) -> list[int | float]:
        text = super().to_python(value) or ""
        found: set[Decimal] = set()
        for part in text.replace(";", ",").split(","):
            part = part.strip().rstrip("%").strip()
            if not part:
                continue
            try:
                number = Decimal(part)
            except InvalidOperation as exc:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
            if not number.is_finite() or not 0 < number <= MAX_THRESHOLD:
                raise forms.ValidationError(self.error_messages["range"], code="range")
            found.add(number)
        # Whole percentages are stored as ints (the JSON the API shows); fractions as floats.
        return [int(n) if n == n.to_integral_value() else float(n) for n in sorted(found)]
