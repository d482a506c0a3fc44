"""The medical record: its sections, lab results and their trends, signed extracts."""
