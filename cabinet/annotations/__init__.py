"""Members' annotations on documents: pen strokes, highlights and notes (issue 4, part 5)."""
