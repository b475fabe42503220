"""What users take away from a run: screen time, timelines, annotated video and photos, and
the photos of one person in a library. Everything here reads result records (docs/results.md)."""
