"""«Моя медкарта»: the record's sections, lab results, extracts."""
